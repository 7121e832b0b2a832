"""Messages that workers post to the labeling screen: the only way results reach the UI."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from reviewer.tui.data import ItemBundle
from reviewer.tui.session import Job


class JobDone(Message):
    """A session job has run; ``outcome`` goes back to the session (None: nothing to apply,
    e.g. a failure, reported by its own ``DatabaseFailed``)."""

    def __init__(self, job: Job, outcome: Any) -> None:
        super().__init__()
        self.job = job
        self.outcome = outcome


class ItemLoaded(Message):
    """An item to show now (None: the queue is finished)."""

    def __init__(self, bundle: ItemBundle | None) -> None:
        super().__init__()
        self.bundle = bundle


class DatabaseFailed(Message):
    def __init__(self, action: str, error: str) -> None:
        super().__init__()
        self.action = action
        self.error = error


class DatabaseBusy(Message):
    """A write is waiting for another process's write lock (``seconds`` so far)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
