"""A backup that is whole while others write: SQLite's online backup from one snapshot.

Copying the database file misses what is still in its write-ahead log, and copying it while
someone writes can tear it. The online backup API copies pages through a connection instead;
here that connection first opens a read transaction, so every page comes from one snapshot
(WAL mode lets the writers go on meanwhile) and the copy is the database as it was committed
at that instant, whatever is written during the copy. The copy goes to a file beside OUT,
is switched out of WAL mode (one self-contained file), checked (``integrity_check`` and
every table's row count against the snapshot's), and only then renamed to OUT.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from db.connection import BUSY_TIMEOUT_MS

# Pages copied per step (4 KiB pages: 16 MiB), so a large copy reports progress.
PAGES_PER_STEP = 4096

Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class BackupError(RuntimeError):
    """The backup could not be made or did not verify; OUT was not written."""


@dataclass
class BackupReport:
    source: Path
    out: Path
    bytes: int
    pages: int
    seconds: float
    integrity: str
    row_counts: dict[str, int] = field(default_factory=dict)
    # time.monotonic() just before and just after the snapshot was taken: the backup holds
    # what was committed by then.
    snapshot_window: tuple[float, float] = (0.0, 0.0)

    def as_dict(self) -> dict:
        return {
            "source": str(self.source),
            "out": str(self.out),
            "bytes": self.bytes,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "integrity": self.integrity,
            "row_counts": self.row_counts,
        }


def _tables(conn: sqlite3.Connection) -> list[str]:
    """Ordinary tables (virtual tables are counted through their shadow tables)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
        )
    ]


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per ordinary table (names come from sqlite_master, quoted)."""
    out = {}
    for name in _tables(conn):
        quoted = '"' + name.replace('"', '""') + '"'
        out[name] = conn.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]
    return out


def check_destination(source: Path, out: Path, *, overwrite: bool) -> None:
    """Refuse, before any work, what would fail or destroy something."""
    if out.exists() and out.resolve() == source.resolve():
        raise BackupError(f"{out} is the database itself: give another path")
    if out.is_dir():
        raise BackupError(f"{out} is a folder: give a file path, e.g. {out / source.name}")
    if out.exists() and not overwrite:
        raise BackupError(f"{out} exists: choose another path or pass --overwrite")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BackupError(f"cannot write {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write {out}: no permission to create files in {parent}")


def _open_source(source: Path) -> sqlite3.Connection:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    conn = sqlite3.connect(str(source), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        tables = _tables(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackupError(f"{source} is not a reviewer database ({exc})") from None
    if "label_events" not in tables or "transcripts" not in tables:
        conn.close()
        raise BackupError(f"{source} is not a reviewer database (no transcripts or labels)")
    return conn


def backup(
    source: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    on_progress: Progress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
) -> BackupReport:
    """Copy the database at ``source`` to ``out`` as of one instant, verified; see the module
    docstring. Raises ``BackupError`` (OUT untouched) when it cannot."""
    source, out = Path(source), Path(out)
    check_destination(source, out, overwrite=overwrite)
    started = time.perf_counter()
    src = _open_source(source)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        # The snapshot: a read transaction held until the last page is copied.
        src.execute("BEGIN")
        snapshot = [time.monotonic()]
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the first read takes it
        snapshot.append(time.monotonic())
        counts = row_counts(src)
        try:
            dst = sqlite3.connect(str(partial), isolation_level=None)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot write {out}: {exc}") from None
        try:
            total = src.execute("PRAGMA page_count").fetchone()[0]
            if on_progress is not None:
                on_progress(0, total)

            def step(_status: int, remaining: int, pages: int) -> None:
                if on_progress is not None:
                    on_progress(pages - remaining, pages)

            src.backup(dst, pages=pages_per_step, progress=step)
            src.execute("COMMIT")
            # One self-contained file: out of WAL mode, nothing left in a -wal beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error as exc:
            raise BackupError(f"the copy to {out} failed: {exc}; {out} was not written") from None
        finally:
            dst.close()
        integrity, copied = _verify(partial)
        if integrity != "ok":
            raise BackupError(
                f"the copy failed its integrity check ({integrity}); {out} was not written"
            )
        if copied != counts:
            wrong = sorted(t for t in set(counts) | set(copied) if counts.get(t) != copied.get(t))
            raise BackupError(
                f"the copy's row counts differ from the database's in "
                f"{', '.join(wrong)}; {out} was not written"
            )
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, out)
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if src.in_transaction:
            src.execute("ROLLBACK")
        src.close()
        for leftover in (partial, Path(f"{partial}-journal")):
            leftover.unlink(missing_ok=True)
    return BackupReport(
        source,
        out,
        out.stat().st_size,
        total,
        time.perf_counter() - started,
        integrity,
        counts,
        (snapshot[0], snapshot[1]),
    )


def _verify(path: Path) -> tuple[str, dict[str, int]]:
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        return ("ok" if rows == ["ok"] else "; ".join(rows[:5])), row_counts(conn)
    finally:
        conn.close()
