"""Skip, flag, comment and the unlimited undo chain, checked in the database."""

from __future__ import annotations

import pytest

from reviewer.tui.screens.dialogs import CommentDialog
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


def live(store, rater="alice"):
    retracted = {e.retracts for e in store.events(rater=rater) if e.retracts}
    return [e for e in store.events(rater=rater) if e.retracts is None and e.id not in retracted]


async def test_skip_flag_comment_are_label_events(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("f")
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CommentDialog)
        await pilot.press(*"rubric unclear [bold]", "enter")
        await settle(app, pilot)
        bar = str(screen.query_one("#label-bar").render())
        assert "FLAGGED" in bar and "comments 1" in bar
        await pilot.press("s")
        await settle(app, pilot)
        second = screen.bundle.id
        assert second != first
        events = [(e.transcript_id, e.field, e.value, e.note) for e in live(filled)]
        assert events == [
            (first, "_flag", True, None),
            (first, "_comment", True, "rubric unclear [bold]"),
            (first, "_skip", True, None),
        ]
        skip = live(filled)[-1]
        assert skip.seconds is not None and skip.seconds > 0 and skip.rubric_id == "goal_guarding"
        # Flag again on the same item un-flags it.
        await pilot.press("f", "f")
        await settle(app, pilot)
        flags = [e.value for e in live(filled) if e.transcript_id == second and e.field == "_flag"]
        assert flags == [True, False]


async def test_undo_chain_walks_back_every_act(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("f", "s")
        await settle(app, pilot)
        second = screen.bundle.id
        await pilot.press("f", "s")
        await settle(app, pilot)
        third = screen.bundle.id
        assert len({first, second, third}) == 3
        assert len(live(filled)) == 4
        expected = [(second, "_skip"), (second, "_flag"), (first, "_skip"), (first, "_flag")]
        for tid, field in expected:
            before = {e.id for e in live(filled)}
            await pilot.press("u")
            await settle(app, pilot)
            after = {e.id for e in live(filled)}
            (gone,) = before - after
            undone = next(e for e in filled.events(rater="alice") if e.id == gone)
            assert (undone.transcript_id, undone.field) == (tid, field)
            assert screen.bundle.id == tid, "undo brings the item back on screen"
        assert live(filled) == []
        await pilot.press("u")
        await settle(app, pilot)
        assert "nothing left" in screen.note
        # Nothing was updated or deleted: four acts plus four retractions.
        assert len(filled.events(rater="alice")) == 8
        assert screen.queue.done == set()


async def test_undo_after_commit_undoes_every_field_of_it(make_app, tmp_path):
    from db import Store
    from tests.factory import labeler_transcript

    store = Store(tmp_path / "plain.db")
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(4)])
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("y", "2", "4", "enter")
        await settle(app, pilot)
        assert screen.bundle.id != first
        assert {e.field for e in live(store)} == {"alignment_faking", "motivation"}
        await pilot.press("u")
        await settle(app, pilot)
        assert live(store) == []
        assert screen.bundle.id == first
        assert screen.draft.values == {
            "alignment_faking": "yes",
            "motivation": ["instrumental_goal_guarding", "low_coherence"],
        }


async def test_undo_passes_over_a_frozen_blind_label(make_app, filled):
    """f, c, s on one item, a blind label on the next (frozen by the reveal), then u four
    times: the skip, comment and flag are undone; the blind label stays."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("f", "c")
        await settle(app, pilot)
        await pilot.press(*"why", "enter")
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        second = screen.bundle.id
        await pilot.press("y", "enter")
        await settle(app, pilot)
        assert screen.mode == "REVEALED" and screen.bundle.id == second
        undone = []
        for _ in range(3):
            before = {e.id for e in live(filled)}
            await pilot.press("u")
            await settle(app, pilot)
            (gone,) = before - {e.id for e in live(filled)}
            event = next(e for e in filled.events(rater="alice") if e.id == gone)
            undone.append((event.transcript_id, event.field))
            assert f"#{second} stays frozen" in screen.note
        assert undone == [(first, "_skip"), (first, "_comment"), (first, "_flag")]
        assert screen.bundle.id == first
        await pilot.press("u")
        await settle(app, pilot)
        assert "nothing left to undo" in screen.note and "frozen" in screen.note
        remaining = [(e.transcript_id, e.field, e.value) for e in live(filled)]
        assert remaining == [
            (second, "alignment_faking", "yes"),
            (second, "motivation", []),
            (second, "_reveal", True),
        ]
