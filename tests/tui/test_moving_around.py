"""Moving around as annotators expect: previous item, search and queue picker in the palette,
a quit that asks before dropping a choice, and a screen that fits 80x24."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reviewer.cli import cli
from reviewer.tui.screens.dialogs import ConfirmDialog, PickDialog, TextPrompt
from tests.tui.conftest import screen_text, settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


async def test_previous_item_shows_the_label_given(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("y", "enter", "enter")  # commit, past the reveal
        await settle(app, pilot)
        assert screen.bundle.id != first
        await pilot.press("p")
        await settle(app, pilot)
        assert screen.bundle.id == first and screen.mode == "REVEALED"
        assert screen.draft.values["alignment_faking"] == "yes", "the label you gave"


async def test_quit_asks_before_dropping_an_uncommitted_choice(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("y", "q")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(app, pilot)
        assert app.is_running and app.label_screen.note.startswith("not quitting")
        await pilot.press("q")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert not app.is_running
    assert [e for e in filled.events(rater="alice") if not e.field.startswith("_")] == []


async def test_search_from_the_palette_opens_a_hit(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert {"Search transcripts", "Switch queue"} <= {
            c.title for c in app.get_system_commands(app.screen)
        }
        app.search_transcripts()
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"item 7", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PickDialog)
        assert [key for key, _ in app.screen.choices] == ["8"], "fixture item 7 is id 8"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.label_screen.bundle.id == 8


async def test_the_queue_picker_switches_queue(make_app, filled):
    result = CliRunner().invoke(
        cli,
        ["--db", str(filled.path), *["queue", "create", "few", "--kind", "random", "--limit", "2"]],
    )
    assert result.exit_code == 0, result.output
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.pick_queue()
        await settle(app, pilot)
        assert [key for key, _ in app.screen.choices] == ["", "few"]
        await pilot.press("down", "enter")
        await settle(app, pilot)
        screen = app.label_screen
        assert app.queue_name == "few" and screen.queue.total == 2
        assert "queue: few (random)" in screen_text(app)


async def test_80x24_fits_the_status_bar_and_footer(make_app, filled):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        lines = screen_text(app).split("\n")
        footer = next(line for line in lines if "commit" in line and "quit" in line)
        assert "q quit" in footer and "^p palette" in footer
        bar = next(line for line in lines if "BLIND" in line)
        assert "alignment_faking" in bar and "motivation" in bar
        progress = next(line for line in lines if "done" in line and "pace" in line)
        assert "item #" in progress


async def test_comments_show_in_full_with_authors_others_only_after_the_reveal(make_app, filled):
    from db.labels import record_meta

    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        long_note = "bob's note: the decisive sentence is the last one of block two, read it " * 2
        record_meta(
            filled,
            tid,
            annotator="bob",
            rubric_id="goal_guarding",
            rubric_hash=app.rubric_hash,
            kind="_comment",
            note=long_note.strip(),
        )
        screen.reload_current()
        await settle(app, pilot)
        await pilot.press("c", *"mine", "enter")
        await settle(app, pilot)
        assert "bob's note" not in screen_text(app), "others' comments stay hidden while blind"
        await pilot.press("y", "enter")  # blind commit, then the reveal
        await settle(app, pilot)
        side = " ".join(line.split("│", 1)[-1] for line in screen_text(app).split("\n"))
        shown = " ".join(side.split())
        assert "Comments" in shown and "you mine" in shown
        assert f"bob {long_note.strip()}" in shown, "bob's comment in full, with its author"


async def test_80x24_help_reaches_every_key_of_the_rubric(make_app, filled):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        shown = " ".join(screen_text(app).split())
        for f in app.rubric.fields:
            for c in f.categories:
                assert f"{c.key} {f.id}:" in shown.replace("█", " ").replace("  ", " "), c.key
