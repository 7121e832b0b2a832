"""The labeling session without a screen: the labeler's rules, driven by a headless runner."""

from __future__ import annotations

import pytest

from db import Store
from db.labels import resolve_rubric
from reviewer.tui.session import (
    BLIND,
    REVEALED,
    HeadlessRunner,
    LabelSession,
    SessionSettings,
    evidence_spans,
)
from tests.factory import CLASSIFIER, fill, labeler_transcript


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 2.0
        return self.now


def start(store: Store, annotator: str = "alice", **kwargs) -> tuple[LabelSession, HeadlessRunner]:
    rubric = resolve_rubric(store, "goal_guarding")
    kwargs.setdefault("blind", True)
    settings = SessionSettings(store, annotator, rubric, clock=Clock(), **kwargs)
    session = LabelSession(settings)
    runner = HeadlessRunner(session)
    runner.start()
    return session, runner


def labels(store: Store, rater: str = "alice") -> list[tuple]:
    return sorted(
        (e.transcript_id, e.field, e.value, e.phase)
        for e in store.current_labels(rater=rater)
        if e.field != "_reveal"
    )


def test_blind_commit_reveals_then_enter_moves_on(store):
    fill(store, 6)
    session, runner = start(store)
    first = session.bundle.id
    assert session.mode == BLIND and session.bundle.others is None, "nothing shown before commit"
    assert session.prefetched is not None and session.prefetched.after == first
    runner.key("n")
    assert session.uncommitted
    runner.key("enter")
    assert labels(store) == [
        (first, "alignment_faking", "no", "blind"),
        (first, "motivation", [], "blind"),
    ]
    assert session.mode == REVEALED and session.bundle.id == first
    assert [e.rater for e in session.bundle.others] == [CLASSIFIER, CLASSIFIER]
    assert "frozen" in session.note and not session.uncommitted
    runner.key("enter")  # nothing changed: next item
    assert session.bundle.id != first and session.mode == BLIND
    assert session.session_items == 1


def test_a_commit_with_a_field_missing_says_which(store):
    fill(store, 3)
    session, runner = start(store)
    runner.key("enter")
    assert session.note.startswith("choose alignment_faking first")
    assert labels(store) == []


def test_keys_are_held_while_busy_and_replayed_in_order(store):
    fill(store, 3)
    session, _ = start(store)
    session.pending = 1  # a job in flight
    assert session.busy
    session.hold("y", "y")
    session.hold("enter", None)
    assert session.next_held() is None, "nothing replays while busy"
    assert "2 key(s) held" in session.note
    session.pending = 0
    assert session.next_held() == ("y", "y")
    assert session.next_held() == ("enter", None)
    assert session.next_held() is None


def test_which_acts_are_allowed(store):
    fill(store, 2)
    rubric = resolve_rubric(store, "goal_guarding")
    fresh = LabelSession(SessionSettings(store, "alice", rubric, blind=True, clock=Clock()))
    assert fresh.allowed() == {"undo", "quit", "find", "help"}, "no item yet"
    session, runner = start(store)
    assert {"commit", "skip", "flag", "comment", "evidence"} <= session.allowed()
    assert "reason" not in session.allowed(), "error reasons belong to an audit"
    runner.key("y")
    jobs = session.commit()
    assert "commit" not in session.allowed(), "no second commit while one is in flight"
    runner.run(jobs)
    assert "commit" in session.allowed()


def test_undo_brings_the_retracted_choice_back_into_the_draft(store):
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(3)])
    session, runner = start(store)
    first = session.bundle.id
    runner.key("y")
    runner.key("enter")  # nothing to reveal: moves on
    assert session.bundle.id != first
    assert "no classifier or other label to reveal" in session.note
    runner.key("u")
    assert session.bundle.id == first
    assert session.draft.values == {"alignment_faking": "yes", "motivation": []}
    assert session.note.startswith("undone: alignment_faking, motivation")
    assert labels(store) == []


def test_an_act_for_another_item_is_refused(store):
    fill(store, 3)
    session, runner = start(store)
    first = session.bundle.id
    jobs = session.meta("_comment", first, note="late")
    session.current_id = -1  # another item came on screen before the job ran
    runner.run(jobs)
    assert "comment not saved" in session.note
    assert [e for e in store.events(rater="alice") if e.field == "_comment"] == []


def test_skip_says_what_it_did_and_previous_goes_back(store):
    fill(store, 4)
    session, runner = start(store)
    first = session.bundle.id
    runner.key("s")
    assert session.bundle.id != first
    assert session.note == f"#{first} skipped: it comes back at the end of the queue"
    runner.run(session.previous())
    assert session.bundle.id == first
    assert session.note == f"previous: #{first}"


def test_previous_walks_back_through_the_session_and_shows_the_label_given(store):
    fill(store, 5)
    session, runner = start(store)
    a = session.bundle.id
    runner.key("y")
    runner.key("enter")
    runner.key("enter")  # past the reveal
    b = session.bundle.id
    runner.key("s")
    c = session.bundle.id
    assert len({a, b, c}) == 3
    runner.run(session.previous())
    assert session.bundle.id == b and session.note == f"previous: #{b}"
    runner.run(session.previous())
    assert session.bundle.id == a
    assert session.note == f"previous: #{a}, you said alignment_faking=yes, motivation=[]"
    assert session.mode == REVEALED and session.draft.values["alignment_faking"] == "yes"
    runner.run(session.previous())
    assert session.bundle.id == a and session.note == "previous: no earlier item in this session"


def test_highlights_show_the_classifiers_quotes_only_after_the_reveal(store):
    fill(store, 2)
    session, runner = start(store)
    assert session.highlights() == []
    runner.key("n")
    runner.key("enter")
    (quote,) = session.highlights()
    scratchpad = session.bundle.transcript["scratchpad"]
    assert quote.kind == "classifier" and quote.who == CLASSIFIER
    assert scratchpad[quote.start : quote.end] == "RLHF would change my values"


def test_evidence_spans_use_offsets_when_they_hold_the_quote_else_find_it():
    text = "alpha beta gamma beta"
    exact = evidence_spans([{"start": 17, "end": 21, "text": "beta"}], text, "own")
    assert [(h.start, h.end) for h in exact] == [(17, 21)]
    moved = evidence_spans([{"start": 0, "end": 4, "text": "beta"}], text, "other")
    assert [(h.start, h.end) for h in moved] == [(6, 10)], "stale offsets: the quote is found"
    assert evidence_spans([{"start": 0, "end": 0, "text": "delta"}], text, "other") == []


def test_evidence_on_a_category_not_chosen_is_reported_and_removable(store):
    fill(store, 2)
    session, runner = start(store)
    runner.key("y")
    session.draft.add_evidence("alignment_faking", "no", 0, 4, "The ")
    assert [s["category"] for s in session.unchosen_evidence()] == ["no"]
    assert session.remove_evidence(2) is not None
    assert session.draft.evidence == [] and "evidence removed" in session.note


def test_the_session_needs_no_textual():
    import subprocess
    import sys

    code = (
        "import sys, reviewer.tui.session, db.writer; "
        "sys.exit(1 if any(m.split('.')[0] == 'textual' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_rubric_may_define_its_error_reasons_and_old_hashes_hold():
    from rubrics import RubricError, resolve_rubric
    from rubrics.loader import parse_rubric
    from rubrics.model import DEFAULT_ERROR_REASONS

    builtin = resolve_rubric("goal_guarding")
    assert builtin.audit_reasons == DEFAULT_ERROR_REASONS
    # the hash a built-in had before rubrics could define error reasons (main, 2026-11-30)
    assert builtin.content_hash == (
        "a9f8ea4a889f5283c665e01bfe116003e4eadf9943a69cac0b8e439827f24f8b"
    )
    text = (
        builtin.source_text + '\n[[error_reasons]]\nid = "quote_out_of_context"\n'
        'label = "quoted a passage out of context"\n'
    )
    own = parse_rubric(text)
    assert [(r.id, r.label) for r in own.audit_reasons] == [
        ("quote_out_of_context", "quoted a passage out of context")
    ]
    assert own.content_hash != builtin.content_hash
    with pytest.raises(RubricError, match="error_reasons"):
        parse_rubric(builtin.source_text + "\n[[error_reasons]]\nlabel = 'no id'\n")
