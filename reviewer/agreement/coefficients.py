"""Agreement coefficients as functions of item-pattern weights.

Every function takes ``w``, a (B, P) array of pattern weights (the observed multiplicities for
the point estimate, multinomial draws of them for the bootstrap), and returns a (B,) array.
An undefined value (no pairable item, chance agreement of 1, ...) is NaN; the report layer
turns it into None with a reason.

Missing ratings follow the reference definitions: Fleiss' kappa, Conger's kappa and Gwet's
AC1/AC2 use Gwet's (2014) generalisation as irrCAC implements it (observed agreement over items
with two or more ratings, category prevalence over items with at least one); Krippendorff's
alpha keeps only pairable units; the two-rater coefficients (Cohen, Scott, pairwise percent
agreement) use the items both raters labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from reviewer.agreement.ratings import RatingSet

WEIGHTINGS = ("identity", "linear", "quadratic", "ordinal", "ratio")


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(num, den)
    return np.where(np.abs(den) > 1e-12, out, np.nan)


def chance_corrected(pa: np.ndarray, pe: np.ndarray) -> np.ndarray:
    """(pa - pe) / (1 - pe), NaN where chance agreement is (numerically) 1."""
    return _div(pa - pe, 1.0 - pe)


def weight_matrix(kind: str, values: Sequence[float]) -> np.ndarray:
    """Agreement weights (1 on the diagonal) as Gwet's handbook and irrCAC define them.

    ``values`` are the categories' positions on the scale: their numeric values, or ranks.
    """
    v = np.asarray(values, dtype=float)
    q = len(v)
    if kind == "identity" or q < 2:
        return np.eye(q)
    diff = v[:, None] - v[None, :]
    span = v.max() - v.min()
    if kind == "linear":
        return 1.0 - np.abs(diff) / span
    if kind == "quadratic":
        return 1.0 - (diff / span) ** 2
    if kind == "ordinal":
        k = np.arange(q)
        nkl = np.abs(k[:, None] - k[None, :]) + 1
        raw = nkl * (nkl - 1) / 2
        return 1.0 - raw / raw.max()
    if kind == "ratio":
        if np.any(v == 0):
            raise ValueError("ratio weights need categories that are not 0")
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = (diff / (v[:, None] + v[None, :])) ** 2
        return 1.0 - raw / ((v.max() - v.min()) / (v.max() + v.min())) ** 2
    raise ValueError(f"unknown weighting {kind!r}; expected one of {WEIGHTINGS}")


class PatternCounts:
    """Per-pattern counts for a subset of raters (all raters by default)."""

    def __init__(self, ratings: RatingSet, raters: Sequence[int] | None = None):
        self.ratings = ratings
        self.rater_idx = np.asarray(
            range(ratings.n_raters) if raters is None else list(raters), dtype=np.int64
        )
        self.q = ratings.n_categories
        codes = ratings.patterns[:, self.rater_idx].astype(np.int64)
        self.codes = codes
        p = codes.shape[0]
        counts = np.zeros((p, self.q), dtype=float)
        for g in range(codes.shape[1]):
            present = codes[:, g] >= 0
            np.add.at(counts, (np.flatnonzero(present), codes[present, g]), 1.0)
        self.counts = counts
        self.per_item = counts.sum(axis=1)
        self.rated = (self.per_item >= 1).astype(float)
        self.pairable = (self.per_item >= 2).astype(float)

    @cached_property
    def rater_onehot(self) -> np.ndarray:
        """(P, S*q): which category each rater of the subset gave, per pattern."""
        p, s = self.codes.shape
        out = np.zeros((p, s, self.q))
        for g in range(s):
            present = self.codes[:, g] >= 0
            out[np.flatnonzero(present), g, self.codes[present, g]] = 1.0
        return out.reshape(p, s * self.q)

    @cached_property
    def coincidences(self) -> np.ndarray:
        """(P, q*q): Krippendorff's coincidence contributions of each pairable pattern."""
        n = self.counts
        o = n[:, :, None] * n[:, None, :]
        o[:, np.arange(self.q), np.arange(self.q)] -= n
        scale = _div(self.pairable, self.per_item - 1.0)
        scale = np.nan_to_num(scale)
        return (o * scale[:, None, None]).reshape(len(n), self.q * self.q)

    def observed_agreement_terms(self, weights: np.ndarray) -> np.ndarray:
        """Per-pattern observed agreement (weighted), 0 for items with fewer than 2 ratings."""
        n = self.counts
        sum_q = (n * (n @ weights.T - 1.0)).sum(axis=1)
        den = self.per_item * (self.per_item - 1.0)
        return np.nan_to_num(_div(sum_q, den)) * self.pairable

    def prevalence(self, w: np.ndarray) -> np.ndarray:
        """(B, q) category prevalence: mean over rated items of each item's share."""
        shares = np.nan_to_num(_div(self.counts, self.per_item[:, None]))
        return _div(w @ shares, (w @ self.rated)[:, None])

    def agreement(self, w: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return _div(w @ self.observed_agreement_terms(weights), w @ self.pairable)


# -- multi-rater coefficients (Gwet's missing-data forms) ------------------------------


def percent_agreement(pc: PatternCounts, w: np.ndarray) -> np.ndarray:
    return pc.agreement(w, np.eye(pc.q))


def fleiss_kappa(pc: PatternCounts, w: np.ndarray, weights: np.ndarray | None = None):
    weights = np.eye(pc.q) if weights is None else weights
    pa = pc.agreement(w, weights)
    pi = pc.prevalence(w)
    pe = np.einsum("bk,kl,bl->b", pi, weights, pi)
    return chance_corrected(pa, pe)


def gwet_ac(pc: PatternCounts, w: np.ndarray, weights: np.ndarray | None = None):
    """Gwet's AC1 (identity weights) or AC2 (any other weights)."""
    q = pc.q
    weights = np.eye(q) if weights is None else weights
    pa = pc.agreement(w, weights)
    if q < 2:  # one category: Gwet's chance agreement sum pi (1 - pi) is 0, so AC1 = pa
        return chance_corrected(pa, np.zeros_like(pa))
    pi = pc.prevalence(w)
    pe = weights.sum() * (pi * (1.0 - pi)).sum(axis=1) / (q * (q - 1))
    return chance_corrected(pa, pe)


def conger_kappa(pc: PatternCounts, w: np.ndarray, weights: np.ndarray | None = None):
    """Conger's kappa: Fleiss' observed agreement, chance from each rater's own marginals."""
    q = pc.q
    s = len(pc.rater_idx)
    weights = np.eye(q) if weights is None else weights
    if s < 2:
        return np.full(w.shape[0], np.nan)
    pa = pc.agreement(w, weights)
    per_rater = (w @ pc.rater_onehot).reshape(w.shape[0], s, q)
    pgk = _div(per_rater, per_rater.sum(axis=2, keepdims=True))
    mean = pgk.mean(axis=1)
    outer = mean[:, :, None] * mean[:, None, :]
    s2 = (np.einsum("bgk,bgl->bkl", pgk, pgk) - s * outer) / (s - 1)
    pe = (weights[None] * (outer - s2 / s)).sum(axis=(1, 2))
    return chance_corrected(pa, pe)


def _distance(level: str, values: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference function; (B, q, q)."""
    q = len(values)
    b = marginals.shape[0]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(q), (b, q, q))
    if level == "interval":
        return np.broadcast_to((values[:, None] - values[None, :]) ** 2, (b, q, q))
    if level == "ratio":
        total = values[:, None] + values[None, :]
        diff = values[:, None] - values[None, :]
        d = np.nan_to_num(_div(diff, total)) ** 2
        return np.broadcast_to(d, (b, q, q))
    if level == "ordinal":
        k = np.arange(q)
        lo = np.minimum(k[:, None], k[None, :])
        hi = np.maximum(k[:, None], k[None, :])
        cum = np.cumsum(marginals, axis=1)
        between = cum[:, hi] - cum[:, lo] + marginals[:, lo]
        half = (marginals[:, :, None] + marginals[:, None, :]) / 2.0
        return (between - half) ** 2
    raise ValueError(f"unknown level {level!r}")


def krippendorff_alpha(pc: PatternCounts, w: np.ndarray, level: str = "nominal"):
    q = pc.q
    o = (w @ pc.coincidences).reshape(w.shape[0], q, q)
    marg = o.sum(axis=2)
    n = marg.sum(axis=1)
    delta = _distance(level, pc.ratings.numeric_values(), marg)
    observed = (o * delta).sum(axis=(1, 2))
    expected = np.einsum("bk,bkl,bl->b", marg, delta, marg)
    return 1.0 - _div((n - 1.0) * observed, expected)


# -- two-rater coefficients (items both raters labelled) -------------------------------


class PairTable:
    """The q x q table of one pair of raters, as pattern one-hots."""

    def __init__(self, ratings: RatingSet, a: int, b: int):
        self.q = ratings.n_categories
        ca = ratings.patterns[:, a].astype(np.int64)
        cb = ratings.patterns[:, b].astype(np.int64)
        both = (ca >= 0) & (cb >= 0)
        onehot = np.zeros((len(ca), self.q * self.q))
        onehot[np.flatnonzero(both), (ca * self.q + cb)[both]] = 1.0
        self.onehot = onehot
        self.both = both.astype(float)
        self._last_w: np.ndarray | None = None
        self._last_tables = np.empty(0)

    def tables(self, w: np.ndarray) -> np.ndarray:
        # Several coefficients of a pair read the same weights in a row: compute once.
        if self._last_w is not w:
            self._last_tables = (w @ self.onehot).reshape(w.shape[0], self.q, self.q)
            self._last_w = w
        return self._last_tables


def _proportions(t: np.ndarray):
    n = t.sum(axis=(1, 2))
    p = _div(t, n[:, None, None])
    return n, p, p.sum(axis=2), p.sum(axis=1)


def cohen_kappa_table(t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    q = t.shape[1]
    weights = np.eye(q) if weights is None else weights
    _, p, row, col = _proportions(t)
    pa = (p * weights).sum(axis=(1, 2))
    pe = np.einsum("bk,kl,bl->b", row, weights, col)
    return chance_corrected(pa, pe)


def scott_pi_table(t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    q = t.shape[1]
    weights = np.eye(q) if weights is None else weights
    _, p, row, col = _proportions(t)
    pi = (row + col) / 2.0
    pa = (p * weights).sum(axis=(1, 2))
    pe = np.einsum("bk,kl,bl->b", pi, weights, pi)
    return chance_corrected(pa, pe)


def gwet_ac_table(t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    q = t.shape[1]
    weights = np.eye(q) if weights is None else weights
    _, p, row, col = _proportions(t)
    pi = (row + col) / 2.0
    pa = (p * weights).sum(axis=(1, 2))
    if q < 2:  # one category: chance agreement 0, AC1 = pa (see gwet_ac)
        return chance_corrected(pa, np.zeros_like(pa))
    pe = weights.sum() * (pi * (1.0 - pi)).sum(axis=1) / (q * (q - 1))
    return chance_corrected(pa, pe)


def percent_agreement_table(t: np.ndarray) -> np.ndarray:
    _, p, _, _ = _proportions(t)
    return np.trace(p, axis1=1, axis2=2)
