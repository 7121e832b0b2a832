"""Loading many transcripts at once: full-text indexing in bulk, a bigger page cache.

Shared by the demo build and the importers; they act on the store's connection for
the calling thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
