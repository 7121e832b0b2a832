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
_BLOCK_ROWS = 1 << 16


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
    items: list[Any] | np.ndarray | None = None
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
        shifted = np.maximum(codes, -1).astype(np.int32) + 1
        return cls._from_shifted(shifted, categories, raters, items, level, keep_items)

    @classmethod
    def from_pattern_counts(
        cls,
        codes: np.ndarray,
        counts: np.ndarray,
        categories: Sequence[Any],
        raters: Sequence[str] | None = None,
        *,
        level: str = "nominal",
    ) -> RatingSet:
        """Build from rating patterns already counted: row ``k`` of ``codes`` (patterns x
        raters, negative = missing) stands for ``counts[k]`` items. The same RatingSet as
        ``from_codes`` on the items themselves (patterns in the same order), without them."""
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError("codes must be a 2-d patterns x raters array")
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (len(codes),) or (counts < 0).any():
            raise ValueError("counts must give a non-negative count per pattern")
        kept = counts > 0  # a pattern no item has is no pattern (as from_codes finds it)
        shifted = np.maximum(codes[kept], -1).astype(np.int32) + 1
        return cls._from_shifted(shifted, categories, raters, None, level, False, counts[kept])

    @classmethod
    def _from_shifted(
        cls, shifted, categories, raters, items, level, keep_items, weights=None
    ) -> RatingSet:
        """``shifted`` holds code + 1 per cell, 0 for missing; ``weights``: how many items
        each row stands for (None: one each)."""
        n, r = shifted.shape
        q = len(categories)
        raters = list(raters) if raters is not None else [f"rater{g + 1}" for g in range(r)]
        if len(raters) != r:
            raise ValueError(f"{len(raters)} rater names for {r} columns")
        base = q + 1
        powers = base ** np.arange(r, dtype=np.int64)
        key_bits = r * math.log(base)
        inverse = None
        if key_bits <= math.log(_DENSE_KEY_LIMIT):
            n_keys = int(base**r)
            keys = _pattern_keys(shifted, base, np.int32)
            counts = _count(keys, weights, n_keys)
            present = np.flatnonzero(counts)
            multiplicity = counts[present]
            patterns = ((present[:, None] // powers) % base - 1).astype(np.int16)
            if keep_items:
                lookup = np.full(n_keys, -1, dtype=np.int32)
                lookup[present] = np.arange(len(present))
                inverse = lookup[keys]
        elif key_bits < 62 * math.log(2):
            unique, inverse, multiplicity = np.unique(
                _pattern_keys(shifted, base, np.int64), return_inverse=True, return_counts=True
            )
            if weights is not None:
                multiplicity = _count(inverse.reshape(-1), weights, len(unique))
            patterns = ((unique[:, None] // powers) % base - 1).astype(np.int16)
        else:
            unique, inverse, multiplicity = np.unique(
                shifted, axis=0, return_inverse=True, return_counts=True
            )
            if weights is not None:
                multiplicity = _count(inverse.reshape(-1), weights, len(unique))
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
            # An array of item ids is kept as it is (a million ids as Python ints cost 36 MB).
            items=items if items is None or isinstance(items, np.ndarray) else list(items),
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
        lo = float(np.fmin.reduce(values, axis=None)) if values.size else math.nan
        if categories is None and not math.isnan(lo):
            hi = float(np.fmax.reduce(values, axis=None))
            span = hi - lo + 2
            if lo.is_integer() and span ** values.shape[1] <= _DENSE_KEY_LIMIT:
                dense = cls._from_integer_scale(
                    values, lo, int(span), raters, items, level, keep_items
                )
                if dense is not None:
                    return dense
        missing = np.isnan(values)
        if categories is None:
            categories = [_plain(c) for c in np.unique(values[~missing])]
        categories = list(categories)
        cat_values = np.asarray(categories, dtype=float)
        codes = np.full(values.shape, -1, dtype=np.int16)
        if len(cat_values):
            order = np.argsort(cat_values)
            sorted_values = cat_values[order]
            probe = np.where(missing, sorted_values[0], values)
            pos = np.clip(np.searchsorted(sorted_values, probe), 0, len(sorted_values) - 1)
            hit = ~missing & (sorted_values[pos] == values)
            if np.any(~missing & ~hit):
                bad = values[~missing & ~hit][0]
                raise ValueError(f"value {bad!r} is not one of the categories {categories}")
            codes = np.where(hit, order[pos], -1).astype(np.int16)
        elif not missing.all():
            raise ValueError("ratings given but the category list is empty")
        return cls.from_codes(
            codes, categories, raters, items=items, level=level, keep_items=keep_items
        )

    @classmethod
    def _from_integer_scale(cls, values, lo, base, raters, items, level, keep_items):
        """Small integer scales (the usual case), coded block by block without sorting.

        Each value v becomes the digit v - lo + 1 (0 = missing); pattern counts are
        accumulated per block of rows, so temporaries stay small whatever the item count.
        Categories that no one used are dropped from the patterns at the end. Returns None
        if a value is not an integer.
        """
        n, r = values.shape
        n_keys = base**r
        counts = np.zeros(n_keys, dtype=np.int64)
        item_keys = np.empty(n, dtype=np.int32) if keep_items else None
        for start in range(0, n, _BLOCK_ROWS):
            block = values[start : start + _BLOCK_ROWS]
            offset = block - (lo - 1)
            np.copyto(offset, 0.0, where=np.isnan(offset))
            digits = offset.astype(np.int32)
            if not np.array_equal(digits, offset):
                return None
            keys = _pattern_keys(digits, base, np.int32)
            counts += np.bincount(keys, minlength=n_keys)
            if item_keys is not None:
                item_keys[start : start + len(block)] = keys
        present = np.flatnonzero(counts)
        powers = base ** np.arange(r, dtype=np.int64)
        digit_patterns = (present[:, None] // powers) % base
        used = np.unique(digit_patterns[digit_patterns > 0])
        remap = np.full(base, -1, dtype=np.int16)
        remap[used] = np.arange(len(used))
        rs = cls(
            categories=[_plain(lo + d - 1) for d in used],
            raters=list(raters) if raters is not None else [f"rater{g + 1}" for g in range(r)],
            patterns=remap[digit_patterns],
            multiplicity=counts[present],
            # An array of item ids is kept as it is (a million ids as Python ints cost 36 MB).
            items=items if items is None or isinstance(items, np.ndarray) else list(items),
            level=level,
        )
        if len(rs.raters) != r:
            raise ValueError(f"{len(rs.raters)} rater names for {r} columns")
        if item_keys is not None:
            lookup = np.full(n_keys, -1, dtype=np.int64)
            lookup[present] = np.arange(len(present))
            rs.item_pattern = lookup[item_keys]
        return rs

    def subset_items(self, pattern_mask: np.ndarray) -> np.ndarray:
        """Positions of the items whose pattern satisfies ``pattern_mask``."""
        if self.item_pattern is None:
            raise ValueError("this RatingSet was built without keep_items=True")
        return np.flatnonzero(pattern_mask[self.item_pattern])


def _plain(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


def _count(keys: np.ndarray, weights: np.ndarray | None, length: int) -> np.ndarray:
    """How many items have each key: one per row, or each row's weight (summed exactly, in
    integers, however large)."""
    if weights is None:
        return np.bincount(keys, minlength=length)
    out = np.zeros(length, dtype=np.int64)
    np.add.at(out, keys, weights)
    return out


def _pattern_keys(shifted: np.ndarray, base: int, dtype) -> np.ndarray:
    """One integer per item: its shifted codes read as digits in base q + 1."""
    n, r = shifted.shape
    keys = np.zeros(n, dtype=dtype)
    for g in range(r - 1, -1, -1):
        keys *= base
        keys += shifted[:, g]
    return keys
