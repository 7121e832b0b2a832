"""``reviewer merge OTHER.db``: bring in what an offline copy of the database has and this one
lacks.

An annotator labels on a laptop, a classifier runs on another machine; each works on a copy.
Merging adds the other copy's system prompts, rubric versions, transcripts (matched by uid),
classifier runs (matched by name, rubric version, parameters and start time) and label
events (matched by what they say: ``db.labels.merge_events``). Nothing here is changed or
removed, so merging the same copy twice adds nothing, and two copies merged into each other
end with the same live labels. Annotators' queues and the classifier call cache stay with
their copy.

The other copy is read from one snapshot, through a read-only connection. The merge is
recorded as an import (format ``merge``) that its new transcripts and label events point to.
Each chunk commits on its own; a merge that is killed keeps what it wrote, and running it
again completes it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db import labels
from db.bulk import fts_indexed_in_bulk
from db.schema import SCHEMA_VERSION
from db.staging import TRANSCRIPT_COLUMNS

if TYPE_CHECKING:
    from db.store import Store

MERGE_VERSION = "merge-1"
CHUNK = 2000

Progress = Callable[[str, int, int], None]  # (what, done, total)


class MergeError(RuntimeError):
    """The other copy cannot be merged (missing, not a reviewer database, newer, itself)."""


@dataclass
class MergeReport:
    source: Path
    import_id: int
    transcripts_read: int = 0
    transcripts_new: int = 0
    prompts_new: int = 0
    rubrics_new: int = 0
    runs_new: int = 0
    runs_matched: int = 0
    events: labels.MergedEvents = field(default_factory=labels.MergedEvents)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        e = self.events
        return {
            "source": str(self.source),
            "import_id": self.import_id,
            "transcripts": {"read": self.transcripts_read, "new": self.transcripts_new},
            "prompts_new": self.prompts_new,
            "rubric_versions_new": self.rubrics_new,
            "classifier_runs": {"new": self.runs_new, "matched": self.runs_matched},
            "label_events": {
                "read": e.read,
                "new": e.added,
                "present": e.present,
                "already_retracted": e.already_retracted,
                "without_transcript": e.without_transcript,
            },
            "conflicts": self.conflicts,
            "seconds": round(self.seconds, 3),
        }


def _open_other(store: Store, path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise MergeError(f"no database at {path}")
    if path.resolve() == store.path.resolve() or (
        store.path.exists() and os.path.samefile(path, store.path)
    ):
        raise MergeError(f"{path} is this database: give the other copy")
    try:
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None, timeout=5
        )
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise MergeError(f"{path} cannot be read as a database ({exc})") from None
    needed = {"transcripts", "label_events", "prompts", "rubrics", "classifier_runs"}
    if not needed <= names:
        conn.close()
        raise MergeError(
            f"{path} is not a reviewer database (no {', '.join(sorted(needed - names))})"
        )
    if version > SCHEMA_VERSION:
        conn.close()
        raise MergeError(
            f"{path} was written by a newer reviewer (schema {version}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade reviewer to merge it"
        )
    return conn


def merge(
    store: Store, other_path: str | Path, *, on_progress: Progress | None = None
) -> MergeReport:
    """Merge the copy at ``other_path`` into ``store``; see the module docstring."""
    started = time.perf_counter()
    path = Path(other_path)
    other = _open_other(store, path)
    try:
        other.execute("BEGIN")  # one snapshot of the other copy, even if it is being written
        n_transcripts = other.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]
        import_id = store.begin_import(
            str(path),
            "merge",
            sha256=None,
            size_bytes=path.stat().st_size,
            importer_version=MERGE_VERSION,
        )
        report = MergeReport(path, import_id, transcripts_read=n_transcripts)
        try:
            _merge_rows(store, other, report, on_progress)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.finish_import(
                import_id,
                status=status,
                n_read=n_transcripts,
                n_new=report.transcripts_new,
                errors=[{"where": "merge", "reason": f"{type(exc).__name__}: {exc}"}],
            )
            raise
        store.finish_import(
            import_id,
            status="done",
            n_read=n_transcripts,
            n_new=report.transcripts_new,
            n_duplicate=n_transcripts - report.transcripts_new,
        )
    finally:
        other.close()
    report.seconds = time.perf_counter() - started
    return report


def _merge_rows(
    store: Store, other: sqlite3.Connection, report: MergeReport, on_progress: Progress | None
) -> None:
    conn = store.db.conn
    with store.transaction():
        for row in other.execute("SELECT hash, text FROM prompts"):
            report.prompts_new += conn.execute(
                "INSERT OR IGNORE INTO prompts(hash, text) VALUES (?, ?)", row
            ).rowcount
        for row in other.execute(
            "SELECT hash, rubric_id, version, source, origin, created_at FROM rubrics"
        ):
            report.rubrics_new += conn.execute(
                "INSERT OR IGNORE INTO rubrics(hash, rubric_id, version, source, origin, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            ).rowcount
    _merge_transcripts(store, other, report, on_progress)
    run_ids = _merge_runs(store, other, report)
    progress = None if on_progress is None else (lambda d, t: on_progress("label events", d, t))
    report.events = labels.merge_events(
        store, other, run_ids=run_ids, import_id=report.import_id, on_progress=progress
    )
    report.conflicts = labels.blind_conflicts(store, report.events.touched)


def _merge_transcripts(
    store: Store, other: sqlite3.Connection, report: MergeReport, on_progress: Progress | None
) -> None:
    conn = store.db.conn
    columns = ", ".join(TRANSCRIPT_COLUMNS)
    insert = (
        f"INSERT OR IGNORE INTO transcripts({columns}, import_id, created_at) "
        f"VALUES ({', '.join('?' * (len(TRANSCRIPT_COLUMNS) + 2))})"
    )
    rows = other.execute(f"SELECT {columns}, created_at FROM transcripts ORDER BY id")
    done = 0
    while batch := rows.fetchmany(CHUNK):
        with store.transaction(), fts_indexed_in_bulk(store):
            for row in batch:
                report.transcripts_new += conn.execute(
                    insert, (*row[:-1], report.import_id, row[-1])
                ).rowcount
        done += len(batch)
        if on_progress is not None:
            on_progress("transcripts", done, report.transcripts_read)


_RUN_KEY = ("name", "provider", "model", "rubric_hash", "params", "started_at")
_RUN_REST = (
    "prompt_hash",
    "base_url",
    "mode",
    "batch_ids",
    "status",
    "max_cost_usd",
    "finished_at",
)


def _merge_runs(store: Store, other: sqlite3.Connection, report: MergeReport) -> dict[int, int]:
    """Classifier runs: the same run (by ``_RUN_KEY``) maps to the one here, others are
    added. A run still 'running' in the other copy arrives 'interrupted': no process here
    runs it."""
    conn = store.db.conn
    run_ids: dict[int, int] = {}
    match = f"SELECT id FROM classifier_runs WHERE {' AND '.join(f'{c} IS ?' for c in _RUN_KEY)}"
    columns = _RUN_KEY + _RUN_REST
    with store.transaction():
        for other_id, *values in other.execute(
            f"SELECT id, {', '.join(columns)} FROM classifier_runs ORDER BY id"
        ):
            found = conn.execute(match, values[: len(_RUN_KEY)]).fetchone()
            if found is not None:
                run_ids[other_id] = found[0]
                report.runs_matched += 1
                continue
            record = dict(zip(columns, values, strict=True))
            if record["status"] == "running":
                record["status"] = "interrupted"
            record["note"] = f"merged from {report.source} (run {other_id} there)"
            run_ids[other_id] = conn.execute(
                f"INSERT INTO classifier_runs({', '.join(record)}) "
                f"VALUES ({', '.join('?' * len(record))})",
                list(record.values()),
            ).lastrowid
            report.runs_new += 1
    return run_ids
