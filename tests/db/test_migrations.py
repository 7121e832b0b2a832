"""Databases made by older releases open in this one with every label intact.

``tests/fixtures/schema_v1.sql`` is a dump of a database written by the first released schema
(migration m001 only) through that release's own code: demo transcripts with classifier
labels, two annotators' commits, a revision, an undo, a skip, a flag, a comment, a reveal, an
imported and an adjudicated label, and a queue.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from db import Store, labels
from db.connection import SchemaTooNewError
from db.schema import SCHEMA_VERSION

FIXTURE = Path(__file__).parent.parent / "fixtures" / "schema_v1.sql"


@pytest.fixture
def v1_db(tmp_path: Path) -> Path:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    return path


def raw_rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_the_fixture_is_a_first_release_database(v1_db: Path) -> None:
    conn = sqlite3.connect(v1_db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert names == ["m001_initial"]
    assert conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0] == 57


def test_migrating_keeps_every_row_and_label(v1_db: Path) -> None:
    before = {
        t: raw_rows(v1_db, t)
        for t in ("label_events", "transcripts", "rubrics", "queues", "assignments", "imports")
    }
    store = Store(v1_db)
    conn = store.db.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for table, rows in before.items():
        # Later migrations may add columns (m003: queue designs, m004: who ran an import); they start empty.
        after = raw_rows(v1_db, table)
        width = len(rows[0]) if rows else 0
        assert [r[:width] for r in after] == rows, f"{table} changed in the migration"
        assert all(v is None for r in after for v in r[width:]), f"{table}: new columns filled"
    # The old database reads through the new rules.
    ann = {
        (e.transcript_id, e.field, e.value, e.phase)
        for e in labels.current_labels(store, rater="ann", field="alignment_faking")
    }
    # The old release's undo passed over the frozen blind label on #2 (the demo's classifier
    # labels were revealed by it) and took back the revision on #1; "no" on #2 came after.
    assert ann == {
        (1, "alignment_faking", "yes", "blind"),
        (2, "alignment_faking", "yes", "blind"),
        (2, "alignment_faking", "no", "revealed"),
    }
    acts = {
        (e.transcript_id, e.field)
        for e in labels.current_labels(store, rater="ann")
        if e.field.startswith("_")
    }
    assert {(3, "_skip"), (4, "_flag"), (4, "_comment"), (1, "_reveal")} <= acts
    gold = labels.gold_for_item(
        labels.current_labels(store, transcript_ids=[6]), ["alignment_faking"]
    )["alignment_faking"]
    assert (gold.status, gold.value) == ("adjudicated", "yes")
    # Undo keeps working on labels made by the old release: the newest act first.
    undone = labels.undo_last_act(store, "ann")
    assert [(e.transcript_id, e.field) for e in undone.retracted] == [(4, "_comment")]
    store.close()


def test_a_migrated_database_opens_again_unchanged(v1_db: Path) -> None:
    Store(v1_db).close()
    once = raw_rows(v1_db, "_sqlite_migrations")
    Store(v1_db).close()
    assert raw_rows(v1_db, "_sqlite_migrations") == once


def test_a_database_from_a_newer_release_is_refused_untouched(v1_db: Path) -> None:
    conn = sqlite3.connect(v1_db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = v1_db.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer version of reviewer"):
        Store(v1_db)
    assert v1_db.read_bytes() == before
