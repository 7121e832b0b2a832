"""Ratings compressed to distinct item patterns, so that every statistic is a weighted sum.

An item's *pattern* is the tuple of category codes its raters gave (``-1`` = missing). Two
raters with six categories have at most 49 patterns whatever the number of items, so a
coefficient over two million items is a sum over a few hundred rows, and an item bootstrap is
a multinomial draw of pattern counts rather than a resampling of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")

# Above this many possible patterns the keys are found by sorting instead of counting.
_DENSE_KEY_LIMIT = 4_000_000


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _sort_categories(values: set[Any]) -> list[Any]:
    if all(isinstance(v, int | float | np.integer | np.floating) for v in values):
        return sorted(values)
    return sorted(values, key=str)


@dataclass
class RatingSet:
    """Every rater's label for every item of one field, as pattern counts.

    ``patterns`` is (P, R) int codes into ``categories`` (-1 missing); ``multiplicity`` how
    many items share each pattern; ``item_pattern`` maps each item to its pattern (kept for
    listing the items behind a confusion-matrix cell).
    """

    categories: list[Any]
    raters: list[str]
    patterns: np.ndarray
    multiplicity: np.ndarray
    item_pattern: np.ndarray | None = None
    items: list[Any] | None = None
    level: str = "nominal"
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    @property
    def n_items(self) -> int:
        return int(self.multiplicity.sum())

    def rater_index(self, rater: str) -> int:
        return self.raters.index(rater)

    def numeric_values(self) -> np.ndarray:
        """Category values on the number line, for interval and ratio metrics.

        Numeric categories are their own values; named categories are ranks 1..q in their
        given order (the rubric's order for ordinal fields).
        """
        try:
            return np.asarray([float(c) for c in self.categories], dtype=float)
        except (TypeError, ValueError):
            return np.arange(1, self.n_categories + 1, dtype=float)

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_codes(
        cls,
        codes: np.ndarray,
        categories: Sequence[Any],
        raters: Sequence[str] | None = None,
        *,
        items: Sequence[Any] | None = None,
        level: str = "nominal",
        keep_items: bool = False,
    ) -> RatingSet:
        """Build from an items x raters array of category codes (negative = missing)."""
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError("codes must be a 2-d items x raters array")
        n, r = codes.shape
        q = len(categories)
        raters = list(raters) if raters is not None else [f"rater{g + 1}" for g in range(r)]
        if len(raters) != r:
            raise ValueError(f"{len(raters)} rater names for {r} columns")
        base = q + 1
        shifted = np.where(codes < 0, 0, codes.astype(np.int64) + 1)
        powers = base ** np.arange(r, dtype=np.int64)
        key_bits = r * math.log(base)
        inverse = None
        if key_bits <= math.log(_DENSE_KEY_LIMIT):
            n_keys = int(base**r)
            keys = shifted @ powers if r else np.zeros(n, dtype=np.int64)
            counts = np.bincount(keys, minlength=n_keys)
            present = np.flatnonzero(counts)
            multiplicity = counts[present]
            patterns = ((present[:, None] // powers) % base - 1).astype(np.int16)
            if keep_items:
                lookup = np.full(n_keys, -1, dtype=np.int64)
                lookup[present] = np.arange(len(present))
                inverse = lookup[keys]
        elif key_bits < 62 * math.log(2):
            unique, inverse, multiplicity = np.unique(
                shifted @ powers, return_inverse=True, return_counts=True
            )
            patterns = ((unique[:, None] // powers) % base - 1).astype(np.int16)
        else:
            unique, inverse, multiplicity = np.unique(
                shifted, axis=0, return_inverse=True, return_counts=True
            )
            patterns = (unique - 1).astype(np.int16)
        if not keep_items:
            inverse = None
        elif inverse is not None:
            inverse = inverse.reshape(-1)
        return cls(
            categories=list(categories),
            raters=raters,
            patterns=patterns,
            multiplicity=multiplicity.astype(np.int64),
            item_pattern=inverse,
            items=list(items) if items is not None else None,
            level=level,
        )

    @classmethod
    def from_matrix(
        cls,
        values: Any,
        raters: Sequence[str] | None = None,
        *,
        categories: Sequence[Any] | None = None,
        items: Sequence[Any] | None = None,
        level: str = "nominal",
        keep_items: bool = False,
    ) -> RatingSet:
        """Build from an items x raters matrix of labels (None/NaN/'' = missing).

        Numeric matrices take a fast path (no Python loop over cells); anything else is
        mapped through a dictionary. ``categories`` fixes the category set and order (e.g.
        the rubric's); otherwise the observed values, sorted.
        """
        arr = values if isinstance(values, np.ndarray) else None
        if arr is not None and arr.dtype.kind in "fiub" and arr.ndim == 2:
            return cls._from_numeric(arr, raters, categories, items, level, keep_items)
        rows = [list(row) for row in values]
        n = len(rows)
        r = len(rows[0]) if rows else (len(raters) if raters is not None else 0)
        if any(len(row) != r for row in rows):
            raise ValueError("every item needs one entry per rater (use None for missing)")
        if categories is None:
            seen = {v for row in rows for v in row if not _is_missing(v)}
            categories = _sort_categories(seen)
        index = {c: k for k, c in enumerate(categories)}
        # Let 1 and 1.0 (and "1" for numeric categories) find the same category.
        for c, k in list(index.items()):
            if isinstance(c, int | float) and not isinstance(c, bool):
                index.setdefault(str(c), k)
                if float(c).is_integer():
                    index.setdefault(int(c), k)
                    index.setdefault(str(int(c)), k)
        codes = np.full((n, r), -1, dtype=np.int16)
        for i, row in enumerate(rows):
            for g, v in enumerate(row):
                if _is_missing(v):
                    continue
                try:
                    codes[i, g] = index[v]
                except KeyError:
                    raise ValueError(
                        f"value {v!r} (item {i + 1}, rater {g + 1}) is not one of the "
                        f"categories {list(categories)}"
                    ) from None
        return cls.from_codes(
            codes, categories, raters, items=items, level=level, keep_items=keep_items
        )

    @classmethod
    def _from_numeric(cls, arr, raters, categories, items, level, keep_items) -> RatingSet:
        values = arr.astype(float, copy=False)
        observed = ~np.isnan(values)
        if categories is None:
            finite = values[observed]
            if finite.size == 0:
                categories = []
            else:
                lo, hi = finite.min(), finite.max()
                integral = hi - lo < 1_000_000 and np.all(finite == np.floor(finite))
                if integral:
                    used = np.bincount((finite - lo).astype(np.int64))
                    categories = (np.flatnonzero(used) + lo).tolist()
                else:
                    categories = np.unique(finite).tolist()
            categories = [int(c) if float(c).is_integer() else c for c in categories]
        cat_values = np.asarray(categories, dtype=float)
        codes = np.full(values.shape, -1, dtype=np.int16)
        if len(cat_values):
            order = np.argsort(cat_values)
            sorted_values = cat_values[order]
            pos = np.searchsorted(sorted_values, np.where(observed, values, sorted_values[0]))
            pos = np.clip(pos, 0, len(sorted_values) - 1)
            hit = observed & (sorted_values[pos] == values)
            if np.any(observed & ~hit):
                bad = values[observed & ~hit][0]
                raise ValueError(f"value {bad!r} is not one of the categories {list(categories)}")
            codes = np.where(hit, order[pos], -1).astype(np.int16)
        elif np.any(observed):
            raise ValueError("ratings given but the category list is empty")
        return cls.from_codes(
            codes, categories, raters, items=items, level=level, keep_items=keep_items
        )

    def subset_items(self, pattern_mask: np.ndarray) -> np.ndarray:
        """Positions of the items whose pattern satisfies ``pattern_mask``."""
        if self.item_pattern is None:
            raise ValueError("this RatingSet was built without keep_items=True")
        return np.flatnonzero(pattern_mask[self.item_pattern])
