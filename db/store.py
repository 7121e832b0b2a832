"""The store API: every read and write the rest of the project makes goes through here.

One SQLite connection per thread (a connection made on the UI thread cannot be used in a
worker thread). Label events are append-only: undo is a retraction event, and the current
label of an item is derived from the events, never stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db import labels
from db._sqlite_utils import Database
from db.connection import WRITE_WAIT_SECONDS, BusyListener, connect, write_transaction
from db.labels import encode_json as _dumps
from db.labels import utc_now
from db.models import LabelEvent, TranscriptRecord, prompt_hash

INSERT_BATCH = 2000


@dataclass
class InsertResult:
    new: int = 0
    duplicate: int = 0
    labels: int = 0


# Rows ANALYZE looks at per index when ``PRAGMA optimize`` runs as a connection closes: enough
# for the planner's choices, and a bounded cost however large the tables (SQLite's advice).
CLOSE_ANALYSIS_LIMIT = 1000


def optimize_before_close(conn: sqlite3.Connection) -> None:
    """``PRAGMA optimize`` as a connection closes, as SQLite advises for long-lived ones: it
    analyzes only the tables this connection's queries would have planned better with fresh
    statistics, usually none (then it costs microseconds). Skipped when it cannot write
    (read-only file, another writer holding the lock): statistics are an optimisation."""
    if conn.in_transaction:
        return
    try:
        conn.execute(f"PRAGMA analysis_limit = {CLOSE_ANALYSIS_LIMIT}")
        conn.execute("PRAGMA optimize")
    except sqlite3.Error:
        pass


class Store:
    """A reviewer database. Safe to share between threads: each gets its own connection."""

    def __init__(
        self,
        path: str | Path,
        *,
        write_wait_seconds: float = WRITE_WAIT_SECONDS,
        on_busy: BusyListener | None = None,
    ):
        self.path = Path(path)
        # How long a write waits for another process's write lock, and who is told meanwhile.
        self.write_wait_seconds = write_wait_seconds
        self.on_busy = on_busy
        self._local = threading.local()
        self._connections: list[Database] = []
        self._lock = threading.Lock()
        _ = self.db  # open (and migrate) now, so errors surface at construction
        # Imports and classifier runs left 'running' by a process that died are marked
        # interrupted, with the counts they committed (db/operations.py).
        from db.operations import reconcile_interrupted

        self.reconciled = reconcile_interrupted(self)

    # -- connections -------------------------------------------------------------------

    @property
    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Run a read query on this thread's connection and return all rows."""
        return self.db.conn.execute(sql, tuple(params)).fetchall()

    def optimize(self) -> None:
        """Gather the planner's statistics where SQLite thinks they are due (``PRAGMA
        optimize``, with ANALYZE of tables that never had any): recommended after bulk loads
        and before closing a connection that wrote a lot."""
        conn = self.db.conn
        if (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
            is None
        ):
            conn.execute("ANALYZE")
        conn.execute("PRAGMA optimize")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            optimize_before_close(db.conn)
            db.conn.close()
            self._local.db = None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All writes inside commit together or not at all (nests as savepoints).

        The write lock is taken up front and waited for (``write_wait_seconds``); a database
        that stays busy longer raises ``DatabaseBusyError`` having written nothing."""
        db = self.db
        with write_transaction(db.conn, wait_seconds=self.write_wait_seconds, on_wait=self.on_busy):
            yield db

    # -- prompts and transcripts ---------------------------------------------------------

    def ensure_prompt(self, text: str) -> str:
        digest = prompt_hash(text)
        with self.transaction() as db:
            db.conn.execute(
                "INSERT OR IGNORE INTO prompts(hash, text) VALUES (?, ?)", (digest, text)
            )
        return digest

    def insert_transcripts(
        self,
        records: Iterable[TranscriptRecord],
        *,
        import_id: int | None = None,
        rubric_hashes: dict[str, str] | None = None,
    ) -> InsertResult:
        """Insert records in one transaction; records whose uid exists are counted, not added.

        The same path as a file import (``db.staging``), batch by batch: one encoder, and one
        rule for labels: a known transcript gains the labels it lacks, never one twice.
        """
        result = InsertResult()
        rubric_hashes = rubric_hashes or {}
        now = utc_now()
        with self.transaction():
            batch: list[TranscriptRecord] = []
            for record in records:
                batch.append(record)
                if len(batch) >= INSERT_BATCH:
                    self._insert_batch(batch, import_id, rubric_hashes, now, result)
                    batch = []
            if batch:
                self._insert_batch(batch, import_id, rubric_hashes, now, result)
        return result

    def _insert_batch(self, batch, import_id, rubric_hashes, now, result) -> None:
        from db.staging import insert_records

        new, added = insert_records(
            self, batch, import_id=import_id, rubric_hashes=rubric_hashes, created_at=now
        )
        result.new += new
        result.duplicate += len(batch) - new
        result.labels += added

    def transcript(self, transcript_id: int) -> dict[str, Any] | None:
        """One transcript with its system prompt text and decoded JSON columns."""
        cur = self.db.conn.execute(
            "SELECT t.*, p.text AS system_prompt FROM transcripts t "
            "LEFT JOIN prompts p ON p.hash = t.system_prompt_hash WHERE t.id = ?",
            (transcript_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        item = dict(zip([c[0] for c in cur.description], row, strict=True))
        for key in ("scratchpad_blocks", "turns", "metadata"):
            item[key] = json.loads(item[key])
        return item

    def transcript_count(self) -> int:
        return self.db.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]

    def transcript_ids(
        self,
        *,
        model: str | None = None,
        condition: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[int]:
        where, params = [], []
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if condition is not None:
            where.append("condition = ?")
            params.append(condition)
        sql = "SELECT id FROM transcripts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
        return [r[0] for r in self.db.conn.execute(sql, params)]

    def search(self, query: str, *, limit: int = 100) -> list[int]:
        """Transcript ids whose scratchpad or output matches an FTS5 query (as a phrase)."""
        phrase = '"' + query.replace('"', '""') + '"'
        rows = self.db.conn.execute(
            "SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ? ORDER BY rowid "
            "LIMIT ?",
            (phrase, limit),
        )
        return [r[0] for r in rows]

    # -- rubrics -------------------------------------------------------------------------

    def register_rubric(
        self, rubric_id: str, version: str, source: str, digest: str, origin: str | None = None
    ) -> str:
        """Record a rubric version (idempotent by content hash) and return its hash."""
        with self.transaction() as db:
            db.conn.execute(
                "INSERT OR IGNORE INTO rubrics(hash, rubric_id, version, source, origin, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (digest, rubric_id, version, source, origin, utc_now()),
            )
        return digest

    def rubric_versions(self, rubric_id: str) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(
            "SELECT hash, rubric_id, version, origin, created_at FROM rubrics "
            "WHERE rubric_id = ? ORDER BY created_at",
            (rubric_id,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # -- imports -------------------------------------------------------------------------

    def begin_import(
        self,
        path: str,
        fmt: str,
        *,
        sha256: str | None,
        size_bytes: int | None,
        importer_version: str,
        options: dict[str, Any] | None = None,
    ) -> int:
        from db.operations import owner_values

        with self.transaction() as db:
            cur = db.conn.execute(
                "INSERT INTO imports(path, format, sha256, size_bytes, importer_version, "
                "options, started_at, pid, host, pid_started) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    path,
                    fmt,
                    sha256,
                    size_bytes,
                    importer_version,
                    _dumps(options or {}),
                    utc_now(),
                    *owner_values(),
                ),
            )
        return cur.lastrowid

    def finish_import(
        self,
        import_id: int,
        *,
        status: str,
        n_read: int = 0,
        n_new: int = 0,
        n_duplicate: int = 0,
        n_rejected: int = 0,
        errors: list[Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            db.conn.execute(
                "UPDATE imports SET status = ?, n_read = ?, n_new = ?, n_duplicate = ?, "
                "n_rejected = ?, errors = ?, finished_at = ? WHERE id = ?",
                (
                    status,
                    n_read,
                    n_new,
                    n_duplicate,
                    n_rejected,
                    _dumps(errors or []),
                    utc_now(),
                    import_id,
                ),
            )

    def imports(self) -> list[dict[str, Any]]:
        cur = self.db.conn.execute("SELECT * FROM imports ORDER BY id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # -- label events: every write and filter lives in db.labels ------------------------------

    def append_label(self, transcript_id: int, **columns: Any) -> int:
        """Append one label event and commit it at once; returns its id (``labels.append``)."""
        return labels.append(self, transcript_id, **columns)

    def retract(self, event_id: int, *, rater: str | None = None, note: str | None = None) -> int:
        """Append an event that withdraws ``event_id`` (``labels.retract``)."""
        return labels.retract(self, event_id, rater=rater, note=note)

    def events(self, **filters: Any) -> list[LabelEvent]:
        """Every event, retractions included, oldest first (``labels.events``)."""
        return labels.events(self, **filters)

    def current_labels(self, **filters: Any) -> list[LabelEvent]:
        """The current label per (transcript, rubric, field, rater, phase)
        (``labels.current_labels``)."""
        return labels.current_labels(self, **filters)

    # -- summaries -----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What the database holds: transcripts by model and condition, label events by source
        (``labels.event_counts`` says what each count means), and the imports and classifier
        runs that did not finish (``db.operations.unfinished``). The counts are kept by
        triggers as rows are written (migration m005), so this reads a few rows at any size."""
        from db.operations import unfinished
        from db.schema import transcript_counts

        conn = self.db.conn
        by_model = transcript_counts(conn)
        return {
            "path": str(self.path),
            "transcripts": sum(n for _m, _c, n in by_model),
            "by_model_condition": [
                {"model": m, "condition": c, "transcripts": n} for m, c, n in by_model
            ],
            **labels.event_counts(self),
            "imports": conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0],
            "rubric_versions": conn.execute("SELECT COUNT(*) FROM rubrics").fetchone()[0],
            "unfinished": unfinished(self),
        }
