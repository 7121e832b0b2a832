"""SQL for building the demo: is this database demo-only, and loading a million rows fast."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db.bulk import FtsIndexedAside, fts_indexed_aside, fts_indexed_in_bulk, large_page_cache
from db.connection import usable_cores
from db.labels import NewTranscriptLabels, encode_json, staged_label_row
from db.schema import rebuild_transcript_counts
from db.staging import TRANSCRIPT_COLUMNS, Encoded, encode, insert_encoded, process_alive
from db.store import Store

__all__ = [
    "BuildFileLost",
    "Encoded",
    "NewTranscriptLabels",
    "built_aside",
    "encode",
    "encode_json",
    "fts_aside_path",
    "fts_indexed_aside",
    "fts_indexed_in_bulk",
    "insert_new",
    "large_page_cache",
    "staged_label_row",
    "transcript_counts_by_dataset",
]

# Row triggers a build in a file of its own sets aside until the end: one counts transcripts
# (recounted once instead), the other refuses a reused label event id (a new file has none to
# reuse). Both are recreated from their stored definitions before the file is moved into place.
_SET_ASIDE = ("label_events_no_replace", "transcript_counts_insert")
# Indexes a build in a file of its own creates after the load, from their stored definitions:
# one sort of the finished table instead of an insert per row into a wide index.
_INDEXED_AFTER = ("label_events_values",)
_BUILDING = ".building-"


class BuildFileLost(OSError):
    """A demo build's file or folder was deleted or moved under it: before the build could
    move its file into place (nothing was written at the path asked for), or, rarely, just
    after (the message says which)."""


def _building_path(path: Path) -> Path:
    return path.with_name(f"{path.name}{_BUILDING}{os.getpid()}")


_FTS_ASIDE = "-fts"
"""The suffix of a build's side file of full-text index (``fts_aside_path``)."""


def fts_aside_path(building: Path) -> Path:
    """Where a build indexes its transcripts for full-text search (``db.bulk.fts_indexed_aside``)."""
    return Path(f"{building}{_FTS_ASIDE}")


def _remove(path: Path) -> None:
    for base in (str(path), str(fts_aside_path(path))):
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{base}{suffix}").unlink(missing_ok=True)


def remove_stale_builds(path: Path) -> list[Path]:
    """Delete the files of builds into ``path`` whose process was killed; returns them."""
    removed = []
    for found in path.parent.glob(f"{path.name}{_BUILDING}*"):
        pid = found.name[len(path.name) + len(_BUILDING) :].removesuffix(_FTS_ASIDE)
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            building = found.with_name(f"{path.name}{_BUILDING}{pid}")
            _remove(building)  # with its side file of full-text index, if any
            if building not in removed:
                removed.append(building)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def built_aside(path: Path) -> Iterator[Store]:
    """A store on a new database file that nobody else can see yet, moved to ``path`` when
    the body returns, deleted if it raises.

    While nobody can open the file, its safety nets cost time and protect nothing: it is
    written without a rollback journal and without waiting for the disk (``journal_mode =
    OFF``, ``synchronous = OFF``; measured on 50,000 transcripts, twice as fast as WAL), and
    the row triggers of ``_SET_ASIDE`` are left out until the end. Nothing may be rolled back
    meanwhile (``insert_new`` never does); an error discards the whole file. A build that is
    killed leaves no half database at ``path``: only the file beside it, removed by the next
    build (``remove_stale_builds``). At the end the triggers are recreated, the counts they
    keep recounted, and the file is switched to WAL, flushed to disk, and linked to ``path``
    (which fails, keeping what is there, if another process created ``path`` meanwhile).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(path)
    building = _building_path(path)
    _remove(building)
    store = Store(building)
    try:
        conn = store.db.conn
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        with store.transaction():
            set_aside = [
                (kind, name, sql)
                for kind, names in (("trigger", _SET_ASIDE), ("index", _INDEXED_AFTER))
                for name in names
                for (sql,) in conn.execute(
                    "SELECT sql FROM main.sqlite_master WHERE type = ? AND name = ?",
                    (kind, name),
                )
            ]
            for kind, name, _ in set_aside:
                conn.execute(f"DROP {kind.upper()} main.{name}")
        yield store
        # The index is one sort of every label: SQLite's sorter may use helper threads
        # (14-15 s on one thread, 9.5-10.5 s with two, at three million labels on two cores).
        conn.execute(f"PRAGMA threads = {min(4, usable_cores())}")
        with store.transaction():
            for kind, name, sql in set_aside:
                conn.execute(sql)
                if kind == "index":  # the build analyzed the tables before it existed
                    conn.execute(f"ANALYZE main.{name}")
            rebuild_transcript_counts(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        store.close()
        try:  # a file deleted under SQLite is written on, unseen, until it is closed
            _fsync(building)
        except FileNotFoundError:
            raise _lost(building, path) from None
        _move_into_place(building, path)
    except BaseException:
        store.close()
        _remove(building)
        raise


def _move_into_place(building: Path, path: Path) -> None:
    """``building`` becomes ``path`` in one step, unless ``path`` exists by now."""
    if not path.exists():
        # A log left by a database deleted without it would be replayed into this one.
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    try:
        try:
            os.link(building, path)  # unlike a rename, never replaces a file that appeared
        except FileExistsError:
            raise FileExistsError(
                f"{path} was created by another process during the demo build; it was left as "
                "it is and the build was discarded"
            ) from None
        except FileNotFoundError:
            raise
        except OSError:  # a file system without hard links
            if path.exists():
                raise
            os.replace(building, path)
    except FileNotFoundError:  # the building file, or the folder, is gone: nothing at path
        raise _lost(building, path) from None
    _remove(building)
    try:
        _fsync(path.parent)
    except FileNotFoundError:
        raise BuildFileLost(
            f"the demo database was built as {path}, but its folder was moved or deleted as "
            "the build ended: look for it where the folder went"
        ) from None


def _lost(building: Path, path: Path) -> BuildFileLost:
    return BuildFileLost(
        f"{building}, the file the demo was being built in, was deleted or moved before the "
        f"build finished; nothing was written to {path}. Run the command again to build it."
    )


_SCRATCHPAD = TRANSCRIPT_COLUMNS.index("scratchpad")
_OUTPUT = TRANSCRIPT_COLUMNS.index("output")
_INSERT_TRANSCRIPTS = (
    f"INSERT INTO main.transcripts({', '.join(TRANSCRIPT_COLUMNS)}, import_id, "
    f"created_at) VALUES ({', '.join('?' * (len(TRANSCRIPT_COLUMNS) + 2))})"
)


def transcript_counts_by_dataset(store: Store, dataset: str) -> tuple[int, int]:
    """(transcripts in ``dataset``, transcripts in any other dataset or none)."""
    inside, outside = store.execute(
        "SELECT COALESCE(SUM(dataset IS ?), 0), COALESCE(SUM(dataset IS NOT ?), 0) "
        "FROM transcripts",
        (dataset, dataset),
    )[0]
    return inside, outside


def _distinct(label_rows: list[tuple]) -> bool:
    """No two of a record's labels share rubric, field, value, source and rater."""
    return len({lab[:5] for lab in label_rows}) == len(label_rows)


def _any_stored(conn, uids: list[str]) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM main.transcripts WHERE uid IN (SELECT value FROM json_each(?)) LIMIT 1",
            (encode_json(uids),),
        ).fetchone()
        is not None
    )


def insert_new(
    store: Store,
    batch: list[Encoded],
    *,
    import_id: int | None,
    rubric_hashes: dict[str, str],
    created_at: str,
    labels: NewTranscriptLabels | None = None,
    fts: FtsIndexedAside | None = None,
) -> tuple[int, int]:
    """Insert encoded records in the caller's write transaction; returns (new transcripts,
    new label events), exactly as ``db.staging.insert_encoded`` would.

    A generator's records are almost always all new: then they go straight into the tables
    (one write of each row, no staging copy, no look-up per label; the labels by ``labels``,
    which a build keeps from batch to batch, else one made for this batch). If any is
    already stored or repeats another of the batch, the batch takes the staged path, whose
    rules (first record wins, known transcripts gain only the labels they lack) it shares.
    Which way a batch goes is decided before anything is written (the caller's transaction
    holds the write lock, so nothing is stored meanwhile): nothing is ever rolled back,
    which a build without a rollback journal (``built_aside``) could not do. With ``fts``,
    the new transcripts are handed to it for full-text indexing (``fts_indexed_aside``)."""
    conn = store.db.conn
    uids = [row[0] for row, _, _ in batch]
    if (
        len(set(uids)) == len(uids)
        and all(_distinct(labs) for _, _, labs in batch)
        and not _any_stored(conn, uids)
    ):
        before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM main.transcripts").fetchone()[0]
        conn.executemany(
            _INSERT_TRANSCRIPTS, [(*row, import_id, created_at) for row, _, _ in batch]
        )
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM main.transcripts WHERE id > ? ORDER BY id", (before,)
            )
        ]
        writer = labels or NewTranscriptLabels(rubric_hashes=rubric_hashes, import_id=import_id)
        try:
            added = writer.insert(conn, ids, [labs for _, _, labs in batch], created_at=created_at)
        finally:
            if labels is None:
                writer.close(conn)
        if fts is not None:
            fts.add(
                [
                    (tid, row[_SCRATCHPAD], row[_OUTPUT])
                    for tid, (row, _, _) in zip(ids, batch, strict=True)
                ]
            )
        return len(ids), added
    before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM main.transcripts").fetchone()[0]
    added = insert_encoded(
        store, batch, import_id=import_id, rubric_hashes=rubric_hashes, created_at=created_at
    )
    if fts is not None:
        fts.add(
            conn.execute(
                "SELECT id, scratchpad, output FROM main.transcripts WHERE id > ? ORDER BY id",
                (before,),
            ).fetchall()
        )
    return added
