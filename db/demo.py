"""Queries the demo command needs: is this database empty, demo-only, or someone's real data?"""

from __future__ import annotations

from db.store import Store


def transcript_counts_by_dataset(store: Store, dataset: str) -> tuple[int, int]:
    """(transcripts in ``dataset``, transcripts in any other dataset or none)."""
    inside, outside = store.execute(
        "SELECT COALESCE(SUM(dataset IS ?), 0), COALESCE(SUM(dataset IS NOT ?), 0) "
        "FROM transcripts",
        (dataset, dataset),
    )[0]
    return inside, outside
