"""Opening a database made by an older version says it is being upgraded, before the
migration runs (adding an index to every label takes a while on a large database)."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from db import Store
from db.connection import SCHEMA_VERSION, upgrade_due
from reviewer.cli import cli
from tests.factory import transcript


def test_an_older_database_is_upgraded_with_a_notice(tmp_path):
    path = tmp_path / "old.db"
    store = Store(path)
    store.insert_transcripts([transcript(1)])
    store.close()
    assert upgrade_due(path) is None  # up to date
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX label_events_values")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_label_values'")
    conn.commit()
    conn.close()
    assert upgrade_due(path) == (SCHEMA_VERSION - 1, SCHEMA_VERSION)
    result = CliRunner().invoke(cli, ["--db", str(path), "info", "--json"])
    assert result.exit_code == 0, result.output
    assert f"from schema {SCHEMA_VERSION - 1} to {SCHEMA_VERSION}" in result.stderr
    assert upgrade_due(path) is None
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert "label_events_values" in names


def test_no_notice_for_a_new_or_current_database(tmp_path):
    path = tmp_path / "new.db"
    assert upgrade_due(path) is None
    result = CliRunner().invoke(cli, ["--db", str(path), "queue", "list"])
    assert path.exists() and "upgrading" not in result.stderr
    result = CliRunner().invoke(cli, ["--db", str(path), "info", "--json"])
    assert result.exit_code == 0 and "upgrading" not in result.stderr
    (tmp_path / "junk.db").write_bytes(b"not a database at all")
    assert upgrade_due(tmp_path / "junk.db") is None
