"""Blind first, then reveal: nothing of anyone else's shows before the annotator commits."""

from __future__ import annotations

import pytest

from db import Store
from db.labels import record_meta
from reviewer.tui.widgets.panels import SidePanel
from tests.factory import CLASSIFIER, CLASSIFIER_REASON, label, labeler_transcript
from tests.tui.conftest import screen_text, settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

HIDDEN_MARKERS = (CLASSIFIER, CLASSIFIER_REASON, "votes", "Revealed labels")


async def test_nothing_is_revealed_before_commit(make_app, filled):
    label(filled, 2, "no", source="human", rater="bob", phase="blind")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        for item in range(4):
            assert screen.mode == "BLIND"
            assert screen.bundle.others is None, "others' labels were read before commit"
            text = screen_text(app)
            for marker in (*HIDDEN_MARKERS, "bob"):
                assert marker not in text
            assert not screen.query_one(SidePanel).revealed
            assert "Other labels stay hidden" in screen.query_one(SidePanel).text()
            await pilot.press("s")
            await settle(app, pilot)
            assert screen.bundle is not None, f"queue ended after {item} skips"


async def test_commit_freezes_blind_label_and_reveals(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        await pilot.press("n", "1", "3", "enter")
        await settle(app, pilot)
        assert screen.mode == "REVEALED" and screen.bundle.id == tid
        text = screen_text(app)
        assert CLASSIFIER in text and CLASSIFIER_REASON in text and "votes" in text
        blind = filled.current_labels(rater="alice", phase="blind")
        assert {(e.field, str(e.value)) for e in blind} == {
            ("alignment_faking", "no"),
            ("motivation", "['rater_sycophancy', 'terminal_goal_guarding']"),
        }
        assert all(e.seconds is not None and e.seconds > 0 for e in blind)
        blind_ids = sorted(e.id for e in blind)

        # Revise after seeing the classifier: a 'revealed' label, the blind one untouched.
        await pilot.press("y", "1", "enter")
        await settle(app, pilot)
        assert screen.bundle.id != tid, "a revision moves on to the next item"
        revised = filled.current_labels(rater="alice", phase="revealed", transcript_ids=[tid])
        assert {e.field: e.value for e in revised} == {
            "alignment_faking": "yes",
            "motivation": ["rater_sycophancy"],
        }
        blind_after = filled.current_labels(rater="alice", phase="blind", transcript_ids=[tid])
        assert sorted(e.id for e in blind_after) == blind_ids
        assert {e.field: e.value for e in blind_after}["alignment_faking"] == "no"

        # Undo takes back the revision, then refuses to reopen the frozen blind label.
        await pilot.press("u")
        await settle(app, pilot)
        assert screen.bundle.id == tid and screen.mode == "REVEALED"
        assert filled.current_labels(rater="alice", phase="revealed") == []
        await pilot.press("u")
        await settle(app, pilot)
        assert "frozen" in screen.note
        assert (
            sorted(e.id for e in filled.current_labels(rater="alice", phase="blind")) == blind_ids
        )
        # A later commit on the same item can only be a revision.
        await pilot.press("y", "enter")
        await settle(app, pilot)
        labels = filled.current_labels(rater="alice", transcript_ids=[tid])
        assert {e.phase for e in labels if not e.field.startswith("_")} == {"blind", "revealed"}


async def test_without_other_labels_the_blind_label_stays_undoable(make_app, tmp_path):
    store = Store(tmp_path / "unlabeled.db")
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(3)])
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        first = screen.bundle.id
        await pilot.press("y", "enter")
        await settle(app, pilot)
        assert screen.bundle.id != first, "nothing to reveal: the app moves straight on"
        assert [e.field for e in store.events(rater="alice")] == ["alignment_faking", "motivation"]
        await pilot.press("u")
        await settle(app, pilot)
        assert screen.bundle.id == first and screen.mode == "BLIND"
        assert store.current_labels(rater="alice") == []
        assert screen.draft.values["alignment_faking"] == "yes", "undo gives the choice back"


async def test_audit_mode_shows_labels_and_never_records_blind(make_app, filled):
    app = make_app(blind=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        assert screen.mode == "AUDIT"
        assert CLASSIFIER in screen_text(app) and "AUDIT" in screen_text(app)
        reveals = [e for e in filled.events(rater="alice") if e.field == "_reveal"]
        assert [e.transcript_id for e in reveals] == [tid]
        await pilot.press("y", "enter")
        await settle(app, pilot)
        labels = filled.current_labels(rater="alice", transcript_ids=[tid])
        assert {e.phase for e in labels if not e.field.startswith("_")} == {"revealed"}
        assert screen.bundle.id != tid


async def test_an_item_seen_in_audit_mode_cannot_get_a_blind_label(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        app.toggle_blind()
        await settle(app, pilot)
        assert screen.mode == "AUDIT" and screen.bundle.others
        app.toggle_blind()
        await settle(app, pilot)
        assert screen.mode == "REVEALED", "after a peek the item is no longer blind"
        await pilot.press("n", "enter")
        await settle(app, pilot)
        labels = filled.current_labels(rater="alice", transcript_ids=[tid])
        assert {e.phase for e in labels if not e.field.startswith("_")} == {"revealed"}


async def test_queue_without_blind_opens_in_audit_mode(make_app, filled):
    with filled.transaction() as db:
        db.conn.execute(
            "INSERT INTO queues(name, kind, rubric_id, blind, created_at) "
            "VALUES ('audit', 'disagreement', 'goal_guarding', 0, 'now')"
        )
        db.conn.execute(
            "INSERT INTO assignments(queue, annotator, transcript_id, position, reason, "
            "created_at) VALUES ('audit', '', 5, 0, 'disagreement', 'now')"
        )
    record_meta(
        filled, 5, annotator="zed", rubric_id="goal_guarding", rubric_hash=None, kind="_flag"
    )
    app = make_app(queue="audit")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.label_screen.mode == "AUDIT"
        assert app.label_screen.bundle.id == 5
        assert CLASSIFIER in screen_text(app)
