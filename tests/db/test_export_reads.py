"""The reads an export streams with (db.labels and db.dataset): the same current labels as
``current_labels``, and each page read through an index on a database with statistics.

The export reads transcripts one keyset page at a time and, for each page, the current labels
and error reasons of its id range. Each of those statements is run for real with SQLite's
trace on and explained: a page must be a range of ``label_events_item`` (transcript id
first), never a walk of every live event, which is what made each page slower than the last.
"""

from __future__ import annotations

import re

import pytest

from db import Store, labels
from db import dataset as ds
from reviewer.demo import build_demo

RUBRIC = "goal_guarding"
SCAN = re.compile(r"\bSCAN (e|r|label_events)\b")


def plans_of(store: Store, call) -> list[str]:
    """Each query-plan step of every statement ``call`` ran that reads label_events."""
    conn = store.db.conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [
        step
        for sql in statements
        if "label_events" in sql and sql.lstrip().upper().startswith(("SELECT", "WITH"))
        for step in (row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
    ]


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory) -> Store:
    """A demo database with people's labels, revisions, undone acts and error reasons."""
    store = Store(tmp_path_factory.mktemp("export_reads") / "reads.db")
    build_demo(store, size=1200, seed=2)
    for k, name in enumerate(("ann", "bob", "cy")):
        for tid in range(1 + k, 400, 3):
            labels.commit_label(
                store,
                tid,
                annotator=name,
                rubric_id=RUBRIC,
                rubric_hash=None,
                values={"alignment_faking": ["no", "yes"][tid % 2]},
            )
            if tid % 5 == 0:
                labels.commit_label(
                    store,
                    tid,
                    annotator=name,
                    rubric_id=RUBRIC,
                    rubric_hash=None,
                    values={"alignment_faking": "yes"},
                )
            if tid % 4 == 0:
                labels.record_meta(
                    store, tid, annotator=name, rubric_id=RUBRIC, rubric_hash=None, kind="_flag"
                )
                labels.undo_last_act(store, name)
            if tid % 7 == 0:
                labels.record_error_reason(
                    store,
                    tid,
                    auditor=name,
                    rubric_id=RUBRIC,
                    rubric_hash=None,
                    field="alignment_faking",
                    classifier="c",
                    classifier_value="no",
                    codes=["missed_passage"],
                )
    store.optimize()
    return store


def test_a_range_holds_the_current_labels_of_its_transcripts(busy_store: Store) -> None:
    for first, last in ((1, 1), (1, 50), (37, 401), (390, 1200), (1199, 5000)):
        ids = range(first, last + 1)
        expected = [
            (e.id, e.transcript_id) for e in labels.current_labels(busy_store, transcript_ids=ids)
        ]
        rows = labels.current_label_rows(busy_store, first, last)
        assert [(r[0], r[1]) for r in rows] == expected
        assert [labels.event_from_row(r) for r in rows] == labels.current_labels(
            busy_store, transcript_ids=ids
        )
        one = labels.current_label_rows(busy_store, first, last, rubric_ids=[RUBRIC])
        assert [r[0] for r in one] == [r[0] for r in rows if r[2] == RUBRIC]
        assert any(r[2] != RUBRIC for r in rows)  # the filter had something to leave out
        reasons = labels.error_reason_rows(busy_store, first, last)
        assert [r[0] for r in reasons] == [
            e.id for e in labels.error_reasons(busy_store, transcript_ids=ids)
        ]


def test_the_slots_are_the_three_reads_they_replace(busy_store: Store) -> None:
    slots = labels.live_label_slots(busy_store)
    assert sorted({s[0] for s in slots}) == labels.labeled_rubric_ids(busy_store)
    for rubric_id in labels.labeled_rubric_ids(busy_store):
        assert sorted({s[1] for s in slots if s[0] == rubric_id}) == labels.label_fields(
            busy_store, rubric_id
        )
    assert slots == labels.label_slots(busy_store, labels.labeled_rubric_ids(busy_store))


def test_the_slots_are_a_distinct_over_the_live_labels(tmp_path) -> None:
    """Found by seeking, the slots are what a DISTINCT over every live label gives: a slot
    whose every label was withdrawn is gone, a NULL phase reads as '', acts are left out."""
    from tests.factory import add_transcripts, label

    store = Store(tmp_path / "slots.db")
    tids = add_transcripts(store, per_stratum=2)
    label(store, tids[0], "yes", source="human", rater="ann", phase="blind")
    label(store, tids[1], "no", source="human", rater="ann")  # NULL phase
    gone = label(store, tids[2], "no", source="human", rater="zed", phase="blind")
    labels.retract(store, gone)
    half = label(store, tids[3], "no", source="classifier", rater="c1")
    label(store, tids[4], "yes", source="classifier", rater="c1")
    labels.retract(store, half)
    label(store, tids[5], "x", source="human", rater="ann", field="ünïcode", rubric_id="r2")
    label(store, tids[5], "y", source="human", rater="ann", field="Zeta", rubric_id="r2")
    label(store, tids[6], True, source="human", rater="ann", field="_flag")
    # A phase of '' beside a NULL one, from a tool that did not check the phase: one slot.
    store.db.conn.execute("PRAGMA ignore_check_constraints = ON")
    with store.transaction() as db:
        db.conn.execute(
            "INSERT INTO label_events(transcript_id, rubric_id, field, value, source, rater, "
            "phase, created_at) VALUES (?, 'goal_guarding', 'alignment_faking', '\"no\"', "
            "'human', 'ann', '', 't')",
            (tids[7],),
        )
    store.db.conn.execute("PRAGMA ignore_check_constraints = OFF")
    plain = [
        tuple(r)
        for r in store.db.conn.execute(
            "SELECT DISTINCT rubric_id, field, source, rater, IFNULL(phase, '') "
            f"FROM {labels.LIVE} WHERE substr(field, 1, 1) != '_' ORDER BY 1, 2, 3, 4, 5"
        )
    ]
    slots = labels.live_label_slots(store)
    assert slots == plain
    assert ("goal_guarding", "alignment_faking", "human", "zed", "blind") not in slots
    assert ("goal_guarding", "alignment_faking", "classifier", "c1", "") in slots
    assert [s for s in slots if s[3] == "ann" and s[0] == "goal_guarding"] == [
        ("goal_guarding", "alignment_faking", "human", "ann", ""),
        ("goal_guarding", "alignment_faking", "human", "ann", "blind"),
    ]


def test_transcript_pages_are_keyset_pages_in_id_order(busy_store: Store) -> None:
    seen, last = [], -1
    while page := ds.transcript_rows(busy_store, last, 500, include_text=False):
        seen += [r[0] for r in page]
        last = page[-1][0]
    assert seen == ds.transcript_ids(busy_store)
    with_text = ds.transcript_rows(busy_store, 0, 1)[0]
    assert len(with_text) == len(ds.TRANSCRIPT_ROW_COLUMNS) + len(ds.TEXT_ROW_COLUMNS)


PAGE_READS = {
    "current labels of a range": lambda s: labels.current_label_rows(s, 200, 700),
    "of one rubric": lambda s: labels.current_label_rows(s, 200, 700, rubric_ids=[RUBRIC]),
    "error reasons of a range": lambda s: labels.error_reason_rows(s, 1, 400, rubric_ids=[RUBRIC]),
}


@pytest.mark.parametrize("name", list(PAGE_READS))
def test_a_page_of_the_export_reads_a_range_of_an_index(busy_store: Store, name: str) -> None:
    assert busy_store.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'label_events'")
    plans = plans_of(busy_store, lambda: PAGE_READS[name](busy_store))
    assert not [step for step in plans if SCAN.search(step)], plans
    assert any(
        "USING INDEX label_events_item (transcript_id>? AND transcript_id<?)" in step
        for step in plans
    ), plans
    assert not any(step.startswith("SEARCH e") and "retraction" in step for step in plans), plans
    assert not any(
        "label_events_rater" in step or "label_events_import" in step for step in plans
    ), plans
