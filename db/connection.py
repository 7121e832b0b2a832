"""Opening a database: pragmas, migrations, and a guard against newer schemas."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from db._sqlite_utils import sqlite_utils
from db.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 10_000


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer reviewer; we refuse to touch it."""


def default_db_path() -> Path:
    """$REVIEWER_DB, else reviewer.db under $XDG_DATA_HOME (~/.local/share) /reviewer."""
    env = os.environ.get("REVIEWER_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "reviewer" / "reviewer.db"


def _raw_connection(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def stored_schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def connect(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) a reviewer database and bring its schema up to date.

    Refuses, without writing anything, a database whose schema is newer than this code knows.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = _raw_connection(path)
    version = stored_schema_version(conn)
    if version > SCHEMA_VERSION:
        conn.close()
        raise SchemaTooNewError(
            f"{path} was written by a newer version of reviewer (schema {version}; this one "
            f"knows up to {SCHEMA_VERSION}). Upgrade reviewer to open it; nothing was changed."
        )
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    db = sqlite_utils.Database(conn, execute_plugins=False)
    if migrate and version < SCHEMA_VERSION:
        # An immediate transaction: two processes opening a new database at once must not
        # both try to create the tables. Migrations nest inside it as savepoints.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if stored_schema_version(conn) < SCHEMA_VERSION:
                MIGRATIONS.apply(db)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return db
