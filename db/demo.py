"""SQL for building the demo: is this database demo-only, and loading a million rows fast."""

from __future__ import annotations

from db.bulk import fts_indexed_in_bulk, large_page_cache
from db.labels import insert_labels_of_new_transcripts
from db.staging import TRANSCRIPT_COLUMNS, Encoded, encode, insert_encoded
from db.store import Store

__all__ = [
    "Encoded",
    "encode",
    "fts_indexed_in_bulk",
    "insert_new",
    "large_page_cache",
    "transcript_counts_by_dataset",
]

_INSERT_TRANSCRIPTS = (
    f"INSERT OR IGNORE INTO main.transcripts({', '.join(TRANSCRIPT_COLUMNS)}, import_id, "
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


def insert_new(
    store: Store,
    batch: list[Encoded],
    *,
    import_id: int | None,
    rubric_hashes: dict[str, str],
    created_at: str,
) -> tuple[int, int]:
    """Insert encoded records in the caller's write transaction; returns (new transcripts,
    new label events), exactly as ``db.staging.insert_encoded`` would.

    A generator's records are almost always all new: then they go straight into the tables
    (one write of each row, no staging copy, no look-up per label). If any is already stored
    or repeats another of the batch, the attempt is rolled back to a savepoint and the batch
    takes the staged path, whose rules (first record wins, known transcripts gain only the
    labels they lack) it shares."""
    conn = store.db.conn
    uids = [row[0] for row, _, _ in batch]
    if len(set(uids)) == len(uids) and all(_distinct(labs) for _, _, labs in batch):
        conn.execute("SAVEPOINT demo_batch")
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
        if len(ids) == len(batch):
            labels = insert_labels_of_new_transcripts(
                conn,
                ((tid, *lab) for tid, (_, _, labs) in zip(ids, batch, strict=True) for lab in labs),
                rubric_hashes=rubric_hashes,
                import_id=import_id,
                created_at=created_at,
            )
            conn.execute("RELEASE demo_batch")
            return len(ids), labels
        conn.execute("ROLLBACK TO demo_batch")
        conn.execute("RELEASE demo_batch")
    return insert_encoded(
        store, batch, import_id=import_id, rubric_hashes=rubric_hashes, created_at=created_at
    )
