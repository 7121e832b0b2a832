"""The label queries the labeler and the readers run on every item use an index, not a walk of
every label event, on a database with statistics (``Store.optimize`` gathers them).

Each hot call runs for real with SQLite's trace on; every statement it ran that reads
``label_events`` (through the live view or not) is explained, and a full scan of it fails."""

from __future__ import annotations

import re

import pytest

from db import Store, labels
from db.labeling import LabelQueue
from db.queues import create_queue, next_assignment, queue_progress
from reviewer.demo import build_demo

SCAN = re.compile(r"\bSCAN (\w+)")


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("plans") / "plans.db")
    build_demo(store, size=1500, seed=1)
    for k, name in enumerate(("ann", "bob", "cy")):
        for tid in range(1 + k, 300, 3):
            labels.commit_label(
                store,
                tid,
                annotator=name,
                rubric_id="goal_guarding",
                rubric_hash=None,
                values={"alignment_faking": "no"},
            )
            if tid % 4 == 0:
                labels.record_meta(
                    store,
                    tid,
                    annotator=name,
                    rubric_id="goal_guarding",
                    rubric_hash=None,
                    kind="_flag",
                )
                labels.undo_last_act(store, name)
    create_queue(
        store,
        "q",
        kind="random",
        rubric_id="goal_guarding",
        assignments=[("ann", t, "random") for t in range(1, 1500, 5)],
    )
    store.optimize()
    return store


def scans_of_label_events(store: Store, call) -> list[str]:
    conn = store.db.conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    found = []
    for sql in statements:
        if "label_events" not in sql or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        found += [
            f"{step}   <- {sql[:160]}"
            for step in plan
            if SCAN.search(step)
            and "label_events" in step
            or re.search(r"\bSCAN (e|r|s|v)\b", step)
        ]
    return found


CALLS = {
    "own events of an item": lambda s: labels.own_events(s, 40, "ann", "goal_guarding"),
    "others' labels of an item": lambda s: labels.others_labels(s, 40, "ann", "goal_guarding"),
    "commit phase": lambda s: labels.commit_phase(s, 41, "ann", "goal_guarding"),
    "anyone else labeled it": lambda s: labels.has_others_labels(s, 41, "ann", "goal_guarding"),
    "what an annotator did": lambda s: labels.acted_ids(s, "ann", "goal_guarding"),
    "a page of current labels": lambda s: labels.current_labels(s, transcript_ids=range(1, 501)),
    "the next item of a queue": lambda s: next_assignment(s, "q", "ann"),
    "a queue's progress": lambda s: queue_progress(s, "q", "ann"),
    "the seeded order's next item": lambda s: LabelQueue(s, "bob", "goal_guarding").next_entry(),
    "undo": lambda s: labels.undo_last_act(s, "cy"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_hot_label_queries_use_an_index(busy_store: Store, name: str) -> None:
    assert scans_of_label_events(busy_store, lambda: CALLS[name](busy_store)) == []


def test_the_statistics_are_there(busy_store: Store) -> None:
    rows = busy_store.execute("SELECT tbl FROM sqlite_stat1 WHERE tbl = 'label_events'")
    assert rows, "optimize gathered statistics for label_events"
