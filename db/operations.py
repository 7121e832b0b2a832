"""Imports and classifier runs whose process died: who owns a ``running`` row, and how it is
reconciled.

An import or a classifier run records its process (pid, host and the process's start time)
when it starts. A process killed mid-way (SIGKILL, a power cut, a closed SSH session) never
records its end, so its row would stay ``running`` forever, with counts of zero however much
it had committed. The next time the database is opened, such a row is *reconciled*: when its
process is gone on this host, the row becomes ``interrupted`` with the counts found in the
database (the transcripts and labels carrying its import id; the calls and labels of a run),
and a note saying so. Everything it committed stays; running the same import again completes
it, and a classifier run resumes where it stopped.

A row whose process runs on another host cannot be checked from here and is left alone; rows
written before the pid was recorded (schema 2 and older) have no owner, and only
``reviewer doctor --repair`` reconciles them, when the operator knows nothing is running.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from db import labels
from db.connection import DatabaseBusyError, is_busy, write_transaction

if TYPE_CHECKING:
    from db.store import Store

OWNER_COLUMNS = ("pid", "host", "pid_started")
INTERRUPTED = "interrupted"
RUNNING = "running"
# Reconciling on open waits this long at most for the write lock: a busy database is
# reconciled by the next open instead of delaying this one.
RECONCILE_WAIT_SECONDS = 2.0


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown.
    With the pid it names one process: a pid reused later has another start time."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state is field 3, starttime field 22 (index 19 here).
    return fields[19] if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def owner_values() -> tuple[int, str, str | None]:
    """(pid, host, pid_started) of this process, for the OWNER_COLUMNS of a new row."""
    pid = os.getpid()
    return pid, socket.gethostname(), _process_start(pid)


def owner_state(pid: int | None, host: str | None, started: str | None) -> str:
    """'alive', 'gone' (its process has ended on this host), 'elsewhere' (another host: it
    cannot be checked from here) or 'unknown' (no owner was recorded)."""
    if pid is None:
        return "unknown"
    if host is not None and host != socket.gethostname():
        return "elsewhere"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:  # another user's process: it exists
        pass
    now = _process_start(pid)
    if os.path.isdir("/proc") and now is None:  # a zombie (killed, not reaped) or gone
        return "gone"
    if started is not None and now is not None and now != started:
        return "gone"  # the pid was reused by another process
    return "alive"


@dataclass(frozen=True)
class Reconciled:
    """An import or classifier run found ``running`` without its process, now
    ``interrupted``, with the counts found in the database."""

    kind: str  # 'import' | 'run'
    id: int
    name: str  # the import's path or the run's name
    pid: int | None
    n_new: int  # transcripts (import) or calls recorded (run)
    n_labels: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stale(conn: sqlite3.Connection, table: str, include_ownerless: bool) -> list[tuple]:
    name = "path" if table == "imports" else "name"
    rows = conn.execute(
        f"SELECT id, {name}, pid, host, pid_started FROM {table} WHERE status = 'running'"
    ).fetchall()
    stale = []
    for row in rows:
        state = owner_state(row[2], row[3], row[4])
        if state == "gone" or (state == "unknown" and include_ownerless):
            stale.append(row)
    return stale


def _import_counts(store: Store, import_id: int) -> tuple[int, int]:
    conn = store.db.conn
    transcripts = conn.execute(
        "SELECT COUNT(*) FROM transcripts WHERE import_id = ?", (import_id,)
    ).fetchone()[0]
    return transcripts, labels.import_label_count(store, import_id)


def _run_counts(store: Store, run_id: int) -> tuple[int, int]:
    from db.classifier import run_labels

    calls = store.db.conn.execute(
        "SELECT COUNT(*) FROM classifier_calls WHERE run_id = ? AND status IN ('ok', 'parse_error')",
        (run_id,),
    ).fetchone()[0]
    return calls, run_labels(store, run_id)


def _why(pid: int | None) -> str:
    if pid is None:
        return "left running by a process that was not recorded (an older reviewer)"
    return f"its process ({pid}) ended without recording the end"


def reconcile_interrupted(
    store: Store,
    *,
    include_ownerless: bool = False,
    wait_seconds: float = RECONCILE_WAIT_SECONDS,
) -> list[Reconciled]:
    """Mark every import and classifier run whose process is gone ``interrupted``, with the
    counts the database holds for it; returns what was reconciled.

    Cheap when there is nothing to do (two reads of partial indexes). A busy or read-only
    database is left as it is: the next open tries again.
    """
    conn = store.db.conn
    try:
        if not (
            _stale(conn, "imports", include_ownerless)
            or _stale(conn, "classifier_runs", include_ownerless)
        ):
            return []
    except sqlite3.OperationalError:  # a schema without the owner columns (not migrated)
        return []
    done: list[Reconciled] = []
    try:
        with write_transaction(conn, wait_seconds=wait_seconds):
            done += _reconcile_imports(store, include_ownerless)
            done += _reconcile_runs(store, include_ownerless)
    except DatabaseBusyError:
        return []
    except sqlite3.OperationalError as exc:
        if is_busy(exc) or "readonly" in str(exc):
            return []
        raise
    return done


def _reconcile_imports(store: Store, include_ownerless: bool) -> list[Reconciled]:
    conn = store.db.conn
    done = []
    for import_id, path, pid, _host, _started in _stale(conn, "imports", include_ownerless):
        n_new, n_labels = _import_counts(store, import_id)
        note = (
            f"interrupted: {_why(pid)}; {n_new:,} new transcript(s) and {n_labels:,} "
            "label(s) it committed stay. Import the same file again to complete it"
        )
        errors = conn.execute("SELECT errors FROM imports WHERE id = ?", (import_id,)).fetchone()
        kept = _error_list(errors[0] if errors else None)
        kept.append({"where": "process", "reason": note})
        changed = conn.execute(
            "UPDATE imports SET status = ?, n_new = ?, errors = ?, finished_at = ? "
            "WHERE id = ? AND status = 'running' AND pid IS ?",
            (INTERRUPTED, n_new, labels.encode_json(kept), labels.utc_now(), import_id, pid),
        ).rowcount
        if changed:
            done.append(Reconciled("import", import_id, path, pid, n_new, n_labels, note))
    return done


def _error_list(text: str | None) -> list[Any]:
    try:
        kept = json.loads(text or "[]")
    except ValueError:
        return [{"where": "errors", "reason": text}]
    return kept if isinstance(kept, list) else [kept]


def _reconcile_runs(store: Store, include_ownerless: bool) -> list[Reconciled]:
    conn = store.db.conn
    done = []
    for run_id, name, pid, _host, _started in _stale(conn, "classifier_runs", include_ownerless):
        calls, n_labels = _run_counts(store, run_id)
        note = (
            f"interrupted: {_why(pid)}; {calls:,} answered call(s) and labels on "
            f"{n_labels:,} transcript(s) stay. Run the same classify command again to resume it"
        )
        changed = conn.execute(
            "UPDATE classifier_runs SET status = ?, note = ? "
            "WHERE id = ? AND status = 'running' AND pid IS ?",
            (INTERRUPTED, note, run_id, pid),
        ).rowcount
        if changed:
            done.append(Reconciled("run", run_id, name, pid, calls, n_labels, note))
    return done


def unfinished(store: Store) -> list[dict[str, Any]]:
    """Imports and classifier runs that did not finish (running, interrupted or failed),
    newest first, with their owner's state: what ``reviewer info`` shows."""
    conn = store.db.conn
    out = []
    for row in conn.execute(
        "SELECT 'import', id, path, status, n_new, pid, host, pid_started, started_at "
        "FROM imports WHERE status NOT IN ('done', 'skipped') "
        "UNION ALL SELECT 'run', id, name, status, NULL, pid, host, pid_started, started_at "
        "FROM classifier_runs WHERE status NOT IN ('finished') ORDER BY 9 DESC"
    ):
        kind, id_, name, status, n_new, pid, host, started, started_at = row
        entry = {
            "kind": kind,
            "id": id_,
            "name": name,
            "status": status,
            "n_new": n_new,
            "started_at": started_at,
        }
        if status == RUNNING:
            entry["owner"] = owner_state(pid, host, started)
            entry["pid"], entry["host"] = pid, host
        out.append(entry)
    return out
