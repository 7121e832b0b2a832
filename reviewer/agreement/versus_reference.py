"""A rater judged against a reference rater: the confusion matrix and the usual rates.

The reference is the truth (the gold set, or a human when a classifier is judged); the rater's
``score`` (e.g. a classifier's yes-fraction) gives the ranking metrics.
"""

from __future__ import annotations

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


def score_metrics(truth_positive: np.ndarray, score: np.ndarray | None) -> dict[str, Any]:
    """AUROC and average precision from the rater's score; None with a reason if impossible."""
    if score is None:
        return {"auroc": None, "average_precision": None, "score_note": "rater has no scores"}
    keep = np.isfinite(score)
    truth, s = truth_positive[keep], score[keep]
    note = None
    if truth.size == 0:
        note = "no item has both a score and a reference label"
    elif truth.all() or not truth.any():
        note = "the reference labels only one class on the scored items"
    return {
        "auroc": None if note else auroc(truth, s),
        "average_precision": None if note else average_precision(truth, s),
        "score_note": note,
        "n_scored": int(truth.size),
    }


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
        out["f1"] = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall),
                             np.where(np.isfinite(precision + recall), 0.0, np.nan))  # fmt: skip
    return {k: np.where(np.isfinite(v), v, np.nan) for k, v in out.items()}
