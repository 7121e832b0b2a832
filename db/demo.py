"""SQL for building the demo: is this database demo-only, and loading a million rows fast."""

from __future__ import annotations

from db.bulk import fts_indexed_in_bulk, large_page_cache
from db.staging import Encoded, encode, insert_encoded
from db.store import Store

__all__ = [
    "Encoded", "encode", "fts_indexed_in_bulk", "insert_encoded", "large_page_cache",
    "transcript_counts_by_dataset",
]  # fmt: skip


def transcript_counts_by_dataset(store: Store, dataset: str) -> tuple[int, int]:
    """(transcripts in ``dataset``, transcripts in any other dataset or none)."""
    inside, outside = store.execute(
        "SELECT COALESCE(SUM(dataset IS ?), 0), COALESCE(SUM(dataset IS NOT ?), 0) "
        "FROM transcripts",
        (dataset, dataset),
    )[0]
    return inside, outside
