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
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.bulk import fts_indexed_in_bulk
from db.models import TranscriptRecord, prompt_hash
from db.store import Store


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, same text, faster.

    ``json.dumps`` builds a new C encoder on every call, which costs more than encoding the
    small label and metadata values it is given here; this builds one and keeps it. No
    circular-reference check: the values come from parsed files.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    if make is None:
        return plain.encode
    encoder = make(None, plain.default, json.encoder.encode_basestring, None, ":", ",",
                   False, False, True)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_encode_json = _json_encoder()

TRANSCRIPT_COLUMNS = (
    "uid", "dataset", "model", "condition", "prompt_variant", "system_prompt_hash", "user_input",
    "scratchpad", "scratchpad_blocks", "output", "turns", "source_path", "source_ref", "metadata",
)  # fmt: skip
LABEL_COLUMNS = (
    "rubric_id", "field", "value", "source", "rater", "phase", "score", "scores", "evidence",
    "note",
)  # fmt: skip
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
        uid, record.dataset, record.model, record.condition, record.prompt_variant, system_hash,
        record.user_input, record.scratchpad,
        _encode_json([list(b) for b in record.scratchpad_blocks]), record.output,
        _encode_json(record.turns), record.source_path, record.source_ref,
        _encode_json(record.metadata),
    )  # fmt: skip
    labels = [
        (
            lab.rubric_id,
            lab.field,
            _encode_json(lab.value),
            lab.source,
            lab.rater,
            "blind" if lab.source == "human" else None,
            lab.score,
            None if lab.scores is None else _encode_json(lab.scores),
            None if lab.evidence is None else _encode_json(lab.evidence),
            lab.note,
        )  # fmt: skip
        for lab in record.labels
    ]
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
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        for suffix in ("", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


_STAGING_SCHEMA = f"""
CREATE TABLE transcripts (seq INTEGER PRIMARY KEY, {", ".join(TRANSCRIPT_COLUMNS)});
CREATE UNIQUE INDEX transcripts_uid ON transcripts(uid);
CREATE TABLE prompts (hash TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, uid TEXT NOT NULL, {", ".join(LABEL_COLUMNS)}
);
CREATE TABLE rubric_hashes (rubric_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
"""


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
        self.conn.executescript(_STAGING_SCHEMA)
        self.conn.execute("BEGIN")
        self.records = 0
        self._insert_transcript = (
            f"INSERT OR IGNORE INTO transcripts(seq, {', '.join(TRANSCRIPT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(TRANSCRIPT_COLUMNS) + 1))})"
        )
        self._insert_label = (
            f"INSERT INTO labels(seq, uid, {', '.join(LABEL_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(LABEL_COLUMNS) + 2))})"
        )

    def add(self, batch: list[Encoded]) -> None:
        rows, labels, prompts = [], [], []
        for row, system, labs in batch:
            self.records += 1
            rows.append((self.records, *row))
            if system is not None:
                prompts.append((row[_SYSTEM_HASH], system))
            labels.extend((self.records, row[0], *lab) for lab in labs)
        self.conn.executemany(self._insert_transcript, rows)
        if prompts:
            self.conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts)
        if labels:
            self.conn.executemany(self._insert_label, labels)

    def finish(self, rubric_hashes: dict[str, str]) -> int:
        """Seal the staging file; returns the number of distinct transcripts staged."""
        self.conn.executemany("INSERT INTO rubric_hashes VALUES (?, ?)", rubric_hashes.items())
        self.conn.execute("CREATE INDEX labels_seq ON labels(seq)")
        self.conn.execute(f"CREATE INDEX labels_key ON labels({', '.join(_LABEL_KEY)}, id)")
        self.conn.execute("COMMIT")
        return self.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]

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
FIRST_CHUNK_ROWS = 200
MAX_CHUNK_ROWS = 20_000

_COPY_TRANSCRIPTS = (
    f"INSERT INTO main.transcripts({', '.join(TRANSCRIPT_COLUMNS)}, import_id, created_at) "
    f"SELECT {', '.join('s.' + c for c in TRANSCRIPT_COLUMNS)}, ?, ? FROM staged.transcripts s "
    "WHERE s.seq >= ? AND s.seq < ? "
    "AND NOT EXISTS (SELECT 1 FROM main.transcripts t WHERE t.uid = s.uid) ORDER BY s.seq"
)
# A label is the same as another when it is for the same transcript, rubric, field, source,
# rater and value (as Store.insert_transcripts has it). Each record's labels are added, for a
# new transcript or a known one (a second rater's file), except those already stored (even if
# retracted since) or carried by an earlier record of the same file: a file imported twice,
# or an interrupted import run again, adds nothing twice.
_LABEL_KEY = ("uid", "rubric_id", "field", "source", "rater", "value")
_COPY_LABELS = (
    f"INSERT INTO main.label_events(transcript_id, rubric_hash, "
    f"{', '.join(LABEL_COLUMNS)}, import_id, created_at) "
    f"SELECT t.id, h.hash, {', '.join('l.' + c for c in LABEL_COLUMNS)}, ?, ? "
    "FROM staged.labels l JOIN main.transcripts t ON t.uid = l.uid "
    "LEFT JOIN staged.rubric_hashes h ON h.rubric_id = l.rubric_id "
    "WHERE l.seq >= ? AND l.seq < ? "
    "AND l.id = (SELECT MIN(f.id) FROM staged.labels f WHERE "
    + " AND ".join(f"f.{c} = l.{c}" for c in _LABEL_KEY)
    + ") AND NOT EXISTS (SELECT 1 FROM main.label_events e WHERE e.transcript_id = t.id AND "
    + " AND ".join(f"e.{c} = l.{c}" for c in _LABEL_KEY[1:])
    + ") ORDER BY l.seq, l.id"
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
            "SELECT MAX((SELECT IFNULL(MAX(seq), 0) FROM staged.transcripts), "
            "(SELECT IFNULL(MAX(seq), 0) FROM staged.labels))"
        ).fetchone()[0]
        start, size = 1, FIRST_CHUNK_ROWS
        while start <= last or result.chunks == 0:
            began = time.perf_counter()
            end = start + size
            conn.execute("BEGIN IMMEDIATE")
            try:
                if result.chunks == 0:
                    if first_chunk is not None:
                        first_chunk()
                    conn.execute(
                        "INSERT OR IGNORE INTO main.prompts(hash, text) "
                        "SELECT hash, text FROM staged.prompts"
                    )
                new, labels = _copy_chunk(store, start, end, import_id, created_at)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
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


def _copy_chunk(
    store: Store, start: int, end: int, import_id: int | None, created_at: str
) -> tuple[int, int]:
    """Records with seq in [start, end): their transcripts that are new by uid, indexed for
    full-text search, and the labels they carry that are not stored yet."""
    conn = store.db.conn
    with fts_indexed_in_bulk(store):  # the chunk indexed with one statement
        new = conn.execute(_COPY_TRANSCRIPTS, (import_id, created_at, start, end)).rowcount
    labels = conn.execute(_COPY_LABELS, (import_id, created_at, start, end)).rowcount
    return new, labels
