"""Which category a rater's ``score`` is a score for, and turning it into a score for the
positive category that AUROC and average precision are computed on.

A single score column cannot say what it measures. The rule: a score is the rater's
probability (or any higher-means-more score) for one category, the *score category*. That is
``--score-for`` when given; otherwise the field's yes-like category (``yes``, ``true``, ``1``,
...) when it has two categories and one of them is yes-like; otherwise the ``--positive``
category. When the positive category is not the score category, a two-category field uses
``1 - score``; with more categories there is no such complement, so that is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reviewer.agreement.ratings import RatingSet
from reviewer.agreement.report import default_positive


class ScoreCategoryError(ValueError):
    """Scores cannot be turned into scores for the positive category; the message says why."""


def _match(categories: list[Any], name: Any) -> Any:
    for c in categories:
        if str(c) == str(name):
            return c
    return None


def score_category(categories: list[Any], score_for: Any, positive: Any) -> Any:
    """The category the scores are for, by the rule in the module docstring (None if none)."""
    if score_for is not None:
        return _match(categories, score_for)
    natural = default_positive(categories)
    if natural is not None:
        return natural
    return _match(categories, positive) if positive is not None else None


def orient_scores(
    rs: RatingSet, *, score_for: Any = None, positive: Any = None, field: str = ""
) -> list[str]:
    """Rewrite ``rs.scores`` in place as scores for the positive category; return notes.

    ``positive`` is the category precision/recall/AUROC treat as positive (None: the field's
    yes-like category, as the report picks it). Raises ScoreCategoryError when a field with
    more than two categories would need the complement of a score.
    """
    if not rs.scores:
        return []
    categories = list(rs.categories)
    target = _match(categories, positive) if positive is not None else None
    if target is None:
        target = default_positive(categories)
    source = score_category(categories, score_for, positive)
    where = f"field {field!r}: " if field else ""
    if source is None:
        if score_for is not None:
            rs.scores.clear()
            return [f"{where}scores left out: --score-for {score_for!r} is not a category here"]
        return []
    if target is None or str(target) == str(source):
        return []
    if len(categories) != 2:
        raise ScoreCategoryError(
            f"{where}the scores are for category {source!r}, but the positive category is "
            f"{target!r}; with {len(categories)} categories ({', '.join(map(str, categories))}) "
            f"a score for {source!r} says nothing about {target!r}. Pass --score-for {target} if "
            f"the scores are for {target!r}, or --positive {source}"
        )
    for rater, values in rs.scores.items():
        rs.scores[rater] = 1.0 - np.asarray(values, dtype=float)
    return [f"{where}scores are for {source!r}; AUROC and AP for {target!r} use 1 - score"]
