"""Reads for the agreement statistics: which labels count, and the rubric they were made under.

Human raters contribute their *blind* label by default (the one committed before any classifier
label was shown, so anchoring cannot inflate agreement); with ``phase="revealed"`` a human's
revised label replaces the blind one where there is one. Classifier, imported and adjudicated
labels are taken as they are (an adjudication is a reference label, never a panel rater's).
"""

from __future__ import annotations

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


def agreement_ratings(
    store: Store, rubric_id: str, *, field: str | None = None, phase: str = "blind"
) -> list[RatingRow]:
    """The live label of every rater on every item, for agreement statistics."""
    if phase not in AGREEMENT_PHASES:
        raise ValueError(f"phase must be one of {AGREEMENT_PHASES}, not {phase!r}")
    chosen: dict[tuple[int, str, str, str], tuple[int, RatingRow]] = {}
    for event in labels.current_labels(store, rubric_id=rubric_id, field=field):
        if event.field.startswith("_") or event.value is None:
            continue
        if event.source == "human":
            if event.phase == "blind":
                rank = 1
            elif event.phase == "revealed" and phase == "revealed":
                rank = 2
            else:
                continue
        else:
            rank = 1
        key = (event.transcript_id, event.field, event.source, event.rater)
        row = RatingRow(
            event.transcript_id,
            event.field,
            event.source,
            event.rater,
            event.value,
            event.score,
            event.scores,
        )
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, row)
    return [
        row
        for _, row in sorted(
            chosen.values(), key=lambda x: (x[1].transcript_id, x[1].field, x[1].rater)
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


def transcript_attributes(store: Store) -> dict[int, dict[str, Any]]:
    """Dataset, prompt variant, model and condition of every transcript: what the analysis
    filters and groups by."""
    rows = store.execute(
        "SELECT id, dataset, prompt_variant, model, condition FROM transcripts ORDER BY id"
    )
    return {r[0]: dict(zip(GROUP_COLUMNS, r[1:], strict=True)) for r in rows}


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
