"""Loading many transcripts at once: full-text indexing in bulk, a bigger page cache.

Shared by the demo build and the importers; they act on the store's connection for
the calling thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from db.store import Store

FTS_TRIGGER = "transcripts_fts_insert"


@contextmanager
def fts_indexed_in_bulk(store: Store) -> Iterator[None]:
    """Index new transcripts for full-text search once, at the end, instead of row by row.

    The per-row FTS trigger costs several times more than one set-based insert into the
    index (measured on the demo build: about 100 µs against 20 µs a transcript): FTS5 flushes
    its pending terms at every statement that fires it. Inside one transaction the insert
    trigger is dropped, the body inserts, every row added meanwhile is indexed with a single
    INSERT ... SELECT, and the trigger is recreated from its own stored definition. DDL is
    transactional in SQLite, so other connections never see the table without its trigger,
    and an error rolls everything back, trigger included.
    """
    with store.transaction() as db:
        conn = db.conn
        before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM transcripts").fetchone()[0]
        with trigger_set_aside(conn, FTS_TRIGGER) as deferred:
            yield
            if deferred:  # else no trigger to defer (a schema we don't know): indexed as usual
                conn.execute(
                    "INSERT INTO transcripts_fts(rowid, scratchpad, output) "
                    "SELECT id, scratchpad, output FROM transcripts WHERE id > ? ORDER BY id",
                    (before,),
                )


@contextmanager
def trigger_set_aside(conn, name: str) -> Iterator[bool]:
    """Drop trigger ``name`` for the body and recreate it afterwards from its own stored
    definition; yields whether there was one. Call it inside a write transaction: DDL is
    transactional in SQLite, so other connections never see the table without its trigger,
    and an error rolls everything back, trigger included. The body does in bulk what the
    trigger would have done row by row."""
    row = conn.execute(
        "SELECT sql FROM main.sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
    ).fetchone()
    if row is None:
        yield False
        return
    conn.execute(f"DROP TRIGGER main.{name}")
    yield True
    conn.execute(row[0])


@contextmanager
def large_page_cache(store: Store, megabytes: int) -> Iterator[None]:
    """Give this thread's connection a bigger page cache for a bulk load, then restore it.

    Inserting into the uid index in hash order touches pages all over the B-tree; once the
    index outgrows SQLite's default 2 MB cache every insert starts re-reading pages.
    """
    conn = store.db.conn
    previous = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-int(megabytes) * 1024}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(previous)}")


FTS_TABLE = "transcripts_fts"
_FTS_SIDE_AHEAD = 4
"""Batches the writer may hand the indexing process before it waits for it."""


class FtsIndexedAside:
    """Full-text indexing of a new database's transcripts by a process of its own, in a
    file of its own, copied into the database at the end (``fts_indexed_aside``).

    Tokenizing is a quarter of a bulk build's writing; done here it runs on another core
    while the writer inserts. The process declares a table exactly as the database declares
    ``transcripts_fts`` in an empty side file (no journal, no fsync: scratch data) and
    inserts the rows it is sent; ``finish`` waits for it and copies the table's shadow
    tables (its index, which for an external-content table is all it stores) into the
    database in place of its empty ones. FTS5 writes the same index whichever connection
    tokenizes, so searches find what an index built in place would find.
    """

    def __init__(self, conn, side_path: Path):
        import multiprocessing

        self.side_path = side_path
        _remove_side(side_path)
        (declaration,) = conn.execute(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
        ).fetchone()
        ctx = multiprocessing.get_context("spawn")
        receiver, self._sender = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_index_aside, args=(str(side_path), declaration, receiver), daemon=True
        )
        self._process.start()
        receiver.close()
        self._queue: queue.Queue = queue.Queue(maxsize=_FTS_SIDE_AHEAD)
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        """Sends the queued batches (pickling and the pipe's waits off the writer's thread)."""
        while True:
            item = self._queue.get()
            try:
                if self._failed is None:
                    self._sender.send(item)
            except BaseException as exc:  # noqa: BLE001 - raised in the writer by add/finish
                self._failed = exc
            if item is None:
                return

    def add(self, rows: list[tuple[int, str, str]]) -> None:
        """Index ``rows`` of (rowid, scratchpad, output), in the order given."""
        if self._failed is not None:
            raise self._error()
        if rows:
            self._queue.put(rows)

    def _error(self) -> RuntimeError:
        return RuntimeError(
            "the full-text indexing process stopped unexpectedly (exit code "
            f"{self._process.exitcode}): {self._failed}"
        )

    def finish(self, store: Store) -> None:
        """Wait for the process, then copy its index into the database in place of the
        empty one there, in one write transaction (the database's own ``transcripts_fts``
        must still be empty), and gather the planner's statistics of what was copied, as
        the ANALYZE at the end of a build would have."""
        self._queue.put(None)
        self._thread.join()
        self._process.join()
        if self._failed is not None or self._process.exitcode != 0:
            raise self._error()
        conn = store.db.conn
        conn.execute("ATTACH DATABASE ? AS fts_aside", (str(self.side_path),))
        try:
            with store.transaction():
                shadows = [
                    name
                    for (name,) in conn.execute(
                        "SELECT name FROM fts_aside.sqlite_master WHERE type = 'table' AND "
                        "name LIKE ? ESCAPE '\\' ORDER BY name",
                        (FTS_TABLE.replace("_", "\\_") + "\\_%",),
                    )
                ]
                for name in shadows:
                    conn.execute(f"DELETE FROM main.{name}")
                    conn.execute(f"INSERT INTO main.{name} SELECT * FROM fts_aside.{name}")
                    conn.execute(f"ANALYZE main.{name}")
        finally:
            conn.execute("DETACH DATABASE fts_aside")

    def close(self) -> None:
        """Stop the process if it still runs, and the thread feeding it; delete the file."""
        if self._process.is_alive():
            self._process.terminate()  # a send waiting on the pipe fails: the thread moves on
        self._process.join(timeout=5)
        if self._thread.is_alive():
            self._failed = self._failed or RuntimeError("stopped")  # nothing more is sent
            while True:
                try:
                    self._queue.put(None, timeout=0.1)
                    break
                except queue.Full:
                    with suppress(queue.Empty):
                        self._queue.get_nowait()
            self._thread.join(timeout=5)
        self._sender.close()
        _remove_side(self.side_path)


def _remove_side(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _index_aside(side_path: str, declaration: str, receiver) -> None:
    """The indexing process: rows received, indexed in a side file, until told to stop."""
    import signal
    import sqlite3

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides what an interrupt means
    conn = sqlite3.connect(side_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute(declaration)
    conn.execute("CREATE TEMP TABLE batch (id INTEGER PRIMARY KEY, scratchpad, output)")
    conn.execute("BEGIN")
    while True:
        rows = receiver.recv()
        if rows is None:
            break
        # Set-based, as ``fts_indexed_in_bulk`` does: FTS5 flushes its pending terms at
        # every statement that writes to it.
        conn.executemany("INSERT INTO temp.batch VALUES (?, ?, ?)", rows)
        conn.execute(
            f"INSERT INTO main.{FTS_TABLE}(rowid, scratchpad, output) "
            "SELECT id, scratchpad, output FROM temp.batch ORDER BY id"
        )
        conn.execute("DELETE FROM temp.batch")
    conn.execute("COMMIT")
    conn.close()


@contextmanager
def fts_indexed_aside(store: Store, side_path: Path) -> Iterator[FtsIndexedAside]:
    """For a database nobody else can see yet (``db.demo.built_aside``): its insert trigger
    set aside, new transcripts are indexed for full-text search by another process
    (``FtsIndexedAside``) from the rows the body hands it, and the index is copied in when
    the body returns. The body must hand over every transcript it inserts, and insert only
    into a database whose full-text index is empty."""
    with store.transaction() as db:
        conn = db.conn
        (count,) = conn.execute(f"SELECT COUNT(*) FROM main.{FTS_TABLE}_docsize").fetchone()
        if count:
            raise ValueError("the full-text index is not empty: it cannot be built aside")
        row = conn.execute(
            "SELECT sql FROM main.sqlite_master WHERE type = 'trigger' AND name = ?",
            (FTS_TRIGGER,),
        ).fetchone()
        if row is not None:
            conn.execute(f"DROP TRIGGER main.{FTS_TRIGGER}")
    indexer = FtsIndexedAside(store.db.conn, side_path)
    try:
        yield indexer
        indexer.finish(store)
        if row is not None:
            with store.transaction() as db:
                db.conn.execute(row[0])
    finally:
        indexer.close()
