"""Turning an item's votes into one label per field.

Each category's score is the fraction of parsed votes that chose it. Binary fields are
labelled with the positive category (``yes``, else the first) when its fraction reaches the
threshold; multi fields take every category at or above the threshold; single and ordinal
fields take the most voted category (ties go to the earlier category in the rubric).
Unparseable votes are left out of the fractions and counted in the note.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rubrics.model import Field, Rubric

MAX_QUOTES = 5


@dataclass(frozen=True)
class FieldLabel:
    field: str
    value: Any
    score: float | None
    scores: dict[str, float]


def positive_category(f: Field) -> str:
    return "yes" if "yes" in f.category_ids else f.category_ids[0]


def aggregate_field(f: Field, values: list[Any], threshold: float) -> FieldLabel:
    n = len(values)
    if n == 0:
        raise ValueError("no votes to aggregate")
    counts: Counter[str] = Counter()
    for v in values:
        if f.kind == "multi":
            counts.update(set(v))
        else:
            counts[v] += 1
    scores = {c: counts[c] / n for c in f.category_ids}
    if f.kind == "binary":
        pos = positive_category(f)
        neg = next(c for c in f.category_ids if c != pos)
        value: Any = pos if scores[pos] >= threshold else neg
        return FieldLabel(f.id, value, scores[pos], scores)
    if f.kind == "multi":
        chosen = sorted(c for c in f.category_ids if scores[c] >= threshold)
        # No single positive category: the per-category fractions in ``scores`` say it all.
        return FieldLabel(f.id, chosen, None, scores)
    best = max(f.category_ids, key=lambda c: (scores[c], -f.category_ids.index(c)))
    return FieldLabel(f.id, best, scores[best], scores)


def aggregate(
    rubric: Rubric, samples: list[dict[str, Any]], threshold: float
) -> tuple[list[FieldLabel], list[dict[str, str]], int]:
    """(labels per field, evidence quotes, number of parsed votes) for one item.

    ``samples`` are stored parse results: ``{"answers", "quotes"}`` or ``{"error"}``.
    Returns no labels when no vote could be parsed.
    """
    valid = [s for s in samples if "answers" in s]
    if not valid:
        return [], [], 0
    labels = [
        aggregate_field(f, [s["answers"][f.id] for s in valid], threshold) for f in rubric.fields
    ]
    quote_counts: Counter[str] = Counter()
    for s in valid:
        quote_counts.update(list(dict.fromkeys(s.get("quotes", []))))
    evidence = [{"quote": q} for q, _ in quote_counts.most_common(MAX_QUOTES)]
    return labels, evidence, len(valid)
