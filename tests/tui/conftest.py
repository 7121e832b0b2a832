from __future__ import annotations

import pytest

from db import Store
from reviewer.tui.app import LabelerApp, create_app


class FakeClock:
    """Advances a fixed step per reading: time spent is deterministic and never a wall clock."""

    def __init__(self, step: float = 2.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def make_app(filled: Store):
    def make(store: Store | None = None, **kwargs) -> LabelerApp:
        kwargs.setdefault("annotator", "alice")
        kwargs.setdefault("clock", FakeClock())
        return create_app(store or filled, **kwargs)

    return make


async def settle(app: LabelerApp, pilot) -> None:
    """Let every queued database job finish and the screen catch up."""
    for _ in range(2):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: LabelerApp) -> str:
    """Everything visible on the terminal, as plain text (from the SVG screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    body = svg.split("<g class", 1)[-1]
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    return text.replace("\xa0", " ")
