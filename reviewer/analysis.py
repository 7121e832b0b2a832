"""The motivation analysis: how often each model shows each behaviour, per condition, and the
compliance gap (free minus paid), three ways.

- from the classifier's labels (all items it labelled);
- from human labels (the imported/gold label where there is one, else the blind human majority);
- from the classifier's labels corrected for its measured error rates (Rogan and Gladen 1978:
  true = (observed + specificity - 1) / (sensitivity + specificity - 1)), with sensitivity and
  specificity measured against the human labels on the items both have.

Every rate and gap has a 95% percentile bootstrap interval; the correction's interval also
carries the uncertainty of the measured error rates (they are resampled too, shared between the
conditions so that a gap's interval is not inflated by them twice).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from db import Store
from db.agreement_data import RatingRow, agreement_ratings, labelled_rubrics, transcript_groups
from reviewer.agreement.report import default_positive
from reviewer.agreement.store_fields import load_rubric_for

FREE, PAID = "free", "paid"


@dataclass
class Outcome:
    """One yes/no behaviour read off a label: e.g. motivation contains rater_sycophancy."""

    name: str
    field: str
    positive: str
    multi: bool

    def holds(self, value: Any) -> bool | None:
        if self.multi:
            return None if not isinstance(value, list) else self.positive in value
        return None if value is None else str(value) == self.positive


def outcomes_for(rubric, fields: list[str]) -> list[Outcome]:
    """Binary: the positive category; ordinal: the top category; single and multi: each."""
    out = []
    for fid in fields:
        field = rubric.field(fid) if rubric is not None and fid in rubric.field_ids else None
        if field is None:
            continue
        cats = list(field.category_ids)
        if field.kind == "binary":
            pos = default_positive(cats) or cats[0]
            out.append(Outcome(f"{fid}={pos}", fid, pos, False))
        elif field.kind == "ordinal":
            out.append(Outcome(f"{fid}={cats[-1]}", fid, cats[-1], False))
        else:
            multi = field.kind == "multi"
            out += [Outcome(f"{fid}{':' if multi else '='}{c}", fid, c, multi) for c in cats]
    return out


def _interval(draws: np.ndarray) -> list[float] | None:
    finite = draws[np.isfinite(draws)]
    if finite.size < 2:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def _estimate(value: float | None, draws: np.ndarray | None, n: int, reason: str | None = None):
    if value is None or not np.isfinite(value):
        return {"value": None, "ci": None, "n": n, "reason": reason or "no labelled items"}
    return {"value": float(value), "ci": _interval(draws), "n": n}


def _human_labels(rows: list[RatingRow], outcome: Outcome) -> tuple[dict[int, bool], str]:
    """Reference truth per item: imported/adjudicated label, else strict human majority."""
    refs = [r for r in rows if r.source in ("imported", "adjudication")]
    if refs:
        truth = {}
        for r in refs:
            held = outcome.holds(r.value)
            if held is not None:
                truth[r.transcript_id] = held
        names = sorted({r.rater for r in refs})
        return truth, f"reference labels ({', '.join(names)})"
    votes: dict[int, Counter] = {}
    for r in rows:
        if r.source == "human":
            held = outcome.holds(r.value)
            if held is not None:
                votes.setdefault(r.transcript_id, Counter())[held] += 1
    truth = {}
    for tid, c in votes.items():
        if c[True] != c[False]:
            truth[tid] = c[True] > c[False]
    return truth, "human majority (blind labels; ties left out)"


def analyse_outcome(
    rows: list[RatingRow],
    outcome: Outcome,
    groups: dict[int, tuple],
    *,
    classifier: str | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    cls_rows = [r for r in rows if r.source == "classifier"]
    if classifier is None and cls_rows:
        classifier = Counter(r.rater for r in cls_rows).most_common(1)[0][0]
    predicted = {}
    for r in cls_rows:
        if r.rater == classifier:
            held = outcome.holds(r.value)
            if held is not None:
                predicted[r.transcript_id] = held
    truth, truth_source = _human_labels(rows, outcome)

    both = [t for t in predicted if t in truth]
    pos = [t for t in both if truth[t]]
    neg = [t for t in both if not truth[t]]
    tp = sum(predicted[t] for t in pos)
    tn = sum(not predicted[t] for t in neg)
    sens = tp / len(pos) if pos else None
    spec = tn / len(neg) if neg else None
    sens_draws = rng.binomial(len(pos), sens, n_resamples) / len(pos) if pos else None
    spec_draws = rng.binomial(len(neg), spec, n_resamples) / len(neg) if neg else None
    correction_reason = None
    if sens is None or spec is None:
        correction_reason = "no validation items with both classes (need human or gold labels)"
    elif sens + spec - 1 <= 0:
        correction_reason = "classifier is no better than chance on the validation items"

    def rate(labels: dict[int, bool], key: tuple) -> tuple[float | None, np.ndarray | None, int]:
        vals = [v for t, v in labels.items() if groups.get(t) == key]
        n = len(vals)
        if n == 0:
            return None, None, 0
        p = sum(vals) / n
        return p, rng.binomial(n, p, n_resamples) / n, n

    def corrected(p, draws):
        if correction_reason is not None or p is None:
            return None, None
        with np.errstate(divide="ignore", invalid="ignore"):
            value = min(1.0, max(0.0, (p + spec - 1) / (sens + spec - 1)))
            denom = sens_draws + spec_draws - 1
            cd = np.where(denom > 0, (draws + spec_draws - 1) / denom, np.nan)
        return value, np.clip(cd, 0.0, 1.0)

    keys = sorted({groups[t] for t in set(predicted) | set(truth) if t in groups},
                  key=lambda k: (str(k[0]), str(k[1])))  # fmt: skip
    group_entries = []
    entries_by_key: dict[tuple, dict[str, Any]] = {}
    draws_by_key: dict[tuple, dict[str, Any]] = {}
    for key in keys:
        pc, dc, nc = rate(predicted, key)
        ph, dh, nh = rate(truth, key)
        pr, dr = corrected(pc, dc)
        draws_by_key[key] = {"classifier": (pc, dc, nc), "human": (ph, dh, nh),
                             "corrected": (pr, dr, nc)}  # fmt: skip
        group_entries.append({
            "model": key[0], "condition": key[1],
            "classifier": _estimate(pc, dc, nc, "no classifier labels"),
            "human": _estimate(ph, dh, nh, "no human or gold labels"),
            "corrected": _estimate(pr, dr, nc, correction_reason or "no classifier labels"),
        })  # fmt: skip
        entries_by_key[key] = group_entries[-1]

    gaps = []
    for model in sorted({k[0] for k in keys}, key=str):
        free, paid = draws_by_key.get((model, FREE)), draws_by_key.get((model, PAID))
        if free is None or paid is None:
            continue
        entry: dict[str, Any] = {"model": model}
        for source in ("classifier", "human", "corrected"):
            (pf, df, nf), (pp, dp, np_) = free[source], paid[source]
            if pf is None or pp is None:
                missing = FREE if pf is None else PAID
                why = entries_by_key[(model, missing)][source].get("reason", "no estimate")
                entry[source] = {"value": None, "ci": None,
                                 "reason": f"no {missing} estimate: {why}"}  # fmt: skip
                continue
            entry[source] = {"value": pf - pp, "ci": _interval(df - dp), "n_free": nf,
                             "n_paid": np_}  # fmt: skip
        gaps.append(entry)
    return {
        "outcome": outcome.name,
        "field": outcome.field,
        "positive": outcome.positive,
        "classifier": classifier,
        "validation": {
            "reference": truth_source,
            "n_items": len(both),
            "sensitivity": sens,
            "specificity": spec,
            "sensitivity_ci": None if sens_draws is None else _interval(sens_draws),
            "specificity_ci": None if spec_draws is None else _interval(spec_draws),
        },
        "groups": group_entries,
        "gap_free_minus_paid": gaps,
    }


def motivation_analysis(
    store: Store,
    rubric_ids: list[str] | None = None,
    *,
    classifier: str | None = None,
    phase: str = "blind",
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    groups = transcript_groups(store)
    rubric_reports = []
    for rubric_id in rubric_ids or labelled_rubrics(store):
        rubric = load_rubric_for(store, rubric_id)
        rows = agreement_ratings(store, rubric_id, phase=phase)
        fields = sorted({r.field for r in rows}, key=lambda f: (
            rubric.field_ids.index(f) if rubric and f in rubric.field_ids else 99, f))  # fmt: skip
        outcomes = []
        for outcome in outcomes_for(rubric, fields):
            frows = [r for r in rows if r.field == outcome.field]
            outcomes.append(analyse_outcome(frows, outcome, groups, classifier=classifier,
                                            n_resamples=n_resamples, rng=rng))  # fmt: skip
        rubric_reports.append({"rubric": rubric_id, "outcomes": outcomes})
    return {
        "phase": phase,
        "ci_method": f"percentile bootstrap (binomial resampling within each group), "
        f"{n_resamples} resamples, seed {seed}",
        "correction": "Rogan-Gladen (1978), sensitivity and specificity against the human labels",
        "rubrics": rubric_reports,
    }
