"""Reads for the agreement statistics: which labels count, and the rubric they were made under.

Human raters contribute their *blind* label by default (the one committed before any classifier
label was shown, so anchoring cannot inflate agreement); with ``phase="revealed"`` a human's
revised label replaces the blind one where there is one. Classifier, imported and adjudicated
labels have no phase and are taken as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db import labels
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


def raters(store: Store, *, source: str | None = None,
           rubric_ids: list[str] | None = None) -> list[str]:  # fmt: skip
    """Every rater with live labels (of one source, under these rubrics, when given): the
    names an option naming a rater may take."""
    chosen = rubric_ids or labels.labeled_rubric_ids(store)
    return sorted({slot[3] for slot in labels.label_slots(store, chosen)
                   if source is None or slot[2] == source})  # fmt: skip


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
        row = RatingRow(event.transcript_id, event.field, event.source, event.rater,
                        event.value, event.score, event.scores)  # fmt: skip
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, row)
    return [row for _, row in sorted(chosen.values(), key=lambda x: (x[1].transcript_id,
                                                                     x[1].field, x[1].rater))]  # fmt: skip


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
