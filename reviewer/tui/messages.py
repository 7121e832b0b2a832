"""Messages that workers post to the labeling screen: the only way results reach the UI."""

from __future__ import annotations

from textual.message import Message

from db.labeling import LabelQueue
from db.labels import CommitResult, UndoResult
from reviewer.tui.data import ItemBundle


class QueueReady(Message):
    """The queue is open: where the annotator stands, and the first item to show."""

    def __init__(
        self, queue: LabelQueue, bundle: ItemBundle | None, empty_note: str | None = None
    ) -> None:
        super().__init__()
        self.queue = queue
        self.bundle = bundle
        self.empty_note = empty_note


class ItemLoaded(Message):
    """An item to show now (None: the queue is finished)."""

    def __init__(self, bundle: ItemBundle | None) -> None:
        super().__init__()
        self.bundle = bundle


class ItemPrefetched(Message):
    """The item after the current one, read ahead so that advancing is instant."""

    def __init__(self, after: int, bundle: ItemBundle | None) -> None:
        super().__init__()
        self.after = after
        self.bundle = bundle


class Committed(Message):
    """A label was stored; ``bundle`` is the item re-read with whatever may now be revealed."""

    def __init__(self, result: CommitResult, bundle: ItemBundle | None) -> None:
        super().__init__()
        self.result = result
        self.bundle = bundle


class ActRecorded(Message):
    """A skip, flag, comment or reveal was stored."""

    def __init__(self, kind: str, transcript_id: int, event_id: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.transcript_id = transcript_id
        self.event_id = event_id


class ActRefused(Message):
    """An act reached the worker for an item that is no longer on screen: nothing stored."""

    def __init__(self, kind: str, transcript_id: int, current_id: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.transcript_id = transcript_id
        self.current_id = current_id


class JobReleased(Message):
    """A job that the screen waits for (keys typed meanwhile are held) has finished."""


class Undone(Message):
    def __init__(self, result: UndoResult, bundle: ItemBundle | None) -> None:
        super().__init__()
        self.result = result
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


class Flushed(Message):
    """Every write queued before this one has finished."""
