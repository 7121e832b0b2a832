"""Which items go into a queue, and in what order (the SQL lives in ``db.queues``).

Every kind turns the database into an ordered list of (annotator, transcript, reason)
assignments, each with the sampling design that drew it: the item's inclusion probability
and stratum. ``random`` and ``overlap`` draw n of the N matching unlabeled items (n/N);
``stratified`` and ``score-stratified`` draw n_h of the N_h items of each stratum (n_h/N_h);
``disagreement``, ``uncertain``, ``calibration``, ``adjudication``, ``errors`` and ``flagged``
pick items by what their labels say, which is no probability sample, so their probability is unknown (NULL) and estimates say so. The
frame is the matching items without a human label when the queue is made.
Assignments the order is a pure function of the database and the seed, so the same
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
- ``score-stratified``: ``size`` items (default 200) drawn by simple random sampling within
  strata of model x condition x classifier-score bin, with Neyman allocation; each item's
  inclusion probability is recorded, so the corrected estimate can weight it back.
- ``uncertain``: items whose classifier vote fraction lies within ``margin`` of the rubric's
  threshold, nearest first.
- ``calibration``: items with a resolved gold label, shuffled: for checking annotators.
- ``adjudication``: items whose blind human labels differ on some field (with
  ``with_classifier``, also items where the agreeing humans and a classifier differ), not yet
  adjudicated, most important first (``find_adjudications`` says why that order).
- ``errors``: items where classifier ``rater`` contradicts the gold label, the most
  confident errors first: the auditor's queue.
- ``flagged``: items someone flagged (a live flag), the longest-flagged first.
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

KINDS = (
    "random",
    "stratified",
    "score-stratified",
    "overlap",
    "disagreement",
    "uncertain",
    "calibration",
    "adjudication",
    "errors",
    "flagged",
)
UNBLIND_KINDS = ("disagreement", "adjudication", "errors")
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
    rater: str | None = None  # errors: the classifier audited
    with_classifier: bool = False  # adjudication: also humans-vs-classifier disagreements
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


def _probability(n: int, population: int) -> float | None:
    return None if population == 0 or n == 0 else n / population


def plan(store: Store, req: QueueRequest, rubric: Rubric) -> Iterator[tuple]:
    """The assignments of a queue, in order, per annotator: (annotator, transcript, reason,
    inclusion probability, stratum). The probability is that of the item being drawn into
    this annotator's list (None where the kind draws no probability sample)."""
    annotators = list(req.annotators)
    owners = annotators or [""]
    kind = req.kind
    if kind == "random":
        pool = _unlabeled(store, req, rubric)
        for who in owners:
            chosen = _cap(_shuffled(pool, req.seed, who), req.size, req.limit)
            p = _probability(len(chosen), len(pool))
            for tid in chosen:
                yield who, tid, f"random (seed {req.seed})", p, "all"
    elif kind == "stratified":
        per = req.size or 10
        strata: dict[tuple, list[int]] = {}
        for tid, model, condition in _unlabeled_strata(store, req, rubric):
            strata.setdefault((model or "?", condition or "?"), []).append(tid)
        picked = {
            key: _shuffled(ids, req.seed, f"{key[0]}|{key[1]}")[:per]
            for key, ids in sorted(strata.items())
        }
        order: list[tuple[int, str, tuple]] = []
        for i in range(per):
            for key, ids in picked.items():
                if i < len(ids):
                    order.append((ids[i], f"stratified {key[0]} x {key[1]}", key))
        order = _cap(order, req.limit)
        drawn: dict[tuple, int] = {}
        for _, _, key in order:
            drawn[key] = drawn.get(key, 0) + 1
        for who in owners:
            for tid, reason, key in order:
                p = _probability(drawn[key], len(strata[key]))
                yield who, tid, reason, p, f"{key[0]} x {key[1]}"
    elif kind == "score-stratified":
        yield from plan_score_stratified(store, req, rubric)
    elif kind == "overlap":
        if len(annotators) < 2:
            raise QueueError(
                "an overlap queue needs at least two annotators: --annotator A --annotator B"
            )
        pool = _unlabeled(store, req, rubric)
        chosen = _cap(_shuffled(pool, req.seed, ""), req.size or DEFAULT_OVERLAP_SIZE, req.limit)
        reason = f"overlap set of {len(chosen)} for {len(annotators)} annotators"
        p = _probability(len(chosen), len(pool))
        for who in annotators:
            for tid in _shuffled(chosen, req.seed, who):
                yield who, tid, reason, p, "all"
    elif kind == "disagreement":
        found = _cap(list(find_disagreements(store, rubric, req)), req.size, req.limit)
        for who in owners:
            for tid, reason in found:
                yield who, tid, reason, None, None
    elif kind == "uncertain":
        found = _cap(find_uncertain(store, rubric, req), req.size, req.limit)
        for who in owners:
            for tid, reason in found:
                yield who, tid, reason, None, None
    elif kind in ("adjudication", "errors", "flagged"):
        # Picked by what their labels say: no probability sample, so no inclusion probability.
        finder = {
            "adjudication": find_adjudications,
            "errors": find_errors,
            "flagged": find_flagged,
        }[kind]
        found = _cap(finder(store, rubric, req), req.size, req.limit)
        for who in owners:
            for tid, reason in found:
                yield who, tid, reason, None, None
    elif kind == "calibration":
        found = list(find_calibration(store, rubric, req))
        for who in owners:
            for tid, reason in _cap(_shuffled(found, req.seed, who), req.size, req.limit):
                yield who, tid, reason, None, None
    else:
        raise QueueError(f"unknown queue kind {kind!r}; choose one of {', '.join(KINDS)}")


SCORE_BINS = 5
MIN_STRATUM_SD = 0.1
DEFAULT_SCORE_SAMPLE = 200


def score_bin(score: float | None) -> str:
    if score is None:
        return "unscored"
    k = min(SCORE_BINS - 1, max(0, int(score * SCORE_BINS)))
    low, high = k / SCORE_BINS, (k + 1) / SCORE_BINS
    return f"score [{low:.1f}, {high:.1f}{']' if k == SCORE_BINS - 1 else ')'}"


def classifier_scores(store: Store, rubric: Rubric, req: QueueRequest) -> dict[int, float]:
    """The classifier score on the scored field of every item that has one: from the
    classifier named in ``req.extra['classifier']``, else the one that scored most items. A
    classifier label without a score counts as score 1 (positive) or 0."""
    f = _scored_field(rubric, req)
    wanted = req.extra.get("classifier")
    by_rater: dict[str, dict[int, float]] = {}
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        for e in events:
            if e.field != f or e.source != "classifier":
                continue
            score = e.score
            if score is None:
                score = 1.0 if str(e.value) in ("yes", "true", "True", "1") else 0.0
            by_rater.setdefault(e.rater, {})[tid] = float(score)
    if wanted is not None:
        if wanted not in by_rater:
            known = ", ".join(sorted(by_rater)) or "none"
            raise QueueError(f"no classifier {wanted!r} scored {f} (classifiers: {known})")
        return by_rater[wanted]
    if not by_rater:
        return {}
    return max(by_rater.items(), key=lambda kv: (len(kv[1]), kv[0]))[1]


def plan_score_stratified(store: Store, req: QueueRequest, rubric: Rubric) -> Iterator[tuple]:
    """A sample stratified by model x condition x classifier-score bin, allocated by Neyman
    allocation for the corrected estimate.

    The corrected rate's uncertainty comes from the human-minus-classifier residual; where
    the classifier is calibrated, an item with score s has residual variance about s(1 - s).
    So a stratum's standard deviation is taken as sqrt(mean s(1 - s)) over its items (the
    binomial sd of the score), floored at MIN_STRATUM_SD because a confident classifier can
    still be wrong; unscored items get 0.5. Items are drawn by simple random sampling within
    each stratum; each item's inclusion probability is n_h / N_h. The queue order is one
    seeded shuffle of the whole sample, so a half-labeled queue is still a random part of
    each stratum."""
    from reviewer.estimates import AllocationError, neyman_allocation  # numpy: not at start-up

    scores = classifier_scores(store, rubric, req)
    strata: dict[str, list[int]] = {}
    for tid, model, condition in _unlabeled_strata(store, req, rubric):
        key = f"{model or '?'} x {condition or '?'} x {score_bin(scores.get(tid))}"
        strata.setdefault(key, []).append(tid)
    if not strata:
        return
    keys = sorted(strata)
    sds = []
    for key in keys:
        vals = [scores[t] for t in strata[key] if t in scores]
        if not vals:
            sds.append(0.5)
            continue
        var = sum(v * (1 - v) for v in vals) / len(vals)
        sds.append(max(MIN_STRATUM_SD, var**0.5))
    total = req.size or DEFAULT_SCORE_SAMPLE
    try:
        alloc = neyman_allocation([len(strata[k]) for k in keys], sds, total)
    except AllocationError as exc:
        raise QueueError(f"--size {total} is too small: {exc}") from None
    chosen: list[tuple[int, str, float]] = []
    for key, n_h in zip(keys, alloc, strict=True):
        ids = _shuffled(strata[key], req.seed, key)[:n_h]
        p = n_h / len(strata[key])
        chosen += [(tid, key, p) for tid in ids]
    order = _cap(_shuffled(chosen, req.seed, "score-stratified"), req.limit)
    if req.limit is not None and req.limit < len(chosen):
        drawn: dict[str, int] = {}
        for _, key, _ in order:
            drawn[key] = drawn.get(key, 0) + 1
        order = [(tid, key, drawn[key] / len(strata[key])) for tid, key, _ in order]
    for who in req.annotators or [""]:
        for tid, key, p in order:
            yield who, tid, f"score-stratified {key} (p={p:.3g})", p, key


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


def find_adjudications(store: Store, rubric: Rubric, req: QueueRequest) -> list[tuple[int, str]]:
    """Items an adjudicator should settle, most important first.

    Candidates: on some field not yet adjudicated, the blind human labels differ (and with
    ``req.with_classifier``, also fields where the humans agree and a classifier does not).
    Order: items with human-human disputes before classifier-only ones (only those leave gold
    unresolved); then more disputed fields (one decision settles more); then the more even
    split (a 2-2 split has no majority that could stand in for a decision, a 3-1 has); then
    more human raters (more labels hang on it); then transcript id.
    """
    policy = GoldPolicy(min_humans=1, imported_as_human=req.imported_as_human)
    allowed = _in_filters(store, req)
    fields = [req.field] if req.field else list(rubric.field_ids)
    found: list[tuple[tuple, int, str]] = []
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        if allowed is not None and tid not in allowed:
            continue
        disputes, evenness, raters, reasons = 0, 0.0, 0, []
        classifier_only = 0
        for f in fields:
            if any(e.field == f and e.source == "adjudication" for e in events):
                continue
            humans = human_blind_labels(events, f, policy)
            counts: dict[Any, int] = {}
            for e in humans.values():
                counts[canonical_value(e.value)] = counts.get(canonical_value(e.value), 0) + 1
            if len(counts) > 1:
                disputes += 1
                evenness = max(evenness, min(counts.values()) / len(humans))
                raters = max(raters, len(humans))
                split = ", ".join(f"{r}={show_value(humans[r].value)}" for r in sorted(humans))
                reasons.append(f"{f}: humans differ ({split})")
            elif counts and req.with_classifier:
                agreed = next(iter(counts))
                for e in events:
                    if (
                        e.field == f
                        and e.source == "classifier"
                        and canonical_value(e.value) != agreed
                    ):
                        classifier_only += 1
                        reasons.append(
                            f"{f}: humans={show_value(agreed)} vs {e.rater}={show_value(e.value)}"
                        )
                        break
        if reasons:
            rank = (0 if disputes else 1, -disputes, -evenness, -raters, -classifier_only, tid)
            found.append((rank, tid, "adjudication: " + "; ".join(reasons)))
    found.sort()
    return [(tid, reason) for _, tid, reason in found]


def find_errors(store: Store, rubric: Rubric, req: QueueRequest) -> list[tuple[int, str]]:
    """Items where classifier ``req.rater`` contradicts the gold label (adjudicated, else
    ``req.min_humans`` unanimous blind humans), the most confident errors first: a vote
    fraction far from the threshold on the wrong side says the classifier was sure."""
    if not req.rater:
        raise QueueError("an errors queue needs --rater CLASSIFIER (the classifier to audit)")
    policy = GoldPolicy(min_humans=req.min_humans, imported_as_human=req.imported_as_human)
    threshold = rubric.classifier.threshold if rubric.classifier else 0.5
    allowed = _in_filters(store, req)
    fields = [req.field] if req.field else list(rubric.field_ids)
    found: list[tuple[tuple, int, str]] = []
    seen_rater = False
    for tid, events in ds.iter_item_labels(store, rubric_ids=[rubric.id]):
        if allowed is not None and tid not in allowed:
            continue
        gold = gold_for_item(events, fields, policy)
        reasons, confidence = [], 0.0
        for f in fields:
            said = [
                e
                for e in events
                if e.field == f and e.source == "classifier" and e.rater == req.rater
            ]
            seen_rater = seen_rater or bool(said)
            if (
                not said
                or not gold[f].resolved
                or canonical_value(said[0].value) == canonical_value(gold[f].value)
            ):
                continue
            score = said[0].score
            confidence = max(confidence, abs(score - threshold) if score is not None else 0.0)
            votes = f" ({score:.2f})" if score is not None else ""
            reasons.append(
                f"{f}: {req.rater} said {show_value(said[0].value)}{votes}, "
                f"gold {show_value(gold[f].value)}"
            )
        if reasons:
            found.append(((-round(confidence, 9), tid), tid, "errors: " + "; ".join(reasons)))
    if not seen_rater:
        known = sorted(
            {s[3] for s in labels.label_slots(store, [rubric.id]) if s[2] == "classifier"}
        )
        raise QueueError(
            f"no classifier {req.rater!r} has labels under {rubric.id} "
            f"(classifiers: {', '.join(known) or 'none'})"
        )
    found.sort()
    return [(tid, reason) for _, tid, reason in found]


def find_flagged(store: Store, rubric: Rubric, req: QueueRequest) -> list[tuple[int, str]]:
    """Items with a live flag under the rubric, the longest-flagged first."""
    allowed = _in_filters(store, req)
    first: dict[int, tuple[int, list[str]]] = {}
    for e in labels.current_labels(store, rubric_id=rubric.id, field=labels.FLAG):
        if e.value is not True or (allowed is not None and e.transcript_id not in allowed):
            continue
        since, who = first.get(e.transcript_id, (e.id, []))
        first[e.transcript_id] = (min(since, e.id), [*who, e.rater])
    ordered = sorted(first.items(), key=lambda item: item[1][0])
    return [(tid, "flagged by " + ", ".join(sorted(who))) for tid, (_, who) in ordered]


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
    blind = req.blind if req.blind is not None else req.kind not in UNBLIND_KINDS
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
            if req.kind in ("calibration", "disagreement", "adjudication", "errors")
            else {}
        ),
        **({"rater": req.rater} if req.kind == "errors" else {}),
        **({"with_classifier": req.with_classifier} if req.kind == "adjudication" else {}),
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
    "score-stratified": "every matching item already has a human label under this rubric",
    "overlap": "every matching item already has a human label under this rubric",
    "disagreement": "no item has blind human labels that differ from each other or from a "
    "classifier, or every such item is adjudicated",
    "uncertain": "no classifier score lies within --margin of the threshold; widen --margin",
    "adjudication": "no item has blind human labels that differ (add --with-classifier for "
    "human-vs-classifier disagreements), or every such item is adjudicated",
    "errors": "the classifier agrees with every gold label it can be checked against (gold needs "
    "an adjudication or --min-humans agreeing blind humans)",
    "flagged": "no item has a live flag under this rubric",
    "calibration": "no item has a gold label: it needs an adjudication or --min-humans agreeing "
    "blind humans; for an imported gold set pass --imported-as-human --min-humans 1",
}
