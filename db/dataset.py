"""Reads that assemble datasets: transcripts and their live labels, streamed in id order.

Queue building, gold labels and exports all walk the whole database; these readers page by
id (keyset pagination) so memory stays flat however many transcripts there are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from db import labels
from db.models import LabelEvent
from db.store import Store

PAGE = 1000

_TEXT_COLUMNS = "t.user_input, t.scratchpad, t.output, p.text AS system_prompt"
_BASE_COLUMNS = (
    "t.id, t.uid, t.dataset, t.model, t.condition, t.prompt_variant, t.source_path, "
    "t.source_ref, t.metadata, t.created_at"
)


def _filters(
    model: str | None, condition: str | None, dataset: str | None
) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for column, value in (("model", model), ("condition", condition), ("dataset", dataset)):
        if value is not None:
            where.append(f"t.{column} = ?")
            params.append(value)
    return where, params


def transcript_strata(
    store: Store,
    *,
    model: str | None = None,
    condition: str | None = None,
    dataset: str | None = None,
) -> list[tuple[int, str | None, str | None]]:
    """(id, model, condition) of every transcript matching the filters, in id order."""
    where, params = _filters(model, condition, dataset)
    sql = "SELECT t.id, t.model, t.condition FROM transcripts t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return store.execute(sql + " ORDER BY t.id", params)


def transcript_ids(
    store: Store,
    *,
    model: str | None = None,
    condition: str | None = None,
    dataset: str | None = None,
) -> list[int]:
    """Ids of every transcript matching the filters, in id order (ids only: cheap at 1M)."""
    where, params = _filters(model, condition, dataset)
    sql = "SELECT t.id FROM transcripts t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [r[0] for r in store.db.conn.execute(sql + " ORDER BY t.id", params)]


def has_transcripts(
    store: Store,
    *,
    model: str | None = None,
    condition: str | None = None,
    dataset: str | None = None,
) -> bool:
    """Whether any transcript matches the filters (stops at the first)."""
    where, params = _filters(model, condition, dataset)
    sql = "SELECT 1 FROM transcripts t"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return store.db.conn.execute(sql + " LIMIT 1", params).fetchone() is not None


def distinct_values(store: Store, column: str) -> list[str | None]:
    """The values a filter column takes (model, condition or dataset), for error messages."""
    if column not in ("model", "condition", "dataset"):
        raise ValueError(f"not a filter column: {column!r}")
    rows = store.db.conn.execute(f"SELECT DISTINCT {column} FROM transcripts")
    return sorted((r[0] for r in rows), key=lambda v: (v is None, v or ""))


def human_labeled_ids(store: Store, rubric_id: str, *, sources: Iterable[str] = ("human",)) -> set:
    """Transcripts with at least one live label on ``rubric_id`` from the given sources."""
    return labels.labeled_ids(store, rubric_id, sources=sources)


def iter_item_labels(
    store: Store,
    *,
    rubric_ids: Iterable[str] | None = None,
    include_meta: bool = False,
    page: int = PAGE,
) -> Iterator[tuple[int, list[LabelEvent]]]:
    """(transcript_id, live events) for every transcript that has label events, in id order.

    Live = the newest unretracted event per (transcript, rubric, field, rater, phase), as
    ``Store.current_labels`` defines it. Meta acts (``_skip``, ``_flag``...) only with
    ``include_meta``.
    """
    wanted = None if rubric_ids is None else set(rubric_ids)
    last = -1
    while True:
        ids = labels.labeled_transcript_page(store, last, page)
        if not ids:
            return
        last = ids[-1]
        yield from _group(store, ids, wanted, include_meta)


def labels_for(
    store: Store,
    transcript_ids: list[int],
    *,
    rubric_ids: Iterable[str] | None = None,
    include_meta: bool = False,
    sources: Iterable[str] | None = None,
) -> dict[int, list[LabelEvent]]:
    """Live events of the given transcripts, by transcript id (only those from ``sources``,
    when given: gold needs no classifier's label, which is most of what an item has)."""
    wanted = None if rubric_ids is None else set(rubric_ids)
    return dict(_group(store, transcript_ids, wanted, include_meta, sources))


def _group(
    store, ids, wanted, include_meta, sources=None
) -> Iterator[tuple[int, list[LabelEvent]]]:
    grouped: dict[int, list[LabelEvent]] = {}
    for event in labels.current_labels(store, transcript_ids=ids, sources=sources):
        if wanted is not None and event.rubric_id not in wanted:
            continue
        if event.field.startswith("_") and not include_meta:
            continue
        grouped.setdefault(event.transcript_id, []).append(event)
    for tid in ids:
        if tid in grouped:
            yield tid, grouped[tid]


def iter_transcripts(
    store: Store,
    *,
    include_text: bool = True,
    model: str | None = None,
    condition: str | None = None,
    dataset: str | None = None,
    page: int = 500,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of transcripts (dicts, metadata decoded) in id order."""
    where, params = _filters(model, condition, dataset)
    columns = _BASE_COLUMNS + (", " + _TEXT_COLUMNS if include_text else "")
    join = " LEFT JOIN prompts p ON p.hash = t.system_prompt_hash" if include_text else ""
    last = -1
    while True:
        cur = store.db.conn.execute(
            f"SELECT {columns} FROM transcripts t{join} WHERE "
            + " AND ".join(["t.id > ?", *where])
            + " ORDER BY t.id LIMIT ?",
            [last, *params, page],
        )
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if not rows:
            return
        for row in rows:
            row["metadata"] = _metadata(row["metadata"])
        last = rows[-1]["id"]
        yield rows


# The columns of ``transcript_rows``, in order.
TRANSCRIPT_ROW_COLUMNS = (
    "id",
    "uid",
    "dataset",
    "model",
    "condition",
    "prompt_variant",
    "source_path",
    "source_ref",
    "metadata",
    "created_at",
)
TEXT_ROW_COLUMNS = ("system_prompt", "user_input", "scratchpad", "output")


def transcript_rows(
    store: Store, after: int, limit: int, *, include_text: bool = True
) -> list[tuple]:
    """Up to ``limit`` transcripts with ids above ``after``, in id order, as raw tuples
    (``TRANSCRIPT_ROW_COLUMNS``, then ``TEXT_ROW_COLUMNS`` with text; metadata undecoded):
    one keyset page of the primary key, for readers that stream every transcript."""
    columns = _BASE_COLUMNS
    join = ""
    if include_text:
        columns += ", p.text AS system_prompt, t.user_input, t.scratchpad, t.output"
        join = " LEFT JOIN prompts p ON p.hash = t.system_prompt_hash"
    return store.db.conn.execute(
        f"SELECT {columns} FROM transcripts t{join} WHERE t.id > ? ORDER BY t.id LIMIT ?",
        (after, limit),
    ).fetchall()


def _metadata(text: str | None) -> Any:
    """Metadata decoded; text that is not JSON (written by another tool) is kept as text."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


labeled_rubric_ids = labels.labeled_rubric_ids
label_fields = labels.label_fields
label_slots = labels.label_slots


def classifier_runs(store: Store) -> dict[int, dict[str, Any]]:
    """Every classifier run by id, params decoded."""
    cur = store.db.conn.execute(
        "SELECT id, name, provider, model, rubric_hash, params, prompt_hash, base_url, mode, "
        "status, started_at, finished_at FROM classifier_runs ORDER BY id"
    )
    names = [c[0] for c in cur.description]
    runs = {}
    for row in cur.fetchall():
        run = dict(zip(names, row, strict=True))
        run["params"] = _metadata(run["params"])
        runs[run["id"]] = run
    return runs


def rubric_version_map(store: Store) -> dict[str, tuple[str, str]]:
    """Rubric content hash -> (rubric_id, version)."""
    return {
        h: (rid, v) for h, rid, v in store.execute("SELECT hash, rubric_id, version FROM rubrics")
    }


def stored_rubrics(store: Store) -> list[dict[str, Any]]:
    """Every rubric version registered in the database, by id then age, with its TOML text."""
    cur = store.db.conn.execute(
        "SELECT rubric_id, version, hash, origin, created_at, source FROM rubrics "
        "ORDER BY rubric_id, created_at, rowid"
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def decode_metadata(text: str | None) -> Any:
    """A transcript's stored metadata decoded as ``iter_transcripts`` decodes it."""
    return _metadata(text)
