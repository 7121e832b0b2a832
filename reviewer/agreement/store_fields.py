"""Turn the labels in a database into one FieldSpec per rubric field (or per category of a
multi-label field, judged one-vs-rest).

Roles: human raters form the panel; classifier raters are judged against each human and
compared with the humans' agreement among themselves; imported (e.g. ``gold``) and adjudicated
labels are references everyone is judged against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from db import Store
from db.agreement_data import RatingRow, agreement_ratings
from reviewer.agreement.ratings import RatingSet
from reviewer.agreement.report import FieldSpec, default_positive

LEVEL_BY_KIND = {"binary": "nominal", "single": "nominal", "ordinal": "ordinal", "multi": "nominal"}
REFERENCE_SOURCES = ("imported", "adjudication")
ONE_VS_REST = ("no", "yes")


def load_rubric_for(store: Store, rubric_id: str):
    """The rubric ``rubric_id`` names (``db.labels.resolve_rubric``), else None."""
    from db.labels import resolve_rubric
    from rubrics import RubricError

    try:
        return resolve_rubric(store, rubric_id)
    except RubricError:
        return None


def _rater_names(rows: Sequence[RatingRow]) -> dict[tuple[str, str], str]:
    """A display name per (source, rater); a name used by two sources gets a prefix."""
    sources_by_name: dict[str, set[str]] = {}
    for r in rows:
        sources_by_name.setdefault(r.rater, set()).add(r.source)
    return {
        (r.source, r.rater): r.rater
        if len(sources_by_name[r.rater]) == 1
        else f"{r.source}:{r.rater}"
        for r in rows
    }


def _score(row: RatingRow, category: Any, binary: list[Any] | None) -> float | None:
    """The classifier's score for ``category``: from its per-category ``scores`` when present;
    else, on a binary field (``binary`` = its two categories), from ``score``, which is the
    fraction for the yes-like category, so the other category gets ``1 - score``."""
    if row.scores and str(category) in row.scores:
        try:
            return float(row.scores[str(category)])
        except (TypeError, ValueError):
            return None
    if row.score is None or binary is None:
        return None
    scored = default_positive(binary)
    if scored is None:
        return None
    if str(category) == str(scored):
        return float(row.score)
    return 1.0 - float(row.score)


def _spec(
    name: str,
    kind: str | None,
    level: str,
    categories: list[Any],
    rows: Sequence[RatingRow],
    value_of,
    score_category: Any,
    score_is_positive_fraction: bool,
    positive: Any,
    names: dict[tuple[str, str], str],
) -> FieldSpec:
    items = sorted({r.transcript_id for r in rows})
    item_index = {t: i for i, t in enumerate(items)}
    order = {"human": 0, "classifier": 1, "adjudication": 2, "imported": 3}
    rater_keys = sorted({(r.source, r.rater) for r in rows}, key=lambda k: (order[k[0]], k[1]))
    raters = [names[k] for k in rater_keys]
    col = {k: g for g, k in enumerate(rater_keys)}
    cat_index = {c: k for k, c in enumerate(categories)}
    codes = np.full((len(items), len(raters)), -1, dtype=np.int16)
    scores = np.full((len(items), len(raters)), np.nan)
    ignored = 0
    for r in rows:
        value = value_of(r.value)
        if value not in cat_index:
            ignored += 1
            continue
        i, g = item_index[r.transcript_id], col[(r.source, r.rater)]
        codes[i, g] = cat_index[value]
        if r.source == "classifier" and score_category is not None:
            s = _score(r, score_category, categories if score_is_positive_fraction else None)
            if s is not None:
                scores[i, g] = s
    rs = RatingSet.from_codes(codes, categories, raters, items=items, level=level, keep_items=True)
    for (source, _), g in col.items():
        if source == "classifier" and np.isfinite(scores[:, g]).any():
            rs.scores[raters[g]] = scores[:, g]
    humans = [names[k] for k in rater_keys if k[0] == "human"]
    classifiers = [names[k] for k in rater_keys if k[0] == "classifier"]
    references = [names[k] for k in rater_keys if k[0] in REFERENCE_SOURCES]
    comparisons = [(c, h) for c in classifiers for h in humans]
    comparisons += [(r, ref) for ref in references for r in humans + classifiers]
    notes = []
    if ignored:
        notes.append(
            f"{ignored} label(s) with a value outside the field's categories were left out"
        )
    return FieldSpec(
        field=name,
        ratings=rs,
        panel=humans,
        comparisons=comparisons,
        classifiers=classifiers,
        positive=positive,
        kind=kind,
        notes=notes,
    )


def store_field_specs(
    store: Store,
    rubric_id: str,
    *,
    field: str | None = None,
    phase: str = "blind",
    positive: Any = None,
) -> list[FieldSpec]:
    rows = agreement_ratings(store, rubric_id, field=field, phase=phase)
    rubric = load_rubric_for(store, rubric_id)
    names = _rater_names(rows)
    by_field: dict[str, list[RatingRow]] = {}
    for r in rows:
        by_field.setdefault(r.field, []).append(r)
    field_order = list(rubric.field_ids) if rubric is not None else []
    field_order += sorted(f for f in by_field if f not in field_order)
    if field is not None:
        field_order = [field]
    specs = []
    for fname in field_order:
        frows = by_field.get(fname, [])
        rubric_field = None
        if rubric is not None and fname in rubric.field_ids:
            rubric_field = rubric.field(fname)
        if rubric_field is not None:
            kind = rubric_field.kind
            categories = list(rubric_field.category_ids)
        else:
            is_multi = any(isinstance(r.value, list) for r in frows)
            kind = "multi" if is_multi else None
            if is_multi:
                categories = sorted(
                    {str(v) for r in frows if isinstance(r.value, list) for v in r.value}
                )
            else:
                categories = sorted({str(r.value) for r in frows})
        if kind == "multi":
            for cat in categories:
                specs.append(
                    _spec(
                        f"{fname}:{cat}",
                        "multi",
                        "nominal",
                        list(ONE_VS_REST),
                        frows,
                        lambda v, cat=cat: (
                            ("yes" if cat in v else "no") if isinstance(v, list) else None
                        ),
                        cat,
                        False,
                        "yes",
                        names,
                    )
                )
            continue
        level = LEVEL_BY_KIND.get(kind or "", "nominal")
        pos = positive if positive is not None else default_positive(categories)
        specs.append(
            _spec(
                fname,
                kind,
                level,
                categories,
                frows,
                lambda v: v if isinstance(v, str) else str(v),
                pos,
                kind == "binary",
                pos,
                names,
            )
        )
    return specs
