"""What label events mean, as a table: a sequence of acts -> the live labels, what undo does
next, and the gold label. Every rule here is decided in db/labels.py and nowhere else.

Acts (the annotator is ``ann`` unless named):
    ("commit", RATER, VALUE)        a commit of alignment_faking=VALUE (motivation [] with it)
    ("audit", RATER, VALUE)         the same commit made in audit mode (blind off)
    ("classifier", VALUE)           a classifier label on the item
    ("imported", VALUE)             an imported label (e.g. a published gold set)
    ("reveal", RATER)               the rater is shown others' labels on the item
    ("flag"|"skip"|"comment", RATER)
    ("adjudicate", RATER, VALUE)    an adjudicator's decision, with a reason
    ("undo", RATER)                 undo the rater's last undoable act

Expected:
    live   the live alignment_faking labels and acts, as (rater, field, value, phase)
    undo   what an undo by ``ann`` would retract next: the fields, or a refusal's text
    gold   (status, value) of alignment_faking under the default policy (2 humans)
"""

from __future__ import annotations

import pytest

from db import Store, labels
from tests.factory import labeler_transcript

RUBRIC = "goal_guarding"
FIELD = "alignment_faking"


def run_acts(store: Store, tid: int, acts: list[tuple]) -> None:
    for act in acts:
        kind, rest = act[0], act[1:]
        if kind in ("commit", "audit"):
            rater, value = rest
            labels.commit_label(
                store,
                tid,
                annotator=rater,
                rubric_id=RUBRIC,
                rubric_hash=None,
                values={FIELD: value, "motivation": []},
                blind_mode=kind == "commit",
            )
        elif kind in ("classifier", "imported"):
            labels.append(
                store,
                tid,
                rubric_id=RUBRIC,
                field=FIELD,
                value=rest[0],
                source=kind,
                rater=f"{kind}-1",
                score=0.5 if kind == "classifier" else None,
            )
        elif kind == "reveal":
            labels.record_reveal(store, tid, annotator=rest[0], rubric_id=RUBRIC, rubric_hash=None)
        elif kind in ("flag", "skip", "comment"):
            labels.record_meta(
                store,
                tid,
                annotator=rest[0],
                rubric_id=RUBRIC,
                rubric_hash=None,
                kind=f"_{kind}",
                note="a note" if kind == "comment" else None,
            )
        elif kind == "adjudicate":
            labels.adjudicate(
                store,
                tid,
                adjudicator=rest[0],
                rubric_id=RUBRIC,
                rubric_hash=None,
                values={FIELD: rest[1]},
                reason="the quote decides",
            )
        elif kind == "undo":
            labels.undo_last_act(store, rest[0])
        else:
            raise AssertionError(f"unknown act {kind}")


CASES = {
    "a blind commit alone": (
        [("commit", "ann", "yes")],
        {("ann", FIELD, "yes", "blind")},
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "a commit over a classifier label reveals it and freezes the blind label": (
        [("classifier", "no"), ("commit", "ann", "yes")],
        {
            ("classifier-1", FIELD, "no", None),
            ("ann", FIELD, "yes", "blind"),
            ("ann", "_reveal", True, None),
        },
        "nothing left to undo (the blind label on #1 stays frozen after reveal (revise it instead))",
        ("unresolved", None),
    ),
    "a revision after the reveal is revealed, and undo takes it back": (
        [("classifier", "no"), ("commit", "ann", "yes"), ("commit", "ann", "no")],
        {
            ("classifier-1", FIELD, "no", None),
            ("ann", FIELD, "yes", "blind"),
            ("ann", FIELD, "no", "revealed"),
            ("ann", "_reveal", True, None),
        },
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "a flag made after the reveal can be undone": (
        [("classifier", "no"), ("commit", "ann", "yes"), ("flag", "ann")],
        {
            ("classifier-1", FIELD, "no", None),
            ("ann", FIELD, "yes", "blind"),
            ("ann", "_reveal", True, None),
            ("ann", "_flag", True, None),
        },
        ["_flag"],
        ("unresolved", None),
    ),
    "a skip and a comment after the reveal undo newest first": (
        [("classifier", "no"), ("commit", "ann", "yes"), ("comment", "ann"), ("skip", "ann")],
        {
            ("classifier-1", FIELD, "no", None),
            ("ann", FIELD, "yes", "blind"),
            ("ann", "_reveal", True, None),
            ("ann", "_comment", True, None),
            ("ann", "_skip", True, None),
        },
        ["_skip"],
        ("unresolved", None),
    ),
    "undone acts are not undone twice": (
        [
            ("classifier", "no"),
            ("commit", "ann", "yes"),
            ("comment", "ann"),
            ("skip", "ann"),
            ("undo", "ann"),
        ],
        {
            ("classifier-1", FIELD, "no", None),
            ("ann", FIELD, "yes", "blind"),
            ("ann", "_reveal", True, None),
            ("ann", "_comment", True, None),
        },
        ["_comment"],
        ("unresolved", None),
    ),
    "someone else's undone label reveals nothing": (
        [("commit", "bob", "no"), ("undo", "bob"), ("commit", "ann", "yes")],
        {("ann", FIELD, "yes", "blind")},
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "a reveal with nothing to show still freezes what follows": (
        [("reveal", "ann"), ("commit", "ann", "yes")],
        {("ann", FIELD, "yes", "revealed"), ("ann", "_reveal", True, None)},
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "a second commit before any reveal is a revision": (
        [("commit", "ann", "yes"), ("commit", "ann", "no")],
        {("ann", FIELD, "yes", "blind"), ("ann", FIELD, "no", "revealed")},
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "undoing a blind label that nobody else saw reopens the item": (
        [("commit", "ann", "yes"), ("undo", "ann")],
        set(),
        "nothing left to undo",
        ("unresolved", None),
    ),
    "an audit-mode commit is never blind": (
        [("audit", "ann", "yes")],
        {("ann", FIELD, "yes", "revealed")},
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "two humans who agree make gold": (
        [("commit", "bob", "yes"), ("commit", "ann", "yes")],
        {
            ("bob", FIELD, "yes", "blind"),
            ("ann", FIELD, "yes", "blind"),
            ("ann", "_reveal", True, None),
        },
        "nothing left to undo (the blind label on #1 stays frozen after reveal (revise it instead))",
        ("unanimous", "yes"),
    ),
    "revealed revisions never make gold": (
        [("commit", "bob", "yes"), ("commit", "ann", "no"), ("commit", "ann", "yes")],
        {
            ("bob", FIELD, "yes", "blind"),
            ("ann", FIELD, "no", "blind"),
            ("ann", FIELD, "yes", "revealed"),
            ("ann", "_reveal", True, None),
        },
        [FIELD, "motivation"],
        ("unresolved", None),
    ),
    "an adjudication settles a disagreement": (
        [("commit", "bob", "yes"), ("commit", "ann", "no"), ("adjudicate", "judge", "yes")],
        {
            ("bob", FIELD, "yes", "blind"),
            ("ann", FIELD, "no", "blind"),
            ("ann", "_reveal", True, None),
            ("judge", FIELD, "yes", "adjudicated"),
        },
        "nothing left to undo (the blind label on #1 stays frozen after reveal (revise it instead))",
        ("adjudicated", "yes"),
    ),
    "an undone adjudication settles nothing": (
        [
            ("commit", "bob", "yes"),
            ("commit", "ann", "no"),
            ("adjudicate", "judge", "yes"),
            ("undo", "judge"),
        ],
        {
            ("bob", FIELD, "yes", "blind"),
            ("ann", FIELD, "no", "blind"),
            ("ann", "_reveal", True, None),
        },
        "nothing left to undo (the blind label on #1 stays frozen after reveal (revise it instead))",
        ("unresolved", None),
    ),
    "an adjudication beats even unanimous humans": (
        [("commit", "bob", "yes"), ("commit", "cy", "yes"), ("adjudicate", "judge", "no")],
        {
            ("bob", FIELD, "yes", "blind"),
            ("cy", FIELD, "yes", "blind"),
            ("cy", "_reveal", True, None),
            ("judge", FIELD, "no", "adjudicated"),
        },
        "nothing left to undo",
        ("adjudicated", "no"),
    ),
    "an imported label is not a human one by default": (
        [("imported", "yes"), ("commit", "bob", "yes")],
        {
            ("imported-1", FIELD, "yes", None),
            ("bob", FIELD, "yes", "blind"),
            ("bob", "_reveal", True, None),
        },
        "nothing left to undo",
        ("unresolved", None),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_label_semantics(store: Store, name: str) -> None:
    acts, live, undo, gold = CASES[name]
    store.insert_transcripts([labeler_transcript(1, labels=[])])
    run_acts(store, 1, acts)
    current = {
        (e.rater, e.field, e.value, e.phase)
        for e in labels.current_labels(store, transcript_ids=[1])
        if e.field in (FIELD, "_reveal", "_flag", "_skip", "_comment")
    }
    assert current == live
    item_events = [e for e in labels.current_labels(store, transcript_ids=[1])]
    got = labels.gold_for_item(item_events, [FIELD])[FIELD]
    assert (got.status, got.value) == gold
    result = labels.undo_last_act(store, "ann")
    if isinstance(undo, str):
        assert result.retracted == [] and result.refused == undo
    else:
        assert [e.field for e in result.retracted] == undo


def test_every_write_is_an_append_the_history_keeps(store: Store) -> None:
    """Undo and revision leave every earlier event in place: the history is complete."""
    store.insert_transcripts([labeler_transcript(1, labels=[])])
    run_acts(
        store,
        1,
        [
            ("commit", "ann", "yes"),
            ("commit", "ann", "no"),
            ("undo", "ann"),
            ("flag", "ann"),
            ("undo", "ann"),
        ],
    )
    history = labels.events(store, transcript_id=1)
    assert [(e.field, e.value, e.retracts is not None) for e in history] == [
        (FIELD, "yes", False),
        ("motivation", [], False),
        (FIELD, "no", False),
        ("motivation", [], False),
        (FIELD, None, True),
        ("motivation", None, True),
        ("_flag", True, False),
        ("_flag", None, True),
    ]


def test_values_have_one_encoding(store: Store) -> None:
    """A value is stored as one text whatever path wrote it, so an import can tell a label it
    already has: unicode stays as written and lists keep their order."""
    assert labels.encode_value(["tgg", "ígg"]) == '["tgg","ígg"]'
    assert labels.encode_value({"a": 1.5, "b": None}) == '{"a":1.5,"b":null}'
    store.insert_transcripts([labeler_transcript(1, labels=[])])
    eid = labels.append(
        store,
        1,
        rubric_id=RUBRIC,
        field=FIELD,
        value="ígg",
        source="human",
        rater="ann",
        phase="blind",
    )
    stored = store.execute("SELECT value FROM label_events WHERE id = ?", (eid,))[0][0]
    assert stored == labels.encode_value("ígg")


@pytest.mark.parametrize(
    "statement",
    [
        "REPLACE INTO label_events(id, transcript_id, rubric_id, field, value, source, rater, "
        "created_at) VALUES (?, 1, 'goal_guarding', 'alignment_faking', '\"no\"', 'human', "
        "'ann', 'now')",
        "INSERT OR REPLACE INTO label_events(id, transcript_id, rubric_id, field, value, source, "
        "rater, created_at) VALUES (?, 1, 'goal_guarding', 'alignment_faking', '\"no\"', "
        "'human', 'ann', 'now')",
        "INSERT INTO label_events(id, transcript_id, rubric_id, field, value, source, rater, "
        "created_at) VALUES (?, 1, 'goal_guarding', 'alignment_faking', '\"no\"', 'human', "
        "'ann', 'now') ON CONFLICT(id) DO UPDATE SET value = excluded.value",
        "UPDATE label_events SET value = '\"no\"' WHERE id = ?",
        "DELETE FROM label_events WHERE id = ?",
    ],
    ids=["replace", "insert-or-replace", "upsert", "update", "delete"],
)
def test_the_append_only_rule_has_no_hole(store: Store, statement: str) -> None:
    import sqlite3

    store.insert_transcripts([labeler_transcript(1, labels=[])])
    eid = labels.append(
        store,
        1,
        rubric_id=RUBRIC,
        field=FIELD,
        value="yes",
        source="human",
        rater="ann",
        phase="blind",
    )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.conn.execute(statement, (eid,))
    assert [(e.id, e.value) for e in labels.events(store)] == [(eid, "yes")]
