"""Opening a database: pragmas, migrations, and a guard against newer schemas."""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from db._sqlite_utils import Database
from db.schema import MIGRATIONS, SCHEMA_VERSION

# SQLite's own busy handler waits up to this long for a lock in one attempt. Short: past its
# first ~100 ms the handler sleeps 100 ms between looks, and a writer that looks that rarely
# loses the lock, again and again, to writers that happen to look when it is free ...
BUSY_TIMEOUT_MS = 250
# ... and a writer asks again, with a growing pause, until it has waited this long in all.
# Two minutes: longer than any write this project makes holds the lock (an import's chunk
# is about half a second), short enough that a stuck database is reported, not waited out.
WRITE_WAIT_SECONDS = 120.0

# Told (seconds waited so far) about once a second while a writer waits for the lock.
BusyListener = Callable[[float], None]


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer reviewer; we refuse to touch it."""


class DatabaseBusyError(sqlite3.OperationalError):
    """Another process held the write lock for longer than a writer waits. Nothing was
    written; the caller still has what it meant to write and may try again."""


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def begin_write(
    conn: sqlite3.Connection,
    *,
    wait_seconds: float = WRITE_WAIT_SECONDS,
    on_wait: BusyListener | None = None,
) -> None:
    """Start a write transaction that holds the write lock from its first statement.

    A deferred ``BEGIN`` that reads before it writes cannot wait for the lock: when another
    connection has written meanwhile, SQLite answers busy at once, busy timeout or not. So
    every write transaction begins ``IMMEDIATE``, and a busy answer is retried after a short
    jittered pause (growing to 50 ms, so waiting writers keep looking often) until
    ``wait_seconds`` have passed; then ``DatabaseBusyError``.
    """
    started = time.monotonic()
    pause = 0.005
    told = 0
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                raise DatabaseBusyError(
                    f"the database stayed busy for {waited:.0f} s (another process kept the "
                    "write lock); nothing was written"
                ) from None
            if on_wait is not None and int(waited) > told:
                told = int(waited)
                on_wait(waited)
            time.sleep(min(pause * random.random(), wait_seconds - waited))
            pause = min(pause * 2, 0.05)


@contextmanager
def write_transaction(
    conn: sqlite3.Connection,
    *,
    wait_seconds: float = WRITE_WAIT_SECONDS,
    on_wait: BusyListener | None = None,
) -> Iterator[sqlite3.Connection]:
    """All writes inside commit together or not at all, under the write lock taken up front.

    Inside another transaction this nests as a savepoint (the lock is already held).
    """
    if conn.in_transaction:
        name = f"nested_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # an error may already have ended the transaction
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    begin_write(conn, wait_seconds=wait_seconds, on_wait=on_wait)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def write_if_free(conn: sqlite3.Connection) -> Iterator[bool]:
    """A write transaction begun only if the write lock is free at once, for writes that may
    be skipped (a cache): yields whether it began. Never waits, never raises for a busy or
    read-only database; a body that raises is rolled back and the error passes on."""
    if conn.in_transaction:
        yield False
        return
    timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        began = False
    else:
        began = True
    finally:
        conn.execute(f"PRAGMA busy_timeout = {timeout}")
    if not began:
        yield False
        return
    try:
        yield True
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if conn.in_transaction:
        conn.execute("COMMIT")


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Every read inside sees the database as it was at the first: one deferred transaction
    (in WAL mode a reader holds its snapshot and never blocks a writer). Inside a transaction
    already open, that transaction's view is used."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


@contextmanager
def reading_connection(path: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection of its own that only reads (``query_only``): no migration, no
    reconciling, for a thread that reads beside the store's connection. Closed on leaving."""
    conn = _raw_connection(path)
    try:
        conn.execute("PRAGMA query_only = ON")
        yield conn
    finally:
        conn.close()


def stored_schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade_due(path: str | Path) -> tuple[int, int] | None:
    """(stored schema, this code's schema) when opening ``path`` will migrate a database
    that already has data, else None: for a notice before a migration that may take a while
    (m006 indexes every label: about 20 s at 3,000,000 labels). Writes nothing."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = stored_schema_version(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # not a database (opening it says so)
    return (version, SCHEMA_VERSION) if 0 < version < SCHEMA_VERSION else None


def connect(path: str | Path, *, migrate: bool = True) -> Database:
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
    db = Database(conn)
    if migrate and version < SCHEMA_VERSION:
        # Under the write lock: two processes opening a new database at once must not both
        # try to create the tables. Migrations nest inside it as savepoints.
        with write_transaction(conn):
            if stored_schema_version(conn) < SCHEMA_VERSION:
                MIGRATIONS.apply(db)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return db
