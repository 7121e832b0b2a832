"""Keys typed faster than the database answers act on the item they were typed for."""

from __future__ import annotations

import time

import pytest

from db import Store
from reviewer.tui.messages import ItemLoaded
from reviewer.tui.screens.dialogs import CommentDialog
from tests.factory import labeler_transcript
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


@pytest.fixture
def slow_reads(monkeypatch):
    """Every item read takes 150 ms, as on a busy disk: keys arrive before the item does."""
    from reviewer.tui.screens import labeling

    real = labeling.load_bundle

    def slow(*args, **kwargs):
        time.sleep(0.15)
        return real(*args, **kwargs)

    monkeypatch.setattr(labeling, "load_bundle", slow)


def human(store: Store, rater: str = "alice") -> list[tuple[int, str, object, str | None]]:
    return [
        (e.transcript_id, e.field, e.value, e.phase)
        for e in store.current_labels(rater=rater)
        if e.field != "_reveal"
    ]


async def test_keys_typed_while_the_next_item_loads_go_to_it(make_app, filled, slow_reads):
    """The new-user trial: n enter (blind label, reveal), then enter y enter in one burst."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("n", "enter", "enter", "y", "enter")
        await settle(app, pilot)
        second = screen.bundle.id
        assert second != first
        assert sorted(human(filled)) == sorted(
            [
                (first, "alignment_faking", "no", "blind"),
                (first, "motivation", [], "blind"),
                (second, "alignment_faking", "yes", "blind"),
                (second, "motivation", [], "blind"),
            ]
        )
        assert screen.mode == "REVEALED" and screen.bundle.id == second


def burst(app, *keys: str) -> None:
    """Keys as a terminal delivers them in one read: queued together, no pause between."""
    from textual.events import Key

    for key in keys:
        app.post_message(Key(key, "\r" if key == "enter" else key))


async def test_a_burst_read_at_once_keeps_its_order(make_app, filled):
    """The same trial with the burst queued at once (as tmux send-keys delivers it): the rubric
    key must not overtake the enter typed before it."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        burst(app, "n", "enter")
        await settle(app, pilot)
        assert screen.mode == "REVEALED" and screen.bundle.id == first
        burst(app, "enter", "y", "enter")
        await settle(app, pilot)
        second = screen.bundle.id
        assert second != first
        assert sorted(human(filled)) == sorted(
            [
                (first, "alignment_faking", "no", "blind"),
                (first, "motivation", [], "blind"),
                (second, "alignment_faking", "yes", "blind"),
                (second, "motivation", [], "blind"),
            ]
        )


async def test_every_act_in_a_burst_lands_on_its_own_item(make_app, tmp_path, slow_reads):
    """Commit, commit, flag, comment, skip typed without waiting: each on the item it was for."""
    store = Store(tmp_path / "plain.db")
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(6)])
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        order = [screen.bundle.id]
        await pilot.press("y", "enter", "n", "2", "enter", "f", "c")
        await settle(app, pilot)
        assert isinstance(app.screen, CommentDialog)
        order.append(screen.bundle.id)
        await pilot.press(*"late", "enter", "s", "y", "enter")
        await settle(app, pilot)
        events = [(e.transcript_id, e.field, e.value, e.note) for e in store.events(rater="alice")]
        labeled = [tid for tid, field, _, _ in events if field == "alignment_faking"]
        assert len(set(labeled)) == 3, events
        first, second, fourth = labeled
        third = next(tid for tid, field, _, _ in events if field == "_skip")
        assert len({first, second, third, fourth}) == 4
        assert events == [
            (first, "alignment_faking", "yes", None),
            (first, "motivation", [], None),
            (second, "alignment_faking", "no", None),
            (second, "motivation", ["instrumental_goal_guarding"], None),
            (third, "_flag", True, None),
            (third, "_comment", True, "late"),
            (third, "_skip", True, None),
            (fourth, "alignment_faking", "yes", None),
            (fourth, "motivation", [], None),
        ]
        assert order[1] == third
        # Undo typed in a burst walks back the newest acts, in order.
        await pilot.press("u", "u")
        await settle(app, pilot)
        assert [e.field for e in store.current_labels(rater="alice")] == [
            "alignment_faking",
            "motivation",
            "alignment_faking",
            "motivation",
            "_flag",
            "_comment",
        ]
        assert screen.bundle.id == third


async def test_an_act_for_an_item_no_longer_on_screen_is_refused(make_app, filled):
    """A comment typed for one item, submitted after another came on screen, is not stored."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("c")
        await settle(app, pilot)
        other = next(t for t in filled.transcript_ids() if t != first)
        screen.post_message(ItemLoaded(screen._load(other)))
        await settle(app, pilot)
        assert screen.bundle.id == other
        await pilot.press(*"for the first", "enter")
        await settle(app, pilot)
        assert [e for e in filled.events(rater="alice") if e.field == "_comment"] == []
        assert f"made for item #{first}" in screen.note and f"#{other} is on screen" in screen.note


async def test_a_burst_of_commits_flag_and_skip_read_at_once(make_app, tmp_path):
    store = Store(tmp_path / "plain.db")
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(6)])
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        burst(app, "y", "enter", "n", "enter", "f", "s", "y")
        await settle(app, pilot)
        events = [(e.transcript_id, e.field, e.value) for e in store.events(rater="alice")]
        first, second, third = events[0][0], events[2][0], events[4][0]
        assert len({first, second, third, app.label_screen.bundle.id}) == 4
        assert events == [
            (first, "alignment_faking", "yes"),
            (first, "motivation", []),
            (second, "alignment_faking", "no"),
            (second, "motivation", []),
            (third, "_flag", True),
            (third, "_skip", True),
        ]
        assert app.label_screen.draft.values == {"alignment_faking": "yes"}
