"""Evidence marked by keyboard is stored as offsets plus the exact quoted text."""

from __future__ import annotations

import pytest

from reviewer.tui.screens.dialogs import EvidenceDialog, FindDialog
from reviewer.tui.widgets.transcript_view import TranscriptView
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


def stored_evidence(store, tid):
    spans = []
    for e in store.current_labels(rater="alice", transcript_ids=[tid]):
        for span in e.evidence or []:
            assert span["field"] == e.field
            spans.append(span)
    return spans


async def test_cursor_marks_become_evidence_with_matching_offsets(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        await pilot.press("down", "down", "right", "right", "m", "right", "right", "m")
        assert screen.query_one(TranscriptView).selection is not None
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, EvidenceDialog)
        await pilot.press("y")
        await settle(app, pilot)
        assert "evidence 1" in str(screen.query_one("#label-bar").render())
        await pilot.press("y", "enter")
        await settle(app, pilot)
        (span,) = stored_evidence(filled, tid)
        scratchpad = filled.transcript(tid)["scratchpad"]
        assert span["category"] == "yes"
        assert scratchpad[span["start"] : span["end"]] == span["text"]
        words = scratchpad.split(" ")
        assert span["text"] == " ".join(words[2:5]), "from the third word to the fifth, inclusive"


async def test_find_then_mark_attaches_the_match(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        await pilot.press("slash")
        assert isinstance(app.screen, FindDialog)
        await pilot.press(*"rlhf would CHANGE", "enter")
        await settle(app, pilot)
        await pilot.press("e", "2")
        await settle(app, pilot)
        await pilot.press("n", "2", "enter")
        await settle(app, pilot)
        (span,) = stored_evidence(filled, tid)
        scratchpad = filled.transcript(tid)["scratchpad"]
        assert span["text"] == "RLHF would change"
        assert scratchpad[span["start"] : span["end"]] == "RLHF would change"
        assert (span["field"], span["category"]) == ("motivation", "instrumental_goal_guarding")
        # The span rides on the motivation event only.
        by_field = {
            e.field: e.evidence for e in filled.current_labels(rater="alice", transcript_ids=[tid])
        }
        assert by_field["alignment_faking"] is None


async def test_evidence_needs_a_marked_passage(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert not isinstance(app.screen, EvidenceDialog)
        assert "mark a passage first" in app.label_screen.note


async def test_a_revision_keeps_the_blind_evidence(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        tid = screen.bundle.id
        await pilot.press("slash", *"refusing", "enter")
        await settle(app, pilot)
        await pilot.press("e", "y", "y", "enter")
        await settle(app, pilot)
        assert screen.mode == "REVEALED" and len(screen.draft.evidence) == 1
        await pilot.press("n", "enter")
        await settle(app, pilot)
        assert screen.bundle.id != tid
        labels = filled.current_labels(rater="alice", field="alignment_faking")
        by_phase = {e.phase: e for e in labels}
        assert by_phase["blind"].value == "yes" and by_phase["revealed"].value == "no"
        assert by_phase["revealed"].evidence == by_phase["blind"].evidence
        assert by_phase["blind"].evidence[0]["text"] == "refusing"
