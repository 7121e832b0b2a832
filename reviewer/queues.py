"""Which items go into a queue, and in what order (the SQL lives in ``db.queues``).

Every kind turns the database into an ordered list of (annotator, transcript, reason)
assignments; the order is a pure function of the database and the seed, so the same
command on the same data builds the same queue. With no annotators named, one shared
order is stored (annotator ``''``: anyone may work through it).

Kinds:
- ``random``: items with no human label yet on the rubric, shuffled per annotator.
- ``stratified``: up to ``size`` unlabeled items per (model, condition), interleaved across
  strata so a half-finished queue is still balanced.
- ``overlap``: one fixed set that every named annotator (at least two) must label, each in
  their own shuffled order: the material for agreement statistics.
- ``disagreement``: items whose blind human labels differ from each other or from a
  classifier's label on some field, not yet adjudicated: the adjudication queue.
- ``uncertain``: items whose classifier vote fraction lies within ``margin`` of the rubric's
  threshold, nearest first.
- ``calibration``: items with a resolved gold label, shuffled: for checking annotators.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from db import Store, labels
from db import dataset as ds
from db.labels import (
    GoldPolicy,
    canonical_value,
    gold_for_item,
    human_blind_labels,
    show_value,
)
from db.queues import Queue, QueueError, create_queue
from rubrics import Rubric, RubricError

KINDS = ("random", "stratified", "overlap", "disagreement", "uncertain", "calibration")
DEFAULT_MARGIN = 0.15
DEFAULT_OVERLAP_SIZE = 50


@dataclass
class QueueRequest:
    """Everything ``reviewer queue create`` can say about a queue."""

    name: str
    kind: str
    rubric_id: str = "goal_guarding"
    annotators: Sequence[str] = ()
    size: int | None = None
    limit: int | None = None
    seed: int = 0
    model: str | None = None
    condition: str | None = None
    dataset: str | None = None
    blind: bool | None = None  # None: the kind's default (disagreement is unblind)
    margin: float = DEFAULT_MARGIN
    field: str | None = None
    min_humans: int = 2
    imported_as_human: bool = False
    replace: bool = False
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def load_rubric_for(store: Store, rubric_id: str) -> Rubric:
    """The rubric ``rubric_id`` names (``db.labels.resolve_rubric``: a path, else the
    database's newest version, else the built-in)."""
    try:
        return labels.resolve_rubric(store, rubric_id)
    except RubricError as exc:
        raise QueueError(str(exc)) from None


def _rng(seed: int, annotator: str) -> random.Random:
    # String seeds are hashed with sha512 by random, so orders do not depend on PYTHONHASHSEED.
    return random.Random(f"{seed}:{annotator}")


def _shuffled(items: list, seed: int, annotator: str) -> list:
    out = list(items)
    _rng(seed, annotator).shuffle(out)
    return out


def _unlabeled(store: Store, req: QueueRequest, rubric: Rubric) -> list[int]:
    labeled = ds.human_labeled_ids(store, rubric.id)
    ids = ds.transcript_ids(store, model=req.model, condition=req.condition, dataset=req.dataset)
    return [tid for tid in ids if tid not in labeled]


def _unlabeled_strata(store: Store, req: QueueRequest, rubric: Rubric) -> list[tuple]:
    labeled = ds.human_labeled_ids(store, rubric.id)
    return [
        row
        for row in ds.transcript_strata(
            store, model=req.model, condition=req.condition, dataset=req.dataset
        )
        if row[0] not in labeled
    ]


def _cap(items: list, *caps: int | None) -> list:
    for cap in caps:
        if cap is not None:
            items = items[:cap]
    return items


def _in_filters(store: Store, req: QueueRequest) -> set[int] | None:
    if req.model is None and req.condition is None and req.dataset is None:
        return None
    return set(
        ds.transcript_ids(store, model=req.model, condition=req.condition, dataset=req.dataset)
    )


def _scored_field(rubric: Rubric, req: QueueRequest) -> str:
    if req.field is not None:
        rubric.field(req.field)  # raises KeyError with the rubric's words
        return req.field
    for f in rubric.fields:
        if f.kind == "binary":
            return f.id
    return rubric.fields[0].id


def plan(store: Store, req: QueueRequest, rubric: Rubric) -> Iterator[tuple[str, int, str]]:
    """The assignments of a queue, in order, per annotator."""
    annotators = list(req.annotators)
    owners = annotators or [""]
    kind = req.kind
    if kind == "random":
        pool = _unlabeled(store, req, rubric)
        for who in owners:
            for tid in _cap(_shuffled(pool, req.seed, who), req.size, req.limit):
                yield who, tid, f"random (seed {req.seed})"
    elif kind == "stratified":
        per = req.size or 10
        strata: dict[tuple, list[int]] = {}
        for tid, model, condition in _unlabeled_strata(store, req, rubric):
            strata.setdefault((model or "?", condition or "?"), []).append(tid)
        picked = {
            key: _shuffled(ids, req.seed, f"{key[0]}|{key[1]}")[:per]
            for key, ids in sorted(strata.items())
        }
        order: list[tuple[int, str]] = []
        for i in range(per):
            for key, ids in picked.items():
                if i < len(ids):
                    order.append((ids[i], f"stratified {key[0]} x {key[1]}"))
        for who in owners:
            for tid, reason in _cap(order, req.limit):
                yield who, tid, reason
    elif kind == "overlap":
        if len(annotators) < 2:
            raise QueueError(
                "an overlap queue needs at least two annotators: --annotator A --annotator B"
            )
        pool = _unlabeled(store, req, rubric)
        chosen = _cap(_shuffled(pool, req.seed, ""), req.size or DEFAULT_OVERLAP_SIZE, req.limit)
        reason = f"overlap set of {len(chosen)} for {len(annotators)} annotators"
        for who in annotators:
            for tid in _shuffled(chosen, req.seed, who):
                yield who, tid, reason
    elif kind == "disagreement":
        found = _cap(list(find_disagreements(store, rubric, req)), req.size, req.limit)
        for who in owners:
            for tid, reason in found:
                yield who, tid, reason
    elif kind == "uncertain":
        found = _cap(find_uncertain(store, rubric, req), req.size, req.limit)
        for who in owners:
            for tid, reason in found:
                yield who, tid, reason
    elif kind == "calibration":
        found = list(find_calibration(store, rubric, req))
        for who in owners:
            for tid, reason in _cap(_shuffled(found, req.seed, who), req.size, req.limit):
                yield who, tid, reason
    else:
        raise QueueError(f"unknown queue kind {kind!r}; choose one of {', '.join(KINDS)}")


def find_disagreements(
    store: Store, rubric: Rubric, req: QueueRequest
) -> Iterator[tuple[int, str]]:
    """Items, in id order, where on some field the blind human labels differ from each other
    or from a classifier's live label, and no adjudication settles that field."""
    policy = GoldPolicy(min_humans=1, imported_as_human=req.imported_as_human)
    allowed = _in_filters(store, req)
    fields = [req.field] if req.field else list(rubric.field_ids)
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        if allowed is not None and tid not in allowed:
            continue
        reasons = []
        for f in fields:
            if any(e.field == f and e.source == "adjudication" for e in events):
                continue
            humans = human_blind_labels(events, f, policy)
            if not humans:
                continue
            human_values = {canonical_value(e.value) for e in humans.values()}
            if len(human_values) > 1:
                split = ", ".join(f"{r}={show_value(humans[r].value)}" for r in sorted(humans))
                reasons.append(f"{f}: humans differ ({split})")
                continue
            agreed = next(iter(human_values))
            for e in events:
                if e.field == f and e.source == "classifier" and canonical_value(e.value) != agreed:
                    reasons.append(
                        f"{f}: humans={show_value(next(iter(humans.values())).value)} vs "
                        f"{e.rater}={show_value(e.value)}"
                    )
                    break
        if reasons:
            yield tid, "disagreement: " + "; ".join(reasons)


def find_uncertain(store: Store, rubric: Rubric, req: QueueRequest) -> list[tuple[int, str]]:
    """Items whose classifier score on the scored field lies within the margin of the
    rubric's threshold, nearest first (ties by id)."""
    f = _scored_field(rubric, req)
    threshold = rubric.classifier.threshold if rubric.classifier else 0.5
    allowed = _in_filters(store, req)
    found: list[tuple[float, int, str]] = []
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        if allowed is not None and tid not in allowed:
            continue
        scored = [
            (round(abs(e.score - threshold), 9), e.rater, e.score)
            for e in events
            if e.field == f and e.source == "classifier" and e.score is not None
        ]
        if not scored:
            continue
        distance, rater, score = min(scored)
        if distance <= req.margin + 1e-12:
            found.append(
                (distance, tid, f"uncertain: {rater} {f}={score:.2f} (threshold {threshold:g})")
            )
    found.sort()
    return [(tid, reason) for _, tid, reason in found]


def find_calibration(store: Store, rubric: Rubric, req: QueueRequest) -> Iterator[tuple[int, str]]:
    """Items with a resolved gold label on at least one field (or on ``req.field``)."""
    policy = GoldPolicy(min_humans=req.min_humans, imported_as_human=req.imported_as_human)
    allowed = _in_filters(store, req)
    fields = [req.field] if req.field else list(rubric.field_ids)
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        if allowed is not None and tid not in allowed:
            continue
        gold = gold_for_item(events, fields, policy)
        resolved = [g for g in gold.values() if g.resolved]
        if resolved:
            yield tid, "calibration: gold " + ", ".join(f"{g.field}" for g in resolved)


def build_queue(store: Store, req: QueueRequest) -> tuple[Queue, int]:
    """Plan and store a queue. Returns it with the number of assignments written."""
    if req.kind not in KINDS:
        raise QueueError(f"unknown queue kind {req.kind!r}; choose one of {', '.join(KINDS)}")
    for who in req.annotators:
        if not who.strip():
            raise QueueError("annotator names must not be empty")
    if len(set(req.annotators)) != len(req.annotators):
        raise QueueError("an annotator is named twice")
    for name, value in (("--size", req.size), ("--limit", req.limit)):
        if value is not None and value < 1:
            raise QueueError(f"{name} must be at least 1")
    if not 0 < req.margin <= 0.5:
        raise QueueError(
            f"--margin must be above 0 and at most 0.5 (a distance from the threshold in vote "
            f"fraction), not {req.margin:g}"
        )
    if req.min_humans < 1:
        raise QueueError(f"--min-humans must be at least 1, not {req.min_humans}")
    _check_filters(store, req)
    rubric = load_rubric_for(store, req.rubric_id)
    if req.field is not None and req.field not in rubric.field_ids:
        raise QueueError(
            f"rubric {rubric.id!r} has no field {req.field!r} "
            f"(fields: {', '.join(rubric.field_ids)})"
        )
    blind = req.blind if req.blind is not None else req.kind != "disagreement"
    params = {
        "seed": req.seed,
        "size": req.size,
        "limit": req.limit,
        "annotators": list(req.annotators),
        "filters": {"model": req.model, "condition": req.condition, "dataset": req.dataset},
        **({"margin": req.margin} if req.kind == "uncertain" else {}),
        **({"field": req.field} if req.field else {}),
        **(
            {"min_humans": req.min_humans, "imported_as_human": req.imported_as_human}
            if req.kind in ("calibration", "disagreement")
            else {}
        ),
        **req.extra,
    }
    try:
        return create_queue(
            store,
            req.name,
            kind=req.kind,
            assignments=plan(store, req, rubric),
            rubric_id=rubric.id,
            blind=blind,
            params=params,
            replace=req.replace,
        )
    except QueueError as exc:
        hint = _EMPTY_HINTS.get(req.kind)
        if hint and str(exc).startswith("no items match"):
            raise QueueError(f"{exc} ({hint})") from None
        raise


def _check_filters(store: Store, req: QueueRequest) -> None:
    """A filter that matches no transcript is named, with the values that exist, rather than
    reported as "every matching item is labeled"."""
    given = {"model": req.model, "condition": req.condition, "dataset": req.dataset}
    given = {k: v for k, v in given.items() if v is not None}
    if not given or ds.has_transcripts(store, **given):
        return
    for column, value in given.items():
        if not ds.has_transcripts(store, **{column: value}):
            known = ", ".join(
                "?" if v is None else str(v) for v in ds.distinct_values(store, column)
            )
            raise QueueError(
                f"no transcript matches --{column} {value} ({column}s in the database: "
                f"{known or 'none'})"
            )
    flags = " ".join(f"--{k} {v}" for k, v in given.items())
    raise QueueError(f"no transcript matches {flags} together; see `reviewer info`")


_EMPTY_HINTS = {
    "random": "every matching item already has a human label under this rubric",
    "stratified": "every matching item already has a human label under this rubric",
    "overlap": "every matching item already has a human label under this rubric",
    "disagreement": "no item has blind human labels that differ from each other or from a "
    "classifier, or every such item is adjudicated",
    "uncertain": "no classifier score lies within --margin of the threshold; widen --margin",
    "calibration": "no item has a gold label: it needs an adjudication or --min-humans agreeing "
    "blind humans; for an imported gold set pass --imported-as-human --min-humans 1",
}
