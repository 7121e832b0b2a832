"""A rater judged against a reference rater: the confusion matrix and the usual rates.

The reference is the truth (the gold set, or a human when a classifier is judged); the rater's
``score`` (e.g. a classifier's yes-fraction) gives the ranking metrics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def rates(confusion: np.ndarray, positive: int | None) -> dict[str, float | None]:
    """Accuracy always; precision, recall, specificity and F1 for the positive category."""
    n = float(confusion.sum())
    out: dict[str, float | None] = {"accuracy": _ratio(float(np.trace(confusion)), n)}
    if positive is None:
        out.update(precision=None, recall=None, specificity=None, f1=None)
        return out
    tp = float(confusion[positive, positive])
    fn = float(confusion[positive].sum()) - tp
    fp = float(confusion[:, positive].sum()) - tp
    tn = n - tp - fn - fp
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    out.update(precision=precision, recall=recall, specificity=_ratio(tn, tn + fp), f1=f1)
    return out


def _midranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x))
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    mid = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mid, ends - starts)
    return ranks


def auroc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos = int(truth.sum())
    neg = len(truth) - pos
    if pos == 0 or neg == 0:
        return None
    ranks = _midranks(score)
    return float((ranks[truth].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Step-wise average precision over distinct thresholds (scikit-learn's definition)."""
    pos = int(truth.sum())
    if pos == 0:
        return None
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], truth[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tps = np.cumsum(t)[last]
    fps = (last + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


DELONG_METHOD = "DeLong, logit scale"


def _expit(x: float) -> float:
    """1 / (1 + e^-x), without overflow for any x."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    return math.exp(x) / (1 + math.exp(x))


def auroc_delong(truth: np.ndarray, score: np.ndarray, confidence: float = 0.95):
    """AUROC with DeLong's (1988) variance (the fast midrank form of Sun and Xu 2014) and a
    normal interval on the logit scale, mapped back: inside (0, 1) and asymmetric near the
    ends, where the plain interval ``AUC +- z SE`` (clipped to [0, 1]) covered too little
    (0.93 at 100 items, 0.89 with ten positives in them, for 0.95 asked; 0.95 and 0.92 on
    the logit scale, in the coverage test). When the variance is 0 (the score separates the classes
    perfectly on these items, or ties them all) the interval is Wilson's on the smaller class's
    count, so that it is never a point."""
    from reviewer.estimates import wilson, z_value

    pos, neg = score[truth], score[~truth]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        return None, None, None
    tz = _midranks(np.concatenate([pos, neg]))
    tx, ty = _midranks(pos), _midranks(neg)
    auc = float((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
    v01 = (tz[:m] - tx) / n
    v10 = 1 - (tz[m:] - ty) / m
    var = (np.var(v01, ddof=1) / m if m > 1 else 0.0) + (np.var(v10, ddof=1) / n if n > 1 else 0.0)
    if var > 0:  # then 0 < auc < 1: at 0 or 1 every placement value is the same
        centre = math.log(auc / (1 - auc))
        half = z_value(confidence) * math.sqrt(var) / (auc * (1 - auc))
        return auc, [_expit(centre - half), _expit(centre + half)], DELONG_METHOD
    k = min(m, n)
    return auc, wilson(auc * k, k, confidence), f"Wilson on the smaller class ({k} items)"


AP_BOOTSTRAP_MAX_ITEMS = 50_000


def average_precision_interval(
    truth: np.ndarray, score: np.ndarray, n_resamples: int, seed: int, confidence: float = 0.95
) -> list[float] | None:
    """Percentile item-bootstrap interval of average precision (resamples without a positive
    are left out). None above AP_BOOTSTRAP_MAX_ITEMS items or without resamples."""
    if n_resamples < 2 or truth.size > AP_BOOTSTRAP_MAX_ITEMS:
        return None
    rng = np.random.default_rng(seed)
    # Sorted once: a resample is a count per item, summed per block of equal scores, and its
    # average precision is ``average_precision`` of the resampled items, term for term.
    n = truth.size
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], truth[order].astype(np.int64)
    starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    place = np.empty(n, dtype=np.int64)
    place[order] = np.arange(n)
    draws = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        counts = np.bincount(place[idx], minlength=n)
        drawn = np.add.reduceat(counts, starts)
        met = drawn > 0
        total = np.cumsum(drawn[met])
        tps = np.cumsum(np.add.reduceat(counts * t, starts)[met])
        if not len(tps) or tps[-1] == 0:
            continue
        precision = tps / total
        recall = tps / int(tps[-1])
        # np.diff(np.r_[0.0, recall]) as average_precision has it, without np.r_'s cost.
        step = np.empty_like(recall)
        step[0] = recall[0]
        np.subtract(recall[1:], recall[:-1], out=step[1:])
        draws.append(float(np.sum(step * precision)))
    if len(draws) < 2:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return [float(low), float(high)]


def score_metrics(
    truth_positive: np.ndarray,
    score: np.ndarray | None,
    *,
    n_resamples: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """AUROC and average precision from the rater's score, with intervals, and a plain flag
    when an interval includes what a score unrelated to the truth would give (AUROC 0.5; AP the
    prevalence); None with a reason if impossible."""
    if score is None:
        return {"auroc": None, "average_precision": None, "score_note": "rater has no scores"}
    keep = np.isfinite(score)
    truth, s = truth_positive[keep], score[keep]
    note = None
    if truth.size == 0:
        note = "no item has both a score and a reference label"
    elif truth.all() or not truth.any():
        note = "the reference labels only one class on the scored items"
    out: dict[str, Any] = {
        "auroc": None if note else auroc(truth, s),
        "average_precision": None if note else average_precision(truth, s),
        "score_note": note,
        "n_scored": int(truth.size),
        "auroc_ci": None,
        "average_precision_ci": None,
        "chance_flags": [],
    }
    if note:
        return out
    _, out["auroc_ci"], out["auroc_ci_method"] = auroc_delong(truth, s, confidence)
    ci = out["auroc_ci"]
    if ci is not None and ci[0] <= 0.5 <= ci[1]:
        out["chance_flags"].append(
            f"AUROC {out['auroc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] includes 0.5: the score "
            "ranks these items no better than chance, as far as this sample can tell"
        )
    out["average_precision_ci"] = average_precision_interval(
        truth, s, n_resamples, seed, confidence
    )
    ap_ci, prevalence = out["average_precision_ci"], float(truth.mean())
    if ap_ci is not None and ap_ci[0] <= prevalence <= ap_ci[1]:
        out["chance_flags"].append(
            f"average precision interval [{ap_ci[0]:.3f}, {ap_ci[1]:.3f}] includes the "
            f"prevalence {prevalence:.3f}, what an unrelated score gives"
        )
    return out


RATE_NAMES = ("accuracy", "precision", "recall", "specificity", "f1")


def batched_rates(tables: np.ndarray, positive: int | None) -> dict[str, np.ndarray]:
    """The rates of ``rates`` for a (B, q, q) stack of confusion tables (NaN if undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = tables.sum(axis=(1, 2))
        out = {"accuracy": np.trace(tables, axis1=1, axis2=2) / n}
        if positive is None:
            return out
        tp = tables[:, positive, positive]
        fn = tables[:, positive, :].sum(axis=1) - tp
        fp = tables[:, :, positive].sum(axis=1) - tp
        tn = n - tp - fn - fp
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        out["precision"] = precision
        out["recall"] = recall
        out["specificity"] = tn / (tn + fp)
        out["f1"] = np.where(
            precision + recall > 0,
            2 * precision * recall / (precision + recall),
            np.where(np.isfinite(precision + recall), 0.0, np.nan),
        )
    return {k: np.where(np.isfinite(v), v, np.nan) for k, v in out.items()}
