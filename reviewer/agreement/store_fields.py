"""Turn the labels in a database into one FieldSpec per rubric field (or per category of a
multi-label field, judged one-vs-rest).

Roles: human raters form the panel; classifier raters are judged against each human and
compared with the humans' agreement among themselves; imported (e.g. ``gold``) and adjudicated
labels are references everyone is judged against.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np

from db import Store
from db.agreement_data import agreement_label_slices, agreement_labels
from db.labels import LabelColumns
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


def _rater_names(chosen: LabelColumns) -> dict[tuple[str, str], str]:
    """A display name per (source, rater); a name used by two sources gets a prefix."""
    return _names_of({(chosen.sources[s], chosen.raters[r]) for s, r in _pairs(chosen)})


def _names_of(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    sources_by_name: dict[str, set[str]] = {}
    for source, rater in pairs:
        sources_by_name.setdefault(rater, set()).add(source)
    return {
        (source, rater): rater if len(sources_by_name[rater]) == 1 else f"{source}:{rater}"
        for source, rater in pairs
    }


def _distinct(codes: np.ndarray) -> list[int]:
    """The distinct values of an array of small non-negative codes, ascending (a count per
    code, where ``numpy.unique`` would sort millions of entries)."""
    if not len(codes):
        return []
    return np.flatnonzero(np.bincount(codes)).tolist()


def _items(tids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct transcript ids, ascending, and each label's position among them: what
    ``numpy.unique(tids, return_inverse=True)`` gives, by a table as long as the largest id."""
    if not len(tids):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Ids far apart (a table would be big) or below zero (a table cannot hold them): a sort.
    if int(tids.max()) > 8 * len(tids) + 1_000_000 or int(tids.min()) < 0:
        return np.unique(tids, return_inverse=True)
    present = np.zeros(int(tids.max()) + 1, dtype=bool)
    present[tids] = True
    items = np.flatnonzero(present)
    rank = np.cumsum(present, dtype=np.int64) - 1
    return items, rank[tids]


def _pairs(chosen: LabelColumns) -> list[tuple[int, int]]:
    """The distinct (source code, rater code) of the labels, sorted."""
    if not len(chosen):
        return []
    width = len(chosen.raters)
    found = _distinct(chosen.source.astype(np.int64) * width + chosen.rater)
    return [(k // width, k % width) for k in found]


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _scores_for(chosen: LabelColumns, category: Any, binary: list[Any] | None) -> np.ndarray:
    """The classifier's score for ``category`` per label (NaN for none): from its
    per-category ``scores`` when present; else, on a binary field (``binary`` = its two
    categories), from ``score``, which is the fraction for the yes-like category, so the other
    category gets ``1 - score``. Decided once per distinct ``scores`` value."""
    key = str(category)
    fixed = np.full(len(chosen.scores_values), np.nan)
    through = np.zeros(len(chosen.scores_values), dtype=bool)
    for k in _distinct(chosen.scores):
        per_category = chosen.scores_values[k]
        if isinstance(per_category, dict) and key in per_category:
            fixed[k] = _float_or_nan(per_category[key])
        else:
            through[k] = True
    out = fixed[chosen.scores] if len(fixed) else np.full(len(chosen), np.nan)
    scored = default_positive(binary) if binary is not None else None
    if scored is not None:
        use = through[chosen.scores] if len(through) else np.zeros(len(chosen), dtype=bool)
        score = chosen.score if key == str(scored) else 1.0 - chosen.score
        out = np.where(use, score, out)
    return out


@dataclass
class _Layout:
    """What every spec of one field shares (each category of a multi-label field is a spec
    over the same labels): the items, the raters' columns and each label's place."""

    items: np.ndarray
    item_index: np.ndarray
    rater_keys: list[tuple[str, str]]
    raters: list[str]
    col: dict[tuple[str, str], int]
    columns: np.ndarray
    classifier: np.ndarray
    distinct_values: list[int]
    cell: np.ndarray  # item_index * len(raters) + columns


_SOURCE_ORDER = {"human": 0, "classifier": 1, "adjudication": 2, "imported": 3}


def _in_rater_order(pairs) -> list[tuple[str, str]]:
    """(source, rater) pairs in the order of a spec's columns: humans, classifiers,
    adjudicators, imported references; by name within each."""
    return sorted(pairs, key=lambda k: (_SOURCE_ORDER[k[0]], k[1]))


def _layout(chosen: LabelColumns, names: dict[tuple[str, str], str]) -> _Layout:
    items, item_index = _items(chosen.transcript_id)
    pair_codes = _pairs(chosen)
    rater_keys = _in_rater_order((chosen.sources[s], chosen.raters[r]) for s, r in pair_codes)
    col = {k: g for g, k in enumerate(rater_keys)}
    pair_col = np.full((len(chosen.sources), max(len(chosen.raters), 1)), -1, dtype=np.int64)
    for s, r in pair_codes:
        pair_col[s, r] = col[(chosen.sources[s], chosen.raters[r])]
    columns = pair_col[chosen.source, chosen.rater] if len(chosen) else np.zeros(0, np.int64)
    cell = np.multiply(item_index, len(rater_keys), dtype=np.int64)
    cell += columns
    return _Layout(
        items=items,
        item_index=item_index,
        rater_keys=rater_keys,
        raters=[names[k] for k in rater_keys],
        col=col,
        columns=columns,
        classifier=chosen.source == chosen.code("source", "classifier"),
        distinct_values=_distinct(chosen.value),
        cell=cell,
    )


@dataclass(frozen=True)
class _Plan:
    """One spec to make of a field's labels: its name, how values become categories, and
    which classifier score goes with it."""

    name: str
    kind: str | None
    level: str
    categories: list[Any]
    value_of: Callable[[Any], Any]
    score_category: Any
    score_is_positive_fraction: bool
    positive: Any


def _field_order(rubric, present: list[str], field: str | None) -> list[str]:
    """The rubric's fields in its order, then fields it does not name, sorted."""
    if field is not None:
        return [field]
    order = list(rubric.field_ids) if rubric is not None else []
    return order + sorted(f for f in present if f not in order)


def _plans(fname: str, rubric, values: list[Any], positive: Any) -> list[_Plan]:
    """The specs of one field (one per category of a multi-label field, one-vs-rest), from
    the rubric, or, for a field it does not name, from the values its labels hold."""
    rubric_field = None
    if rubric is not None and fname in rubric.field_ids:
        rubric_field = rubric.field(fname)
    if rubric_field is not None:
        kind = rubric_field.kind
        categories = list(rubric_field.category_ids)
    else:
        is_multi = any(isinstance(v, list) for v in values)
        kind = "multi" if is_multi else None
        if is_multi:
            categories = sorted({str(c) for v in values if isinstance(v, list) for c in v})
        else:
            categories = sorted({str(v) for v in values})
    if kind == "multi":
        return [
            _Plan(
                f"{fname}:{cat}",
                "multi",
                "nominal",
                list(ONE_VS_REST),
                lambda v, cat=cat: ("yes" if cat in v else "no") if isinstance(v, list) else None,
                cat,
                False,
                "yes",
            )
            for cat in categories
        ]
    pos = positive if positive is not None else default_positive(categories)
    return [
        _Plan(
            fname,
            kind,
            LEVEL_BY_KIND.get(kind or "", "nominal"),
            categories,
            lambda v: v if isinstance(v, str) else str(v),
            pos,
            kind == "binary",
            pos,
        )
    ]


def _field_spec(
    plan: _Plan,
    rs: RatingSet,
    rater_keys: list[tuple[str, str]],
    names: dict[tuple[str, str], str],
    ignored: int,
) -> FieldSpec:
    """The spec around a field's ratings: humans are the panel, classifiers are judged
    against each human, references against everyone."""
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
        field=plan.name,
        ratings=rs,
        panel=humans,
        comparisons=comparisons,
        classifiers=classifiers,
        positive=plan.positive,
        kind=plan.kind,
        notes=notes,
    )


def _spec(
    plan: _Plan,
    chosen: LabelColumns,
    names: dict[tuple[str, str], str],
    layout: _Layout | None = None,
) -> FieldSpec:
    layout = layout if layout is not None else _layout(chosen, names)
    items, item_index, columns = layout.items, layout.item_index, layout.columns
    raters, col = layout.raters, layout.col
    categories = plan.categories
    cat_index = {c: k for k, c in enumerate(categories)}
    value_code = np.full(len(chosen.values), -1, dtype=np.int16)
    for v in layout.distinct_values:
        shown = plan.value_of(chosen.values[v])
        if shown in cat_index:
            value_code[v] = cat_index[shown]
    cells = value_code[chosen.value] if len(value_code) else np.zeros(0, dtype=np.int16)
    ok = cells >= 0
    ignored = int(np.count_nonzero(~ok))
    # Each label's cell in the items x raters table, as one flat index (a 2-D scatter with
    # two index arrays costs twice as much at a million items).
    codes = np.full(len(items) * len(raters), -1, dtype=np.int16)
    if ignored:
        codes[layout.cell[ok]] = cells[ok]
    else:
        codes[layout.cell] = cells
    codes = codes.reshape(len(items), len(raters))
    rs = RatingSet.from_codes(
        codes, categories, raters, items=items, level=plan.level, keep_items=True
    )
    del codes
    classifier = layout.classifier
    if plan.score_category is not None and classifier.any():
        binary = categories if plan.score_is_positive_fraction else None
        s = _scores_for(chosen, plan.score_category, binary)
        scored = ok & classifier & np.isfinite(s)
        # One column per classifier with a score (most of a million items have none).
        for (source, _), g in col.items():
            mine = scored & (columns == g)
            if source == "classifier" and mine.any():
                column = np.full(len(items), np.nan)
                column[item_index[mine]] = s[mine]
                rs.scores[raters[g]] = column
    return _field_spec(plan, rs, layout.rater_keys, names, ignored)


def store_field_specs(
    store: Store,
    rubric_id: str,
    *,
    field: str | None = None,
    phase: str = "blind",
    positive: Any = None,
    current: LabelColumns | None = None,
) -> list[FieldSpec]:
    """One FieldSpec per field of the rubric (per category of a multi-label field).
    ``current``: ``db.labels.current_label_columns`` read once for several rubrics."""
    chosen = agreement_labels(store, rubric_id, field=field, phase=phase, current=current)
    rubric = load_rubric_for(store, rubric_id)
    names = _rater_names(chosen)
    by_field = {chosen.fields[f]: f for f in _distinct(chosen.field)}
    specs = []
    for fname in _field_order(rubric, list(by_field), field):
        # Each field's labels are gathered when its turn comes, not all at once.
        frows = chosen.take(chosen.field == by_field.get(fname, -1))
        values = [frows.values[v] for v in _distinct(frows.value)]
        plans = _plans(fname, rubric, values, positive)
        # The categories of a multi-label field share one layout of the field's labels.
        layout = _layout(frows, names) if len(plans) > 1 else None
        specs += [_spec(plan, frows, names, layout) for plan in plans]
    return specs


def _distinct_rows(table: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a table of codes in -1 .. n_values - 1, and how often each
    occurs: as one number per row when the rows fit in 62 bits (a row-wise ``unique``
    sorts rows as records, several times slower)."""
    base = n_values + 1
    width = table.shape[1]
    if width * np.log2(base) >= 62:
        return np.unique(table, axis=0, return_counts=True)
    keys = np.zeros(len(table), dtype=np.int64)
    for g in range(width):
        keys *= base
        keys += table[:, g] + 1
    unique, n = np.unique(keys, return_counts=True)
    rows = np.empty((len(unique), width), dtype=np.int64)
    for g in range(width - 1, -1, -1):
        rows[:, g] = unique % base - 1
        unique = unique // base
    return rows, n


def _value_key(value: Any) -> str:
    """A key per distinct value: its JSON text (different decoded values never share one),
    or, for what JSON cannot write (bytes another tool stored), its type and repr."""
    try:
        return "j" + json.dumps(value)
    except (TypeError, ValueError):
        return f"r{type(value).__name__}:{value!r}"


class _FieldTally:
    """One field's rating patterns, counted over slices of the labels.

    A field the rubric names has its specs (``plans``) known before any label is read, so
    each slice's labels become category codes at once and only coded patterns are kept: at
    most (categories + 1) ** raters of them per spec, whatever the number of items. A field
    the rubric does not name takes its categories from every value its labels hold, so its
    patterns are kept as (rater, value) until the end; that holds one pattern per distinct
    combination of values, which grows with the items only for multi-label values."""

    def __init__(self, plans: list[_Plan] | None) -> None:
        self.plans = plans
        self.pairs: set[tuple[str, str]] = set()
        # Specs known: per spec name, its coded patterns and the labels left out.
        self.coded: dict[str, Counter[tuple]] = {p.name: Counter() for p in plans or []}
        self.ignored: Counter[str] = Counter()
        # Specs not known yet: every value (by key), labels per value and raw patterns.
        self.values: dict[str, Any] = {}
        self.labels: Counter[str] = Counter()
        self.patterns: Counter[tuple] = Counter()

    def add(self, frows: LabelColumns) -> None:
        pair_codes = _pairs(frows)
        keys = [(frows.sources[s], frows.raters[r]) for s, r in pair_codes]
        self.pairs.update(keys)
        pair_col = np.full((len(frows.sources), max(len(frows.raters), 1)), -1, dtype=np.int64)
        for j, (s, r) in enumerate(pair_codes):
            pair_col[s, r] = j
        # Ids from the slice's first: a table as long as the slice, not the database.
        tids = frows.transcript_id
        items, item_index = _items(tids - tids.min())
        cell = item_index * len(keys) + pair_col[frows.source, frows.rater]
        distinct = _distinct(frows.value)
        if self.plans is not None:
            for plan in self.plans:
                self._add_coded(plan, frows, distinct, keys, len(items), cell)
            return
        value_keys: dict[int, str] = {}
        counts = np.bincount(frows.value)
        for v in distinct:
            value = frows.values[v]
            key = _value_key(value)
            value_keys[v] = key
            self.values.setdefault(key, value)
            self.labels[key] += int(counts[v])
        # The items x raters table of value codes (the last label of a cell stands), then
        # one count per distinct row.
        cells = np.full(len(items) * len(keys), -1, dtype=np.int32)
        cells[cell] = frows.value
        rows, n = _distinct_rows(cells.reshape(len(items), len(keys)), len(frows.values))
        for row, count in zip(rows.tolist(), n.tolist(), strict=True):
            pattern = tuple((keys[j], value_keys[v]) for j, v in enumerate(row) if v >= 0)
            self.patterns[pattern] += count

    def _add_coded(self, plan, frows, distinct, keys, n_items, cell) -> None:
        """One spec's category codes for a slice, filled as ``_spec`` fills its table."""
        cat_index = {c: k for k, c in enumerate(plan.categories)}
        value_code = np.full(len(frows.values), -1, dtype=np.int64)
        for v in distinct:
            value_code[v] = cat_index.get(plan.value_of(frows.values[v]), -1)
        codes = value_code[frows.value]
        ok = codes >= 0
        self.ignored[plan.name] += int(np.count_nonzero(~ok))
        table = np.full(n_items * len(keys), -1, dtype=np.int16)  # as _spec's table
        table[cell[ok]] = codes[ok]
        rows, n = _distinct_rows(table.reshape(n_items, len(keys)), len(plan.categories))
        tally = self.coded[plan.name]
        for row, count in zip(rows.tolist(), n.tolist(), strict=True):
            tally[tuple((keys[j], c) for j, c in enumerate(row) if c >= 0)] += count

    def spec(self, plan: _Plan, names: dict[tuple[str, str], str]) -> FieldSpec:
        rater_keys = _in_rater_order(self.pairs)
        col = {k: g for g, k in enumerate(rater_keys)}
        if self.plans is not None:  # the patterns hold category codes already
            patterns, ignored = self.coded[plan.name], self.ignored[plan.name]
            code: dict | None = None
        else:
            patterns = self.patterns
            cat_index = {c: k for k, c in enumerate(plan.categories)}
            code = {k: cat_index.get(plan.value_of(v), -1) for k, v in self.values.items()}
            ignored = sum(n for key, n in self.labels.items() if code[key] < 0)
        codes = np.full((len(patterns), len(rater_keys)), -1, dtype=np.int16)
        for p, pattern in enumerate(patterns):
            for pair, value in pattern:
                codes[p, col[pair]] = value if code is None else code[value]
        rs = RatingSet.from_pattern_counts(
            codes,
            np.fromiter(patterns.values(), dtype=np.int64, count=len(patterns)),
            plan.categories,
            [names[k] for k in rater_keys],
            level=plan.level,
        )
        return _field_spec(plan, rs, rater_keys, names, ignored)


def store_field_pattern_specs(
    store: Store,
    rubric_id: str,
    *,
    phase: str = "blind",
    positive: Any = None,
    events_per_slice: int | None = None,
) -> list[FieldSpec]:
    """``store_field_specs``' specs, counted a slice of transcripts at a time: the same
    rating patterns, so the same coefficients and the same bootstrap intervals, but without
    the items or the classifiers' scores (nothing that needs them, such as a score's AUC or
    the items behind a cell, can be computed from these). For the fields the rubric names,
    memory does not grow with the database (see ``_FieldTally`` for the others): for
    summaries such as the dataset card."""
    from db.connection import read_snapshot

    rubric = load_rubric_for(store, rubric_id)
    more = {} if events_per_slice is None else {"events_per_slice": events_per_slice}
    tallies: dict[str, _FieldTally] = {}

    def tally_of(fname: str) -> _FieldTally:
        if fname not in tallies:
            known = rubric is not None and fname in rubric.field_ids
            tallies[fname] = _FieldTally(_plans(fname, rubric, [], positive) if known else None)
        return tallies[fname]

    # One snapshot for every slice, ended here however the loop ends.
    with (
        read_snapshot(store.db.conn),
        closing(agreement_label_slices(store, rubric_id, phase=phase, **more)) as slices,
    ):
        for chosen in slices:
            for f in _distinct(chosen.field):
                tally_of(chosen.fields[f]).add(chosen.take(chosen.field == f))
    every_pair = {pair for tally in tallies.values() for pair in tally.pairs}
    names = _names_of(every_pair)
    specs = []
    for fname in _field_order(rubric, list(tallies), None):
        tally = tally_of(fname)
        for plan in tally.plans or _plans(fname, rubric, list(tally.values.values()), positive):
            specs.append(tally.spec(plan, names))
    return specs
