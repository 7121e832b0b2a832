"""The command palette entries: switch rubric, blind/audit mode, jump to item, statistics."""

from __future__ import annotations

import pytest

from reviewer.tui.screens.dialogs import JumpDialog
from reviewer.tui.screens.help import HelpScreen
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


def titles(app):
    return [c.title for c in app.get_system_commands(app.screen)]


async def test_palette_offers_the_labeler_commands(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        found = titles(app)
        for title in (
            "Switch rubric: compliance",
            "Audit mode (blind off)",
            "Jump to item",
            "Statistics",
            "Show keys",
        ):
            assert title in found
        app.toggle_blind()
        await settle(app, pilot)
        assert "Blind mode" in titles(app)


async def test_switching_to_compliance_uses_its_keys(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.switch_rubric("compliance")
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        await pilot.press("y", "2", "enter")
        await settle(app, pilot)
        (event,) = filled.current_labels(rater="alice", transcript_ids=[tid])
        assert (event.rubric_id, event.field, event.value) == (
            "compliance",
            "compliance",
            "partial",
        )
        assert event.rubric_hash == app.rubric.content_hash
        assert [r["rubric_id"] for r in filled.rubric_versions("compliance")] == ["compliance"]


async def test_jump_to_item_and_help(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.label_screen.jump()
        await settle(app, pilot)
        assert isinstance(app.screen, JumpDialog)
        await pilot.press("7", "enter")
        await settle(app, pilot)
        assert app.label_screen.bundle.id == 7
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.label_screen


async def test_statistics_entry_opens_the_stats_screen_when_present(make_app):
    import importlib.util

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_stats()
        await settle(app, pilot)
        if importlib.util.find_spec("reviewer.tui.screens.stats") is None:
            assert app.screen is app.label_screen
            assert any("not available" in str(n.message) for n in app._notifications)
        else:
            assert type(app.screen).__name__ == "StatsScreen"
