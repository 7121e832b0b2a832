"""Reads for the agreement statistics: which labels count, and the rubric they were made under.

Human raters contribute their *blind* label by default (the one committed before any classifier
label was shown, so anchoring cannot inflate agreement); with ``phase="revealed"`` a human's
revised label replaces the blind one where there is one. Classifier, imported and adjudicated
labels are taken as they are (an adjudication is a reference label, never a panel rater's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from db import labels
from db.models import INCLUSION_FIELD
from db.store import Store

AGREEMENT_PHASES = ("blind", "revealed")


@dataclass(frozen=True)
class RatingRow:
    transcript_id: int
    field: str
    source: str
    rater: str
    value: Any
    score: float | None
    scores: dict[str, Any] | None


labelled_rubrics = labels.labeled_rubric_ids


def labelled_rubrics_of(current: labels.LabelColumns) -> list[str]:
    """``labelled_rubrics`` from labels already read (``labels.current_label_columns``)."""
    import numpy as np

    present = np.flatnonzero(np.bincount(current.rubric, minlength=len(current.rubrics)))
    return sorted(current.rubrics[r] for r in present.tolist())


def raters(
    store: Store, *, source: str | None = None, rubric_ids: list[str] | None = None
) -> list[str]:
    """Every rater with live labels (of one source, under these rubrics, when given): the
    names an option naming a rater may take."""
    chosen = rubric_ids or labels.labeled_rubric_ids(store)
    return sorted(
        {
            slot[3]
            for slot in labels.label_slots(store, chosen)
            if source is None or slot[2] == source
        }
    )


def labelled_fields(store: Store, rubric_id: str | None = None) -> list[str]:
    """Fields with live labels (under one rubric when given)."""
    chosen = [rubric_id] if rubric_id is not None else labels.labeled_rubric_ids(store)
    return sorted({field for rid in chosen for field in labels.label_fields(store, rid)})


def agreement_labels(
    store: Store,
    rubric_id: str,
    *,
    field: str | None = None,
    phase: str = "blind",
    current: labels.LabelColumns | None = None,
) -> labels.LabelColumns:
    """The live label of every rater on every item, for agreement statistics, column-wise:
    one label per (transcript, field, source, rater), ordered by transcript, field and rater.

    ``current`` is ``labels.current_label_columns`` read once for several calls (e.g. every
    rubric of a report); otherwise this rubric's labels are read.
    """
    import numpy as np

    if phase not in AGREEMENT_PHASES:
        raise ValueError(f"phase must be one of {AGREEMENT_PHASES}, not {phase!r}")
    if current is None:
        current = labels.current_label_columns(store, rubric_id=rubric_id, field=field)
    keep = current.rubric == current.code("rubric", rubric_id)
    if field is not None:
        keep &= current.field == current.code("field", field)
    has_value = np.asarray([v is not None for v in current.values], dtype=bool)
    if len(has_value):
        keep &= has_value[current.value]
    else:
        keep &= False
    human = current.source == current.code("source", labels.HUMAN)
    blind = current.phase == current.code("phase", labels.BLIND)
    revised = current.phase == current.code("phase", labels.REVEALED)
    keep &= ~human | blind | (revised & (phase == "revealed"))
    kept = np.flatnonzero(keep)
    if not len(kept):
        return current.take(kept)
    c = _Columns(current, kept)
    # Within one rubric a (transcript, field, rater, phase) has one current label, so a
    # (transcript, field, source, rater) has several only when its rater labelled in several
    # phases (a human's blind label and its revision). Only those raters' labels are sorted.
    n_phases = len(current.phases) + 1
    pair = c.rater.astype(np.int32)
    pair *= n_phases
    pair += c.phase
    pair += 1
    per_pair = np.bincount(pair, minlength=len(current.raters) * n_phases)
    del pair
    in_several = (per_pair.reshape(-1, n_phases) > 0).sum(axis=1) > 1
    several = np.flatnonzero(in_several[c.rater]) if in_several.any() else np.zeros(0, np.int64)
    picked = None  # every label, unless some rater labelled in several phases
    oldest_of_several = None
    if len(several):
        picked = np.ones(len(kept), dtype=bool)
        rank = np.where(human[kept[several]] & revised[kept[several]], 2, 1)
        # Per (transcript, field, source, rater): the highest rank, the oldest of equal rank.
        sub = [key[several] for key in (c.transcript_id, c.field, c.source, c.rater)]
        order = np.lexsort((c.event_id[several], -rank, sub[3], sub[2], sub[1], sub[0]))
        first = np.ones(len(order), dtype=bool)
        same = np.ones(len(order) - 1, dtype=bool)
        for k in sub:
            k = k[order]
            same &= k[1:] == k[:-1]
        first[1:] = ~same
        starts = np.flatnonzero(first)
        picked[several] = False
        picked[several[order[first]]] = True
        oldest_of_several = (
            several[order[first]],
            np.minimum.reduceat(c.event_id[several][order], starts),
        )
    chosen = np.flatnonzero(picked) if picked is not None else None
    del picked

    def of_chosen(column):
        return column if chosen is None else column[chosen]

    # ... ordered by transcript, field name and rater name, then by the oldest label of each.
    field_rank = _name_ranks(c.fields)[of_chosen(c.field)]
    rater_rank = _name_ranks(c.raters)[of_chosen(c.rater)]
    tids = of_chosen(c.transcript_id)
    n_fields, n_raters = len(c.fields) + 1, len(c.raters) + 1
    final = None
    if int(tids.max()) < (1 << 62) // (n_fields * n_raters):
        key = np.multiply(tids, n_fields, dtype=np.int64)
        key += field_rank
        key *= n_raters
        key += rater_rank
        final = np.argsort(key, kind="stable")
        key = key[final]
        if (key[1:] == key[:-1]).any():
            final = None
        del key
    if final is None:
        oldest = c.event_id.copy()
        if oldest_of_several is not None:
            oldest[oldest_of_several[0]] = oldest_of_several[1]
        final = np.lexsort((of_chosen(oldest), rater_rank, field_rank, tids))
    return current.take(kept[final if chosen is None else chosen[final]])


class _Columns:
    """The columns of some labels, each gathered when first asked for."""

    def __init__(self, current: labels.LabelColumns, rows):
        self._current, self._rows, self._seen = current, rows, {}
        self.fields, self.raters = current.fields, current.raters

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._seen:
            self._seen[name] = getattr(self._current, name)[self._rows]
        return self._seen[name]


# Label events per slice of ``agreement_label_slices``: some tens of megabytes of columns,
# however large the database.
SLICE_EVENTS = 300_000


def agreement_label_slices(
    store: Store,
    rubric_id: str,
    *,
    phase: str = "blind",
    events_per_slice: int = SLICE_EVENTS,
) -> Iterator[labels.LabelColumns]:
    """``agreement_labels`` a range of transcripts at a time: for a summary that only
    counts (rating patterns, say) and so need not hold a whole database's labels at once.
    Each slice holds every label of its transcripts and none of another's; a slice's range
    spans about ``events_per_slice`` label events (more when one transcript has more).
    Scores are not read.

    Take the slices inside one snapshot (``db.connection.read_snapshot``) that the caller
    holds and ends, so that every slice is of the same database and no transaction outlives
    a loop that stops early."""
    for first, last in labels.transcript_slices(store, events_per_slice):
        current = labels.current_label_columns(
            store, rubric_id=rubric_id, scores=False, transcripts=(first, last)
        )
        yield agreement_labels(store, rubric_id, phase=phase, current=current)


def _name_ranks(names: list[str]):
    import numpy as np

    ranks = np.empty(len(names), dtype=np.int64)
    ranks[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return ranks


def rating_rows(chosen: labels.LabelColumns) -> list[RatingRow]:
    """Labels as one row each: for the few that need it (human and reference labels)."""
    return [
        RatingRow(
            int(t),
            chosen.fields[f],
            chosen.sources[s],
            chosen.raters[r],
            chosen.values[v],
            None if score != score else float(score),
            chosen.scores_values[k],
        )
        for t, f, s, r, v, score, k in zip(
            chosen.transcript_id.tolist(),
            chosen.field.tolist(),
            chosen.source.tolist(),
            chosen.rater.tolist(),
            chosen.value.tolist(),
            chosen.score.tolist(),
            chosen.scores.tolist(),
            strict=True,
        )
    ]


def transcript_briefs(store: Store, transcript_ids: list[int]) -> list[dict[str, Any]]:
    """Id, model, condition and the start of the scratchpad of each transcript, in order."""
    out: dict[int, dict[str, Any]] = {}
    ids = list(transcript_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = store.execute(
            "SELECT id, model, condition, substr(scratchpad, 1, 200) FROM transcripts "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for tid, model, condition, head in rows:
            out[tid] = {"id": tid, "model": model, "condition": condition, "scratchpad": head}
    return [out[t] for t in ids if t in out]


def transcript_groups(store: Store, transcript_ids: list[int] | None = None) -> dict[int, tuple]:
    """(model, condition) of every transcript (or of the given ones)."""
    if transcript_ids is None:
        rows = store.execute("SELECT id, model, condition FROM transcripts")
        return {tid: (model, condition) for tid, model, condition in rows}
    out: dict[int, tuple] = {}
    ids = list(transcript_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = store.execute(
            "SELECT id, model, condition FROM transcripts "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        out.update({tid: (model, condition) for tid, model, condition in rows})
    return out


GROUP_COLUMNS = ("dataset", "prompt_variant", "model", "condition")


# The order of the ``transcripts_groups`` index, which holds all four group columns.
_GROUPS_INDEXED = ("model", "condition", "dataset", "prompt_variant")


def transcript_group_columns(store: Store) -> tuple[Any, dict[str, tuple[Any, list[Any]]]]:
    """Dataset, prompt variant, model and condition of every transcript (what the analysis
    filters and groups by), column-wise: the transcript ids in ascending order and, per
    column of ``GROUP_COLUMNS``, each transcript's code into that column's list of values.
    The distinct combinations are found by seeking through the ``transcripts_groups``
    index, and each one's ids come back from SQLite as one text of numbers, so no Python
    object is made per transcript."""
    import numpy as np

    from db.connection import read_snapshot
    from db.seek import distinct_keys, in_key

    conn = store.db.conn
    sql = f"SELECT COUNT(*), group_concat(id) FROM transcripts WHERE {in_key(_GROUPS_INDEXED)}"
    with read_snapshot(conn):
        keys = distinct_keys(conn, "transcripts", _GROUPS_INDEXED, nullable=_GROUPS_INDEXED)
        texts = [conn.execute(sql, key).fetchone() for key in keys]
    combos = [dict(zip(_GROUPS_INDEXED, key, strict=True)) for key in keys]
    parts = []
    for count, text in texts:
        ids = np.fromstring(text, dtype=np.int64, sep=",") if count else np.zeros(0, np.int64)
        if len(ids) != count:
            raise ValueError(f"transcripts: a group of {count} ids read back wrongly")
        parts.append(ids)
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    which = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p) for p in parts])
    # Each combination's ids ascend; put all in id order (a table when the ids are dense).
    top = int(ids.max()) if len(ids) else -1
    if len(ids) and int(ids.min()) >= 0 and top <= 4 * len(ids) + 1_000_000:
        by_id = np.full(top + 1, -1, dtype=np.int32)
        by_id[ids] = which
        ids = np.flatnonzero(by_id >= 0)
        which = by_id[ids]
    else:
        order = np.argsort(ids, kind="stable")
        ids, which = ids[order], which[order]
    columns = {}
    for name in GROUP_COLUMNS:
        values = list(dict.fromkeys(combo[name] for combo in combos))
        lookup = np.asarray([values.index(combo[name]) for combo in combos], dtype=np.int32)
        columns[name] = (lookup[which] if len(combos) else which, values)
    return ids, columns


def imported_inclusion_probabilities(store: Store, rubric_id: str) -> dict[str, dict[int, float]]:
    """Per rater, the inclusion probability an imported reference set carried for each item
    (``--map inclusion_probability=COLUMN``), stored as a meta label event beside its labels."""
    out: dict[str, dict[int, float]] = {}
    for event in store.current_labels(rubric_id=rubric_id, field=INCLUSION_FIELD):
        try:
            p = float(event.value)
        except (TypeError, ValueError):
            continue
        out.setdefault(event.rater, {})[event.transcript_id] = p
    return out
