"""Snapshots of the main screens at 120x40 on fixed data with a fake clock."""

from __future__ import annotations

import pytest

from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

SIZE = (120, 40)


@pytest.fixture
def app(make_app):
    return make_app()


def _before(*keys: str):
    async def run(pilot) -> None:
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot.app, pilot)

    return run


def test_blind_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("y", "2"))


def test_revealed_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("n", "1", "enter"))


def test_evidence_marked(snap_compare, app):
    keys = ("down", "down", "right", "m", "right", "right", "m", "e", "y")
    assert snap_compare(app, terminal_size=SIZE, run_before=_before(*keys))


def test_help_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("question_mark"))


def test_audit_screen(snap_compare, make_app):
    assert snap_compare(make_app(blind=False), terminal_size=SIZE, run_before=_before())


def test_highlighted_quotes(snap_compare, make_app):
    """Audit mode: the classifier's quote highlighted where it points, the cursor on it (])."""
    assert snap_compare(
        make_app(blind=False), terminal_size=SIZE, run_before=_before("bracketright")
    )
