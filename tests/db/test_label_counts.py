"""The counts ``reviewer info`` shows are kept by triggers as events are appended: they must
equal a recount of the events after every kind of act, on a new database and on one migrated
from the first release, and ``reviewer doctor`` must notice and repair counts that drifted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db import Store, labels
from db.doctor import OK, PROBLEM, examine, repair
from db.schema import recount_transcripts, transcript_counts
from tests.db.test_label_columns import busy_store  # noqa: F401  (a fixture)
from tests.db.test_migrations import FIXTURE


def _kept_and_counted(store: Store) -> tuple[list, list]:
    conn = store.db.conn
    return labels.stored_event_counts(conn), labels.recount_events(conn)


def test_counts_follow_every_kind_of_act(busy_store: Store) -> None:  # noqa: F811
    kept, counted = _kept_and_counted(busy_store)
    assert kept == counted
    by_source = {row[0]: row for row in kept}
    # Humans with a live label: ann, bob, gold, dan (an empty value) and the odd name; cat's
    # only label was retracted.
    assert by_source["human"][6] == 5
    # Retracted: cat's label (bob's blind labels were frozen by the reveal: undo passed them).
    assert by_source["human"][4] == 1
    # A retraction of a retraction and a second undo change nothing they should not.
    labels.undo_last_act(busy_store, "ann")
    labels.undo_last_act(busy_store, "ann")
    kept, counted = _kept_and_counted(busy_store)
    assert kept == counted
    conn = busy_store.db.conn
    assert transcript_counts(conn) == recount_transcripts(conn) != []
    info = busy_store.summary()["labels_by_source"]
    assert [tuple(r.values()) for r in info] == counted


def test_a_first_release_database_is_counted_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    store = Store(path)
    kept, counted = _kept_and_counted(store)
    assert kept == counted and sum(r[1] for r in kept) > 0
    labels.undo_last_act(store, "ann")
    assert _kept_and_counted(store)[0] == _kept_and_counted(store)[1]
    store.close()


def test_doctor_recounts_counts_that_drifted(busy_store: Store) -> None:  # noqa: F811
    path = busy_store.path
    with busy_store.transaction() as db:
        db.conn.execute("UPDATE label_counts SET labels = labels + 5 WHERE source = 'human'")
    busy_store.close()
    before = examine(path)
    assert before.check("label counts").status == PROBLEM
    assert "recounted the label events and transcripts that info shows" in repair(path, before)
    assert examine(path).check("label counts").status == OK
