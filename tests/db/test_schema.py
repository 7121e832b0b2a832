import sqlite3

import pytest

from db import SchemaTooNewError, Store, connect
from db.connection import BUSY_TIMEOUT_MS
from db.schema import SCHEMA_VERSION

TABLES = {
    "imports",
    "prompts",
    "transcripts",
    "rubrics",
    "label_events",
    "classifier_runs",
    "classifier_calls",
    "queues",
    "assignments",
    "transcripts_fts",
}


def test_blank_database_gets_every_table_and_pragmas(tmp_path):
    db = connect(tmp_path / "new.db")
    assert set(db.table_names()) >= TABLES
    conn = db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # SQLite waits this long per attempt; db.connection.begin_write retries for much longer.
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "again.db"
    connect(path).conn.close()
    db = connect(path)
    rows = db.conn.execute("SELECT name FROM _sqlite_migrations").fetchall()
    assert [r[0] for r in rows] == ["m001_initial"][: len(rows)] or len(rows) == SCHEMA_VERSION
    assert len(rows) == SCHEMA_VERSION


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "future.db"
    connect(path).conn.close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer version of reviewer"):
        Store(path)
    assert path.read_bytes() == before


def test_two_connections_opening_a_new_file_both_succeed(tmp_path):
    path = tmp_path / "race.db"
    a = connect(path)
    b = connect(path)
    assert a.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 0
    assert b.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 0


def test_a_database_from_before_the_design_columns_gains_them_with_unknown_design(tmp_path):
    """m003_assignment_design on a database that has queues already: their assignments keep
    an unknown design (NULL), which analyze reports as such."""
    path = tmp_path / "old.db"
    connect(path).conn.close()
    raw = sqlite3.connect(path)  # take it back to the schema before the migration
    raw.execute("ALTER TABLE assignments DROP COLUMN inclusion_probability")
    raw.execute("ALTER TABLE assignments DROP COLUMN stratum")
    raw.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_assignment_design'")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    raw.execute("INSERT INTO transcripts(uid, created_at) VALUES ('u1', 'now')")
    raw.execute("INSERT INTO queues(name, kind, created_at) VALUES ('old', 'random', 'now')")
    raw.execute(
        "INSERT INTO assignments(queue, transcript_id, position, reason, created_at) "
        "VALUES ('old', 1, 0, 'random (seed 0)', 'now')"
    )
    raw.commit()
    raw.close()
    db = connect(path)
    row = db.conn.execute("SELECT inclusion_probability, stratum FROM assignments").fetchone()
    assert row == (None, None)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute("UPDATE assignments SET inclusion_probability = 1.5")
