"""The agreement summary the report and the dataset card print, read off ``analyse_field``'s
reports (never recomputed), and the calibration of a classifier's score against human labels.

The summary is one row per field: the humans' agreement with each other (Krippendorff's alpha,
with its interval) and, per classifier, its mean Cohen's kappa with the humans beside the
humans' own, the difference with its interval and the non-inferiority verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reviewer.agreement.report import FieldSpec, default_positive
from reviewer.estimates import wilson

CALIBRATION_BINS = 5


def _value(entry: dict[str, Any] | None) -> dict[str, Any]:
    entry = entry or {}
    return {"value": entry.get("value"), "ci": entry.get("ci"), "reason": entry.get("reason")}


def agreement_summary(fields: list[dict[str, Any]], rubric_id: str) -> list[dict[str, Any]]:
    """One row per field report (the shape of ``reviewer stats --json``'s ``fields``)."""
    rows = []
    for f in fields:
        overall = f.get("overall", {})
        rows.append(
            {
                "rubric_id": rubric_id,
                "field": f["field"],
                "n_items": f["n_items"],
                "humans": list(f.get("panel") or []),
                "alpha": _value(overall.get("krippendorff_alpha")),
                "percent_agreement": _value(overall.get("percent_agreement")),
                "classifiers": [
                    {
                        "rater": g["rater"],
                        "with_humans": _value(g["rater_vs_humans"]).get("value"),
                        "humans_together": _value(g["humans_vs_humans"]).get("value"),
                        "difference": _value(g["difference"]),
                        "verdict": g["verdict"],
                        "margin": g["margin"],
                    }
                    for g in f.get("classifier_vs_humans", [])
                ],
            }
        )
    return rows


def fmt(entry: dict[str, Any] | float | None, digits: int = 2) -> str:
    """A value with its interval, or ``—``."""
    if isinstance(entry, dict):
        value, ci = entry.get("value"), entry.get("ci")
    else:
        value, ci = entry, None
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    if ci:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    elif isinstance(entry, dict):
        text += " (no interval)"
    return text


def verdict(entry: dict[str, Any]) -> str:
    """The classifier's verdict, or why there is none."""
    return entry["verdict"] or "— (no interval of the difference)"


def summary_markdown(rows: list[dict[str, Any]], rename=lambda name: name) -> list[str]:
    """The summary as Markdown table lines (for the dataset card). ``rename`` maps a human
    rater's name (to a pseudonym, say); classifiers keep theirs."""
    if not rows:
        return ["No field has labels from two raters on a shared item yet."]
    lines = [
        "| rubric.field | items | humans | humans' alpha [95% CI] | classifier | kappa with "
        "humans | humans' kappa | difference [95% CI] | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        humans = ", ".join(rename(h) for h in r["humans"]) or "—"
        head = f"| {r['rubric_id']}.{r['field']} | {r['n_items']} | {humans} | {fmt(r['alpha'])} |"
        if not r["classifiers"]:
            lines.append(head + " — | — | — | — | — |")
        for c in r["classifiers"]:
            lines.append(
                f"{head} {c['rater']} | {fmt(c['with_humans'])} | "
                f"{fmt(c['humans_together'])} | {fmt(c['difference'])} | "
                f"{verdict(c)} |"
            )
    margin = next((c["margin"] for r in rows for c in r["classifiers"]), 0.1)
    lines += [
        "",
        "Agreement among the humans is Krippendorff's alpha on their blind labels; a classifier's "
        "kappa is its mean Cohen's kappa with each human, beside the humans' mean kappa with "
        "each other. Intervals are 95% item-bootstrap intervals. The verdict is a "
        f"non-inferiority test with margin {margin:g} kappa: non-inferior when the whole "
        f"interval of the difference lies above -{margin:g}, inferior when below it, otherwise "
        "inconclusive.",
    ]
    return lines


def calibration(spec: FieldSpec, classifier: str, *, bins: int = CALIBRATION_BINS) -> dict | None:
    """The classifier's score against the humans' labels, in equal-width score bins.

    Per item with a score and at least one human label, the share of humans who gave the
    positive category; per bin the mean score, the mean of those shares and a Wilson interval
    that counts items, not labels (several humans on one item are not independent draws).
    None when the field has no positive category or the classifier no scores."""
    rs = spec.ratings
    score = rs.scores.get(classifier)
    positive = spec.positive if spec.positive is not None else default_positive(rs.categories)
    if score is None or positive is None or rs.item_pattern is None:
        return None
    matches = [k for k, c in enumerate(rs.categories) if str(c) == str(positive)]
    humans = [rs.rater_index(h) for h in (spec.panel or [])]
    if not matches or not humans:
        return None
    codes = rs.patterns[rs.item_pattern][:, humans]
    labelled = (codes >= 0).sum(axis=1)
    share = np.where(labelled > 0, (codes == matches[0]).sum(axis=1) / np.maximum(labelled, 1), 0)
    score = np.asarray(score, dtype=float)
    keep = np.isfinite(score) & (labelled > 0)
    if not keep.any():
        return None
    score, share = score[keep], share[keep]
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        if n == 0:
            continue
        k = float(share[mask].sum())
        out.append(
            {
                "bin": [float(edges[b]), float(edges[b + 1])],
                "n_items": n,
                "mean_score": float(score[mask].mean()),
                "human_positive": k / n,
                "ci": wilson(k, n),
            }
        )
    return {
        "classifier": classifier,
        "positive": str(positive),
        "humans": list(spec.panel),
        "n_items": int(keep.sum()),
        "bins": out,
    }
