"""Staging an import in a file of its own, then copying it into the database in short steps.

An import must not hold the database's write lock for the whole file: an annotator saving a
label, or a classifier run, would wait behind it and fail after the busy timeout. And a
malformed file must not leave half of itself behind. So an import goes in two phases:

1. every record is read, checked and encoded into a staging SQLite file beside the database
   (no lock on the database is taken; a bad record stops here and the file is deleted);
2. the staged rows are copied into the database in chunks, each its own short ``BEGIN
   IMMEDIATE`` transaction (transcripts new by uid, their full-text index entries and their
   labels together), with a pause between chunks so that a waiting writer gets its turn.

Only a crash or an interrupt can stop phase 2 midway. Every chunk is whole, and a transcript
and its labels always commit together, so importing the same file again completes the import:
transcripts already there are duplicates, and their labels are not added twice.
"""

from __future__ import annotations

import glob
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from db.bulk import fts_indexed_in_bulk
from db.labels import (
    STAGED_LABEL_COLUMNS,
    STAGED_LABEL_KEY,
    copy_staged_labels,
    encode_json,
    staged_label_row,
)
from db.models import TranscriptRecord, prompt_hash

if TYPE_CHECKING:
    from db.store import Store


TRANSCRIPT_COLUMNS = (
    "uid",
    "dataset",
    "model",
    "condition",
    "prompt_variant",
    "system_prompt_hash",
    "user_input",
    "scratchpad",
    "scratchpad_blocks",
    "output",
    "turns",
    "source_path",
    "source_ref",
    "metadata",
)
_SYSTEM_HASH = TRANSCRIPT_COLUMNS.index("system_prompt_hash")

# One encoded record: (transcript row in TRANSCRIPT_COLUMNS order, system prompt text or None
# when already sent, label rows in LABEL_COLUMNS order). Plain tuples: they cross a pipe.
Encoded = tuple[tuple, str | None, list[tuple]]


def encode(record: TranscriptRecord, *, send_prompt: bool = True) -> Encoded:
    """A record as the rows it will become, every JSON column already serialised."""
    uid = record.uid
    # An empty prompt is not stored (as Store.insert_transcripts does).
    system_hash = prompt_hash(record.system_prompt) if record.system_prompt else None
    row = (
        uid,
        record.dataset,
        record.model,
        record.condition,
        record.prompt_variant,
        system_hash,
        record.user_input,
        record.scratchpad,
        encode_json([list(b) for b in record.scratchpad_blocks]),
        record.output,
        encode_json(record.turns),
        record.source_path,
        record.source_ref,
        encode_json(record.metadata),
    )
    labels = [staged_label_row(lab) for lab in record.labels]
    system = record.system_prompt if (system_hash and send_prompt) else None
    return row, system, labels


class PromptDeduper:
    """Sends each system prompt's text once per file; the same prompt heads most records."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def encode(self, record: TranscriptRecord) -> Encoded:
        digest = None if not record.system_prompt else prompt_hash(record.system_prompt)
        fresh = digest is not None and digest not in self._seen
        if fresh:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            self._seen.add(digest)
        return encode(record, send_prompt=fresh)


def staging_path_for(db_path: Path, import_id: int) -> Path:
    return db_path.with_name(f"{db_path.name}.import-{import_id}-{os.getpid()}.staging")


def remove_stale_staging(db_path: Path) -> list[Path]:
    """Delete staging files left by killed imports (their process is gone); returns them.

    A file whose process still runs belongs to an import in progress and is left alone.
    """
    removed = []
    for path in db_path.parent.glob(f"{glob.escape(db_path.name)}.import-*-*.staging"):
        pid_text = path.name[: -len(".staging")].rsplit("-", 1)[-1]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or process_alive(int(pid_text)):
            continue
        for suffix in ("", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _staging_schema(schema: str) -> str:
    """The staging tables, in a file of their own or in the connection's ``temp`` schema."""
    return f"""
CREATE TABLE {schema}.staged_transcripts (seq INTEGER PRIMARY KEY, {", ".join(TRANSCRIPT_COLUMNS)});
CREATE UNIQUE INDEX {schema}.staged_transcripts_uid ON staged_transcripts(uid);
CREATE TABLE {schema}.staged_prompts (hash TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE {schema}.staged_labels (
    id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, uid TEXT NOT NULL,
    {", ".join(STAGED_LABEL_COLUMNS)}
);
CREATE TABLE {schema}.staged_rubric_hashes (rubric_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
"""


def _staging_indexes(schema: str) -> str:
    return f"""
CREATE INDEX {schema}.staged_labels_seq ON staged_labels(seq);
CREATE INDEX {schema}.staged_labels_key ON staged_labels({", ".join(STAGED_LABEL_KEY)}, id);
"""


def _run_script(conn, script: str) -> None:
    """One statement at a time: ``executescript`` would commit the caller's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _insert_sql(schema: str) -> tuple[str, str, str]:
    return (
        f"INSERT OR IGNORE INTO {schema}.staged_transcripts(seq, {', '.join(TRANSCRIPT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * (len(TRANSCRIPT_COLUMNS) + 1))})",
        f"INSERT INTO {schema}.staged_labels(seq, uid, {', '.join(STAGED_LABEL_COLUMNS)}) "
        f"VALUES ({', '.join('?' * (len(STAGED_LABEL_COLUMNS) + 2))})",
        f"INSERT OR IGNORE INTO {schema}.staged_prompts VALUES (?, ?)",
    )


def _stage(conn, sql: tuple[str, str, str], first_seq: int, batch: list[Encoded]) -> int:
    """Write encoded records with consecutive sequence numbers; returns the next number."""
    insert_transcript, insert_label, insert_prompt = sql
    rows, labels, prompts = [], [], []
    seq = first_seq
    for row, system, labs in batch:
        rows.append((seq, *row))
        if system is not None:
            prompts.append((row[_SYSTEM_HASH], system))
        labels.extend((seq, row[0], *lab) for lab in labs)
        seq += 1
    conn.executemany(insert_transcript, rows)
    if prompts:
        conn.executemany(insert_prompt, prompts)
    if labels:
        conn.executemany(insert_label, labels)
    return seq


class Staging:
    """The staging file of one import: written by this process only, deleted at the end.

    Within-file duplicate transcripts are dropped here (the first record with a uid wins);
    every record's labels are kept, with the record's sequence number and uid, and sorted out
    at the copy (see ``_COPY_LABELS``).
    """

    def __init__(self, path: Path):
        self.path = path
        self.remove()
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        # Scratch data: no journal, no fsync. A crash loses it, and the import is re-run.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -16384")
        self.conn.executescript(_staging_schema("main"))
        self.conn.execute("BEGIN")
        self.records = 0
        self._sql = _insert_sql("main")

    def add(self, batch: list[Encoded]) -> None:
        self.records = _stage(self.conn, self._sql, self.records + 1, batch) - 1

    def finish(self, rubric_hashes: dict[str, str]) -> int:
        """Seal the staging file; returns the number of distinct transcripts staged."""
        self.conn.executemany(
            "INSERT INTO staged_rubric_hashes VALUES (?, ?)", rubric_hashes.items()
        )
        _run_script(self.conn, _staging_indexes("main"))
        self.conn.execute("COMMIT")
        return self.conn.execute("SELECT COUNT(*) FROM staged_transcripts").fetchone()[0]

    def close(self) -> None:
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None

    def remove(self) -> None:
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)


@dataclass
class CopyResult:
    new: int = 0
    labels: int = 0
    chunks: int = 0
    longest_chunk_seconds: float = 0.0


# Each chunk aims at this long a write transaction; then the copy leaves the lock free for
# longer than SQLite's longest busy-handler sleep (100 ms), so a waiting writer always gets in.
CHUNK_SECONDS = 0.5
PAUSE_SECONDS = 0.11
# The first chunk measures how long a row takes; each later one grows at most fourfold. 500
# rows take 0.06-0.1 s on the 2-core development machine (a quarter of a second would take
# 2 ms a row), and reach the half second in three chunks, not four: each chunk fewer is a
# pause, a checkpoint and a commit fewer (about 0.15 s of a 50 MB import's 1.4 s copy).
FIRST_CHUNK_ROWS = 500
MAX_CHUNK_ROWS = 20_000


def _copy_transcripts_sql(schema: str) -> str:
    return (
        f"INSERT INTO main.transcripts({', '.join(TRANSCRIPT_COLUMNS)}, import_id, created_at) "
        f"SELECT {', '.join('s.' + c for c in TRANSCRIPT_COLUMNS)}, ?, ? "
        f"FROM {schema}.staged_transcripts s WHERE s.seq >= ? AND s.seq < ? "
        "AND NOT EXISTS (SELECT 1 FROM main.transcripts t WHERE t.uid = s.uid) ORDER BY s.seq"
    )


def copy_staged(
    store: Store,
    staging_path: Path,
    *,
    import_id: int | None,
    created_at: str,
    first_chunk: Callable[[], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[CopyResult], None] | None = None,
    chunk_seconds: float | None = None,
    pause_seconds: float | None = None,
) -> CopyResult:
    """Copy a sealed staging file into the store (this thread's connection), chunk by chunk.

    ``first_chunk`` runs inside the first transaction (e.g. to register rubric versions);
    ``on_chunk`` is told the running totals after each commit. Chunk sizes adapt so that
    each transaction lasts about ``chunk_seconds``.
    """
    conn = store.db.conn
    if conn.in_transaction:
        raise RuntimeError("copy_staged commits chunk by chunk: call it outside a transaction")
    chunk_seconds = CHUNK_SECONDS if chunk_seconds is None else chunk_seconds
    pause_seconds = PAUSE_SECONDS if pause_seconds is None else pause_seconds
    result = CopyResult()
    # Checkpoints are run by hand between chunks, after the write lock is released: the
    # automatic one would run inside COMMIT, and be counted as part of the lock window.
    autocheckpoint = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("ATTACH DATABASE ? AS staged", (str(staging_path),))
    try:
        last = conn.execute(  # a duplicate record at the end may have only labels staged
            "SELECT MAX((SELECT IFNULL(MAX(seq), 0) FROM staged.staged_transcripts), "
            "(SELECT IFNULL(MAX(seq), 0) FROM staged.staged_labels))"
        ).fetchone()[0]
        start, size = 1, FIRST_CHUNK_ROWS
        while start <= last or result.chunks == 0:
            began = time.perf_counter()
            end = start + size
            with store.transaction():
                if result.chunks == 0:
                    if first_chunk is not None:
                        first_chunk()
                    _copy_prompts(conn, "staged")
                new, labels = _copy_chunk(store, "staged", start, end, import_id, created_at)
            elapsed = time.perf_counter() - began
            result.new += new
            result.labels += labels
            result.chunks += 1
            result.longest_chunk_seconds = max(result.longest_chunk_seconds, elapsed)
            start = end
            if on_chunk is not None:
                on_chunk(result)
            if on_progress is not None:
                on_progress(min(start - 1, last), last)
            grow = chunk_seconds / max(elapsed, 1e-3)
            size = max(1, min(MAX_CHUNK_ROWS, int(size * min(grow, 4.0))))
            # The lock is free from here: checkpointing (no writer lock needed) uses the
            # pause, and the sleep makes up the rest of it.
            paused = time.perf_counter()
            conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
            rest = pause_seconds - (time.perf_counter() - paused)
            if start <= last and rest > 0:
                time.sleep(rest)
    finally:
        conn.execute("DETACH DATABASE staged")
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
    return result


def _copy_prompts(conn, schema: str) -> None:
    conn.execute(
        f"INSERT OR IGNORE INTO main.prompts(hash, text) SELECT hash, text FROM {schema}.staged_prompts"
    )


def _copy_chunk(
    store: Store, schema: str, start: int, end: int, import_id: int | None, created_at: str
) -> tuple[int, int]:
    """Records with seq in [start, end): their transcripts that are new by uid, indexed for
    full-text search, and the labels they carry that are not stored yet."""
    conn = store.db.conn
    before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM main.transcripts").fetchone()[0]
    with fts_indexed_in_bulk(store):  # the chunk indexed with one statement
        new = conn.execute(
            _copy_transcripts_sql(schema), (import_id, created_at, start, end)
        ).rowcount
    labels = copy_staged_labels(
        conn,
        schema=schema,
        start=start,
        end=end,
        import_id=import_id,
        created_at=created_at,
        new_after=before,
    )
    return new, labels


def insert_records(
    store: Store,
    records: list[TranscriptRecord],
    *,
    import_id: int | None,
    rubric_hashes: dict[str, str],
    created_at: str,
) -> tuple[int, int]:
    """Insert a batch of records in the caller's write transaction, through the same staged
    rows and the same copy as a file import (staged in the connection's ``temp`` schema).
    Returns (new transcripts, new label events)."""
    deduper = PromptDeduper()
    return insert_encoded(
        store,
        [deduper.encode(r) for r in records],
        import_id=import_id,
        rubric_hashes=rubric_hashes,
        created_at=created_at,
    )


def insert_encoded(
    store: Store,
    encoded: list[Encoded],
    *,
    import_id: int | None,
    rubric_hashes: dict[str, str],
    created_at: str,
) -> tuple[int, int]:
    """``insert_records`` for records already encoded (maybe in another process): in the
    caller's write transaction. A record whose system prompt text was not sent refers to a
    prompt the database must hold already. Returns (new transcripts, new label events)."""
    conn = store.db.conn
    if (
        conn.execute(
            "SELECT 1 FROM temp.sqlite_master WHERE name = 'staged_transcripts'"
        ).fetchone()
        is None
    ):
        _run_script(conn, _staging_schema("temp") + _staging_indexes("temp"))
    for table in ("staged_transcripts", "staged_labels", "staged_prompts", "staged_rubric_hashes"):
        conn.execute(f"DELETE FROM temp.{table}")
    conn.executemany("INSERT INTO temp.staged_rubric_hashes VALUES (?, ?)", rubric_hashes.items())
    end = _stage(conn, _insert_sql("temp"), 1, encoded)
    _copy_prompts(conn, "temp")
    return _copy_chunk(store, "temp", 1, end, import_id, created_at)
