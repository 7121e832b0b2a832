"""Every hot query is planned with the index meant for it, on a database with statistics.

tests/unit/test_query_plans.py checks that no hot label query walks every label event; this
checks, for each hot path (a page of current labels, a queue's next item and progress, the
labeler's transcript read, an item's labels for gold, others' labels, import's look-up of
known transcripts and labels), that SQLite's plan for every statement it runs uses the index
named here, and scans no large table. The calls run for real with SQLite's trace on, on a demo
database with human labels, retractions and a queue, after ``Store.optimize`` (ANALYZE)."""

from __future__ import annotations

import re

import pytest

from db import Store, labels
from db.agreement_data import agreement_label_slices
from db.dataset import labels_for
from db.labeling import LabelQueue, item_transcript
from db.queues import create_queue, next_assignment, queue_progress
from db.staging import (
    _copy_transcripts_sql,
    _run_script,
    _staging_indexes,
    _staging_schema,
    copy_staged_labels,
)
from reviewer.demo import build_demo

USING = re.compile(r"USING (?:COVERING )?INDEX (\w+)|USING (INTEGER PRIMARY KEY)")
SCAN = re.compile(r"^SCAN (\w+)")
# The large tables, by name and by the aliases the queries give them: never read whole.
LARGE = {"transcripts", "t", "label_events", "e", "r", "s", "live_label_events", "assignments", "a"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("plans") / "plans.db")
    build_demo(store, size=2000, seed=2)
    for k, name in enumerate(("ann", "bob", "cy")):
        for tid in range(1 + k, 400, 3):
            labels.commit_label(
                store,
                tid,
                annotator=name,
                rubric_id="goal_guarding",
                rubric_hash=None,
                values={"alignment_faking": "no"},
            )
        labels.undo_last_act(store, name)
    create_queue(
        store,
        "q",
        kind="random",
        rubric_id="goal_guarding",
        assignments=[("ann", t, "random") for t in range(1, 2000, 4)],
    )
    store.optimize()
    yield store
    store.close()


def plans(store: Store, call) -> list[tuple[str, list[str]]]:
    """(statement, plan steps) of every SELECT or INSERT ... SELECT the call ran."""
    conn = store.db.conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    out = []
    for sql in statements:
        head = sql.lstrip().upper()
        if not head.startswith(("SELECT", "WITH", "INSERT")) or "SELECT" not in head:
            continue
        steps = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        out.append((sql, steps))
    return out


def _import_lookups(store: Store) -> None:
    """The statements an import's copy runs to skip known transcripts and labels."""
    conn = store.db.conn
    if not conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'staged_labels'").fetchone():
        _run_script(conn, _staging_schema("temp") + _staging_indexes("temp"))
    # Run for real over an empty staging area: planned as an import plans them, adds nothing.
    conn.execute(_copy_transcripts_sql("temp"), (None, "t", 1, 2))
    copy_staged_labels(conn, schema="temp", start=1, end=2, import_id=None, created_at="t")


# name -> (call, the indexes its plan must use)
HOT = {
    "a page of current labels": (
        lambda s: labels.current_labels(s, transcript_ids=range(1, 501)),
        {"label_events_item"},
    ),
    "the next item of a queue": (lambda s: next_assignment(s, "q", "ann"), {"assignments_order"}),
    "a queue's progress": (lambda s: queue_progress(s, "q", "ann"), {"assignments_order"}),
    # (The demo has one system prompt: with statistics, reading it whole is the cheaper plan.)
    "the labeler's transcript read": (lambda s: item_transcript(s, 77), {"INTEGER PRIMARY KEY"}),
    "an item's live labels (gold)": (
        lambda s: labels_for(s, [40], rubric_ids=["goal_guarding"]),
        {"label_events_item"},
    ),
    "others' labels of an item": (
        lambda s: labels.others_labels(s, 40, "ann", "goal_guarding"),
        {"label_events_item"},
    ),
    "the seeded order's next item": (
        lambda s: LabelQueue(s, "bob", "goal_guarding").next_entry(),
        {"label_events_rater"},
    ),
    "import: known transcripts and labels": (
        _import_lookups,
        {"sqlite_autoindex_transcripts_1", "label_events_item"},
    ),
}


def used_indexes(steps: list[str]) -> set[str]:
    return {a or b for step in steps for a, b in USING.findall(step)}


@pytest.mark.parametrize("name", list(HOT))
def test_hot_query_uses_its_index(store: Store, name: str) -> None:
    call, wanted = HOT[name]
    ran = plans(store, lambda: call(store))
    assert ran, f"{name}: no statement traced"
    used = set().union(*(used_indexes(steps) for _, steps in ran))
    assert wanted <= used, f"{name}: wanted {wanted}, plans used {used}: {ran}"
    scans = [
        f"{step}  <- {sql[:120]}"
        for sql, steps in ran
        for step in steps
        if (m := SCAN.search(step))
        and m.group(1) in LARGE
        and not sql.startswith(ONCE_PER_SESSION)
        and not (sql.startswith("INSERT") and m.group(1) in FOREIGN_KEY_CHILDREN)
    ]
    assert scans == [], name


# Counting every transcript walks the smallest index: once when a labeling session starts (the
# seeded order's length), not per item. Timed at 1M by bench/bench_label.py's start figure.
ONCE_PER_SESSION = ("SELECT COUNT(*) FROM transcripts",)
# An INSERT into a parent table is planned with a look at each child table (could the new row
# resolve a deferred foreign-key violation?); it runs only while such a violation is pending.
FOREIGN_KEY_CHILDREN = ("assignments", "label_events")


def test_the_planner_has_statistics(store: Store) -> None:
    tables = {r[0] for r in store.execute("SELECT tbl FROM sqlite_stat1")}
    assert {"transcripts", "label_events"} <= tables


@pytest.mark.parametrize("on_close", [True, False], ids=["optimize-on-close", "without"])
def test_closing_a_connection_gathers_statistics_that_are_due(tmp_path, monkeypatch, on_close):
    """A long-lived connection runs ``PRAGMA optimize`` as it closes (SQLite's advice),
    bounded by ``analysis_limit``: statistics that went missing come back; without it they
    would not."""
    import db.store

    if not on_close:
        monkeypatch.setattr(db.store, "optimize_before_close", lambda conn: None)
    path = tmp_path / "close.db"
    store = Store(path)
    build_demo(store, size=300, seed=0)
    store.db.conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'label_events'")
    labels.current_labels(store, transcript_ids=range(1, 50))
    store.close()
    reopened = Store(path)
    back = reopened.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'label_events'")[0][0]
    reopened.close()
    assert bool(back) == on_close


# name -> (call, the plan step each statement reading the labels must have). The statistics
# read every label once: each group of the index (rubric, field, source, rater, phase, value)
# as ranges of it, found by seeking from one group to the next, never from the events' rows;
# the error reasons are read as each rubric's range of that index.
A_GROUPS_RANGE = (
    "SEARCH label_events USING COVERING INDEX label_events_values (rubric_id=? AND field=? "
    "AND source=? AND rater=? AND phase=? AND value=? AND transcript_id>? AND transcript_id<?)"
)
EVERY_LABEL = {
    "the statistics' read of every label": (
        lambda s: labels.current_label_columns(s),
        A_GROUPS_RANGE,
    ),
    "one rubric's labels": (
        lambda s: labels.current_label_columns(s, rubric_id="goal_guarding"),
        A_GROUPS_RANGE,
    ),
    # The card's read, a slice of transcripts at a time: each slice's end is found along
    # the (transcript, ...) index, and each slice is read as ranges of every group.
    "one rubric's labels, a slice at a time": (
        lambda s: list(agreement_label_slices(s, "goal_guarding", events_per_slice=2000)),
        "SEARCH label_events USING COVERING INDEX label_events_item (transcript_id>?)",
    ),
    # The export's slots: seeks through the groups, then one live label of each.
    "the live slots": (
        lambda s: labels.live_label_slots(s),
        "SEARCH e USING INDEX label_events_values (rubric_id=? AND field=? AND source=? "
        "AND rater=? AND phase=?)",
    ),
    "every error reason": (
        lambda s: labels.error_reasons(s),
        "SEARCH e USING INDEX label_events_values (rubric_id=? AND field=?)",
    ),
}


@pytest.mark.parametrize("name", list(EVERY_LABEL))
def test_reading_every_label_walks_one_index_in_order(store: Store, name: str) -> None:
    call, step = EVERY_LABEL[name]
    ran = plans(store, lambda: call(store))
    assert any(step in steps for _, steps in ran), (name, ran)
    for sql, steps in ran:
        # Nothing walks a large table: the ids' bounds, the retractions, the groups, the
        # scores of reviewed labels and the rubric ids are each a few seeks, and each range
        # is read in the index's order.
        scans = [x for x in steps if (m := SCAN.search(x)) and m.group(1) in LARGE]
        assert scans == [], (name, sql, steps)
        if "transcript_id BETWEEN" in sql:
            assert not any("TEMP B-TREE" in x for x in steps), (name, sql, steps)
