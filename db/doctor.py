"""``reviewer doctor``: is the database whole, and what can safely be put right.

Examining writes nothing (it does not even migrate or reconcile, so it reports the database
as it is). Each check says ``ok``, ``warning`` (worth knowing, not wrong) or ``problem``; a
database is healthy when no check finds a problem. Repair does only what cannot lose a
label: recreate the append-only triggers, the full-text triggers and the live-label view from
their definitions (db/schema.py ``GUARDED_OBJECTS``), rebuild the full-text index from the
transcripts, mark imports and classifier runs whose process is gone ``interrupted`` with
their true counts, migrate an older schema, and checkpoint the write-ahead log. Damage it
cannot repair (a failed integrity check, rows pointing at missing rows) is reported with
what to do instead.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from db import labels
from db.connection import BUSY_TIMEOUT_MS, write_transaction
from db.operations import owner_state
from db.schema import (
    GUARDED_OBJECTS,
    SCHEMA_VERSION,
    rebuild_transcript_counts,
    recount_transcripts,
    same_definition,
    transcript_counts,
)

OK, WARNING, PROBLEM = "ok", "warning", "problem"
# A write-ahead log bigger than this means checkpoints are being held off (a reader that
# never lets go): worth a warning.
WAL_WARN_BYTES = 256 * 1024 * 1024
FTS_TABLE = "transcripts_fts"


class DoctorError(RuntimeError):
    """The file cannot be examined at all (missing, or not a reviewer database)."""


@dataclass
class Check:
    name: str
    status: str
    detail: str
    repairable: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Examination:
    path: Path
    schema_version: int
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(c.status != PROBLEM for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "healthy": self.healthy,
            "schema_version": self.schema_version,
            "schema_version_known": SCHEMA_VERSION,
            "checks": [c.as_dict() for c in self.checks],
        }


class _Reader:
    """What db.labels' readers take (``.db.conn``), over a plain connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.db = self
        self.conn = conn


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise DoctorError(f"no database at {path}")
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DoctorError(f"{path} is not a SQLite database ({exc})") from None
    if not {"transcripts", "label_events"} <= names:
        conn.close()
        raise DoctorError(f"{path} is not a reviewer database (no transcripts or label events)")
    return conn


def examine(path: str | Path, *, quick: bool = False) -> Examination:
    """Run every check; ``quick`` uses ``quick_check`` and skips the full-text index's own
    integrity check (both read the whole file)."""
    path = Path(path)
    conn = _open(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        checks = [
            _schema(version),
            _integrity(conn, quick),
            _foreign_keys(conn),
            _guards(conn),
            _fts(conn, quick),
            _wal(path),
            *_unfinished(conn, version),
            _orphans(conn),
            _label_counts(conn),
            _label_cache(conn, version),
        ]
    finally:
        conn.close()
    return Examination(path, version, checks)


def _schema(version: int) -> Check:
    if version > SCHEMA_VERSION:
        return Check(
            "schema",
            PROBLEM,
            f"schema {version} is newer than this reviewer knows "
            f"({SCHEMA_VERSION}): upgrade reviewer",
            facts={"version": version},
        )
    if version < SCHEMA_VERSION:
        return Check(
            "schema",
            WARNING,
            f"schema {version} of {SCHEMA_VERSION}: migrated by the "
            "next command that opens it (or --repair)",
            True,
            {"version": version},
        )
    return Check("schema", OK, f"schema {version} (current)", facts={"version": version})


def _integrity(conn: sqlite3.Connection, quick: bool) -> Check:
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows == ["ok"]:
        return Check("integrity", OK, f"{pragma}: ok")
    return Check(
        "integrity",
        PROBLEM,
        f"{pragma} found {len(rows)}{'+' if len(rows) >= 20 else ''}"
        f" problem(s), e.g. {rows[0]}. Not repairable here: restore the latest "
        "`reviewer backup`, or try `sqlite3 DB .recover`",
        facts={"messages": rows},
    )


def _foreign_keys(conn: sqlite3.Connection) -> Check:
    found = Counter(
        (t, parent) for t, _rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check")
    )
    if not found:
        return Check("foreign keys", OK, "every reference points at a row")
    what = ", ".join(f"{n:,} in {t} -> {p}" for (t, p), n in sorted(found.items()))
    return Check(
        "foreign keys",
        PROBLEM,
        f"rows pointing at missing rows: {what}. Not "
        "repairable here (nothing is deleted): restore a backup or merge the missing "
        "rows back",
        facts={f"{t}->{p}": n for (t, p), n in found.items()},
    )


def _guards(conn: sqlite3.Connection) -> Check:
    stored = {
        name: (kind, sql)
        for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')"
        )
    }
    missing, altered = [], []
    for name, (kind, _table, definition) in GUARDED_OBJECTS.items():
        if name not in stored or stored[name][0] != kind:
            missing.append(name)
        elif not same_definition(stored[name][1], definition):
            altered.append(name)
    facts = {"missing": missing, "altered": altered}
    if not missing and not altered:
        return Check(
            "triggers and view", OK, f"all {len(GUARDED_OBJECTS)} present as defined", facts=facts
        )
    parts = ([f"missing: {', '.join(missing)}"] if missing else []) + (
        [f"not as defined: {', '.join(altered)}"] if altered else []
    )
    return Check(
        "triggers and view",
        PROBLEM,
        "; ".join(parts) + ". The append-only rule or the search index is not guarded",
        True,
        facts,
    )


def _fts(conn: sqlite3.Connection, quick: bool) -> Check:
    transcripts = conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]
    try:
        indexed = conn.execute(f"SELECT COUNT(*) FROM {FTS_TABLE}_docsize").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return Check("full-text index", PROBLEM, f"cannot be read ({exc})", True)
    facts = {"transcripts": transcripts, "indexed": indexed}
    if indexed != transcripts:
        return Check(
            "full-text index",
            PROBLEM,
            f"{indexed:,} transcripts indexed of {transcripts:,}: search misses some",
            True,
            facts,
        )
    if quick:
        return Check(
            "full-text index",
            OK,
            f"{indexed:,} transcripts indexed (contents not checked: --quick)",
            facts=facts,
        )
    try:
        # FTS5's own check compares the index with the transcripts. It is phrased as an
        # INSERT, so it runs under the write lock and is rolled back.
        with write_transaction(conn):
            conn.execute(
                f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)"
            )
            raise _RollBack
    except _RollBack:
        pass
    except sqlite3.DatabaseError as exc:
        return Check(
            "full-text index", PROBLEM, f"does not match the transcripts ({exc})", True, facts
        )
    return Check("full-text index", OK, f"{indexed:,} transcripts indexed, consistent", facts=facts)


class _RollBack(Exception):
    pass


def _wal(path: Path) -> Check:
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    facts = {"wal_bytes": size}
    if size > WAL_WARN_BYTES:
        return Check(
            "write-ahead log",
            WARNING,
            f"{size / 2**20:,.0f} MB: checkpoints are held off (a reader that never lets go?)",
            True,
            facts,
        )
    return Check("write-ahead log", OK, f"{size / 2**20:,.1f} MB", facts=facts)


def _unfinished(conn: sqlite3.Connection, version: int) -> list[Check]:
    checks = []
    for table, kind in (("imports", "imports"), ("classifier_runs", "classifier runs")):
        name = "path" if table == "imports" else "name"
        owner = "pid, host, pid_started" if version >= 3 else "NULL, NULL, NULL"
        rows = conn.execute(
            f"SELECT id, {name}, status, {owner} FROM {table} "
            "WHERE status IN ('running', 'interrupted')"
        ).fetchall()
        states = Counter()
        for _id, _name, status, pid, host, started in rows:
            states[
                "interrupted" if status == "interrupted" else owner_state(pid, host, started)
            ] += 1
        facts = dict(states)
        parts = []
        status = OK
        if states["gone"]:
            status = PROBLEM
            parts.append(f"{states['gone']} left running by a process that has ended")
        if states["unknown"]:
            status = WARNING if status == OK else status
            parts.append(
                f"{states['unknown']} running with no process recorded (older "
                "reviewer): --repair marks them interrupted if nothing runs"
            )
        if states["elsewhere"]:
            status = WARNING if status == OK else status
            parts.append(f"{states['elsewhere']} running on another host (not checked)")
        if states["interrupted"]:
            status = WARNING if status == OK else status
            parts.append(f"{states['interrupted']} interrupted: run them again to complete")
        if states["alive"]:
            parts.append(f"{states['alive']} running now")
        detail = "; ".join(parts) or "none running or interrupted"
        checks.append(
            Check(
                f"unfinished {kind}",
                status,
                detail,
                bool(states["gone"] or states["unknown"]),
                facts,
            )
        )
    return checks


def _orphans(conn: sqlite3.Connection) -> Check:
    reader = _Reader(conn)
    facts = {
        "label_events_without_transcript": labels.orphan_event_count(reader),
        "classifier_calls_without_transcript": conn.execute(
            "SELECT COUNT(*) FROM classifier_calls c WHERE NOT EXISTS "
            "(SELECT 1 FROM transcripts t WHERE t.id = c.transcript_id)"
        ).fetchone()[0],
        "transcripts_without_import": conn.execute(
            "SELECT COUNT(*) FROM transcripts t WHERE t.import_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM imports i WHERE i.id = t.import_id)"
        ).fetchone()[0],
    }
    found = {k: n for k, n in facts.items() if n}
    if not found:
        return Check(
            "orphans", OK, "no label event, call or transcript points at a missing row", facts=facts
        )
    what = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in found.items())
    return Check(
        "orphans",
        PROBLEM,
        f"{what}. Kept (nothing is deleted): restore the missing "
        "transcripts from a backup or merge them from another copy",
        facts=facts,
    )


def _label_counts(conn: sqlite3.Connection) -> Check:
    """The counts ``reviewer info`` reads, against a recount of the events and transcripts
    (reads them all)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'label_counts'").fetchone():
        return Check(
            "label counts",
            WARNING,
            "not kept yet: made by the next command that opens the database (or --repair)",
            True,
        )
    kept = labels.stored_event_counts(conn) + transcript_counts(conn)
    counted = labels.recount_events(conn) + recount_transcripts(conn)
    facts = {"kept": [list(r) for r in kept], "counted": [list(r) for r in counted]}
    if kept == counted:
        return Check(
            "label counts", OK, "the counts info shows match a recount of the events", facts=facts
        )
    return Check(
        "label counts",
        PROBLEM,
        "the counts info shows differ from a recount of the "
        "events or transcripts (written with the counting triggers missing?); --repair "
        "recounts them",
        True,
        facts,
    )


def _label_cache(conn: sqlite3.Connection, version: int) -> Check:
    """The cache of live labels the statistics keep, brought up to date, against a fresh
    read of the labels (reads them all)."""
    name = "label cache"
    if version < 7:
        return Check(name, OK, "none yet (made by the statistics on a large database)")
    state = labels.label_cache_state(conn)
    if state == "differs":
        return Check(
            name,
            PROBLEM,
            "the cached labels differ from the labels themselves; --repair drops the cache "
            "(the next stats rebuilds it)",
            True,
        )
    detail = {
        "none": "none (made by the statistics on a large database)",
        "unused": "out of date; the next stats replaces it",
        "ok": "the cached labels match the labels",
    }[state]
    return Check(name, OK, detail)


# -- repair ---------------------------------------------------------------------------------------


def repair(path: str | Path, before: Examination) -> list[str]:
    """Put right what ``before`` found repairable; returns what was done, in words."""
    from db.operations import reconcile_interrupted
    from db.store import Store

    path = Path(path)
    done: list[str] = []
    if before.schema_version > SCHEMA_VERSION:
        return done
    store = Store(path)  # migrates, and reconciles runs whose process is gone
    try:
        if before.schema_version < SCHEMA_VERSION:
            done.append(f"migrated schema {before.schema_version} to {SCHEMA_VERSION}")
        reconciled = list(store.reconciled)
        reconciled += reconcile_interrupted(store, include_ownerless=True, wait_seconds=30)
        for r in reconciled:
            done.append(f"marked {r.kind} {r.id} interrupted: {r.note}")
        conn = store.db.conn
        guards = before.check("triggers and view").facts
        broken = guards.get("missing", []) + guards.get("altered", [])
        if broken:
            with store.transaction():
                for name in broken:
                    kind, _table, definition = GUARDED_OBJECTS[name]
                    conn.execute(f"DROP {kind.upper()} IF EXISTS {name}")
                    conn.execute(definition)
            done.append(f"recreated {', '.join(broken)} from the schema's definition")
        if before.check("label counts").status != OK:
            with store.transaction():
                labels.rebuild_event_counts(conn)
                rebuild_transcript_counts(conn)
            done.append("recounted the label events and transcripts that info shows")
        if before.check("label cache").status == PROBLEM:
            with store.transaction():
                labels.drop_label_cache(conn)
            done.append("dropped the cache of live labels (the next stats rebuilds it)")
        if before.check("full-text index").status == PROBLEM:
            with store.transaction():
                conn.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
            done.append("rebuilt the full-text index from the transcripts")
        busy, frames, moved = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            done.append(f"checkpointed {moved} of {frames} log frames (a reader held the rest)")
        else:
            done.append("checkpointed the write-ahead log (now empty)")
    finally:
        store.close()
    return done
