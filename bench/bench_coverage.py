"""Do the corrected intervals cover the truth? A seeded simulation of the study's set-up.

2,000 transcripts in 4 model x condition groups with known true rates; a classifier whose
score separates the classes with sensitivity 0.85 and specificity 0.90 at the 0.5 threshold;
200 human-labelled items (the reference is the truth) drawn five ways:

- ``uniform``: a simple random sample (what ``queue --kind random`` records);
- ``group-stratified``: 50 per model x condition (``--kind stratified``);
- ``score-stratified``: model x condition x score bin, Neyman allocation, unequal inclusion
  probabilities (``--kind score-stratified``);
- ``tier-se``: uniform, but the classifier's sensitivity is 0.95 on free and 0.70 on paid
  transcripts (one pooled error rate would bias the gap);
- ``tier-se-pooled``: the same, analysed with ``--pooled`` (one correction for every group), to
  show what pooling does to the gap;
- ``near-threshold``: the 200 items nearest the threshold (``--kind uncertain``): no known
  design. The analysis withholds the corrected rate; the line shows what ``--assume-random``
  would have printed, for comparison.

Each design runs REPS seeded repetitions through ``reviewer.analysis.analyse_outcome`` (the code
behind ``reviewer analyze``, minus the database) and prints, per method, the share of 95%
intervals that hold the true rate (each of the 4 groups per repetition) and of the free - paid
gap (2 models), with the mean interval width. Goal: corrected coverage >= 0.93 for every known
design, with intervals narrower than the human-only ones from a simple random sample of the same
size (the labels alone, without the classifier). Under the score-stratified design the
design-weighted human-only rate is about as narrow as the corrected one: stratifying on the
score already puts the classifier's information into the weights. ``REVIEWER_BENCH_REPS`` sets
REPS.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from reviewer.analysis import Design, Outcome, analyse_outcome
from reviewer.estimates import neyman_allocation
from reviewer.queues import MIN_STRATUM_SD, score_bin

REPS = int(os.environ.get("REVIEWER_BENCH_REPS", 200))
SEED = 20261130
N_PER_GROUP = 500
N_LABELLED = 200
RATES = {("m1", "free"): 0.30, ("m1", "paid"): 0.12, ("m2", "free"): 0.20, ("m2", "paid"): 0.18}
SE, SP = 0.85, 0.90
SPREAD = 1.5
DESIGNS = (
    "uniform",
    "group-stratified",
    "score-stratified",
    "tier-se",
    "tier-se-pooled",
    "near-threshold",
)
RESULTS = Path(__file__).parent / "results" / "coverage.json"
OUTCOME = Outcome("alignment_faking=yes", "alignment_faking", "yes", False)


def _logit_mean(rate: float, positive: bool) -> float:
    from statistics import NormalDist

    z = NormalDist().inv_cdf(rate)
    return SPREAD * z if positive else -SPREAD * z


def population(rng: np.random.Generator, design: str):
    """Items with group, true label and classifier score (the truth rates are RATES)."""
    ids, attrs, truth, score = [], {}, {}, {}
    tid = 0
    for (model, condition), rate in RATES.items():
        se = SE
        if design.startswith("tier-se"):
            se = 0.95 if condition == "free" else 0.70
        y = rng.random(N_PER_GROUP) < rate
        mu = np.where(y, _logit_mean(se, True), _logit_mean(SP, False))
        s = 1 / (1 + np.exp(-(mu + SPREAD * rng.standard_normal(N_PER_GROUP))))
        for k in range(N_PER_GROUP):
            ids.append(tid)
            attrs[tid] = {"model": model, "condition": condition}
            truth[tid], score[tid] = bool(y[k]), float(s[k])
            tid += 1
    return ids, attrs, truth, score


def draw(rng: np.random.Generator, design: str, ids, attrs, score) -> tuple[list[int], Design]:
    """The labelled sample and the design the analysis is told about."""
    if design in ("uniform", "tier-se", "tier-se-pooled"):
        chosen = list(rng.choice(ids, N_LABELLED, replace=False))
        p = N_LABELLED / len(ids)
        return chosen, Design(
            "known", design, dict.fromkeys(ids, p), dict.fromkeys(ids, "all"), True
        )
    if design == "group-stratified":
        per = N_LABELLED // len(RATES)
        chosen, prob, stratum = [], {}, {}
        for key in RATES:
            members = [t for t in ids if (attrs[t]["model"], attrs[t]["condition"]) == key]
            chosen += list(rng.choice(members, per, replace=False))
            for t in members:
                prob[t], stratum[t] = per / len(members), f"{key[0]} x {key[1]}"
        return chosen, Design("known", design, prob, stratum, True)
    if design == "score-stratified":
        strata: dict[str, list[int]] = {}
        for t in ids:
            a = attrs[t]
            strata.setdefault(
                f"{a['model']} x {a['condition']} x {score_bin(score[t])}", []
            ).append(t)
        keys = sorted(strata)
        sds = [
            max(
                MIN_STRATUM_SD,
                float(np.sqrt(np.mean([score[t] * (1 - score[t]) for t in strata[k]]))),
            )
            for k in keys
        ]
        alloc = neyman_allocation([len(strata[k]) for k in keys], sds, N_LABELLED)
        chosen, prob, stratum = [], {}, {}
        for key, n_h in zip(keys, alloc, strict=True):
            chosen += list(rng.choice(strata[key], n_h, replace=False))
            for t in strata[key]:
                prob[t], stratum[t] = n_h / len(strata[key]), key
        return chosen, Design("known", design, prob, stratum, True)
    nearest = sorted(ids, key=lambda t: (abs(score[t] - 0.5), t))[:N_LABELLED]
    return nearest, Design("unknown", "unknown", note="items nearest the threshold")


def one_rep(rng: np.random.Generator, design: str) -> dict[str, list]:
    ids, attrs, truth, score = population(rng, design)
    chosen, plan = draw(rng, design, ids, attrs, score)
    predicted = {t: score[t] >= 0.5 for t in ids}
    labelled = {int(t): truth[int(t)] for t in chosen}
    result = analyse_outcome(
        OUTCOME, predicted, labelled, attrs, plan, pooled=design == "tier-se-pooled"
    )
    shown = "corrected" if plan.status == "known" else None
    if plan.status != "known":  # what --assume-random would have printed
        assumed = Design("assumed random", "assumed")
        result_assumed = analyse_outcome(OUTCOME, predicted, labelled, attrs, assumed)
    out: dict[str, list] = {"rates": [], "gaps": [], "withheld": []}
    for g in result["groups"]:
        true = RATES[(g["model"], g["condition"])]
        row = {}
        for method in ("classifier", "human", "corrected"):
            cell = g[method]
            if method == "corrected" and shown is None:
                out["withheld"].append(cell.get("value") is None)
                cell = next(
                    x
                    for x in result_assumed["groups"]
                    if (x["model"], x["condition"]) == (g["model"], g["condition"])
                )[method]
            row[method] = _hit(cell, true)
        out["rates"].append(row)
    for gap in result["gap_free_minus_paid"]:
        true = RATES[(gap["model"], "free")] - RATES[(gap["model"], "paid")]
        row = {}
        for method in ("classifier", "human", "corrected"):
            cell = gap[method]
            if method == "corrected" and shown is None:
                cell = next(
                    x for x in result_assumed["gap_free_minus_paid"] if x["model"] == gap["model"]
                )[method]
            row[method] = _hit(cell, true)
        out["gaps"].append(row)
    return out


def _hit(cell: dict, true: float) -> tuple[bool, float]:
    if cell.get("value") is None or not cell.get("ci"):
        return False, float("nan")
    low, high = cell["ci"]
    return bool(low <= true <= high), float(high - low)


def run(reps: int = REPS, seed: int = SEED) -> dict[str, dict]:
    summary: dict[str, dict] = {}
    for k, design in enumerate(DESIGNS):
        rng = np.random.default_rng([seed, k])
        rates: list[dict] = []
        gaps: list[dict] = []
        withheld: list[bool] = []
        for _ in range(reps):
            rep = one_rep(rng, design)
            rates += rep["rates"]
            gaps += rep["gaps"]
            withheld += rep["withheld"]
        entry: dict = {"reps": reps, "known_design": design != "near-threshold"}
        for what, rows in (("rate", rates), ("gap", gaps)):
            for method in ("classifier", "human", "corrected"):
                hits = np.array([r[method][0] for r in rows])
                widths = np.array([r[method][1] for r in rows])
                entry[f"{what}_{method}_coverage"] = float(hits.mean())
                entry[f"{what}_{method}_width"] = float(np.nanmean(widths))
        if withheld:
            entry["corrected_withheld_share"] = float(np.mean(withheld))
        summary[design] = entry
    return summary


def main() -> None:
    started = time.perf_counter()
    summary = run()
    took = time.perf_counter() - started
    print(
        f"coverage of 95% intervals, {REPS} seeded repetitions per design "
        f"(4 groups of {N_PER_GROUP}, {N_LABELLED} labelled, Se {SE}, Sp {SP}); "
        "coverage / mean width"
    )
    head = f"{'design':<18} {'':<5} {'corrected':>16} {'human only':>16} {'classifier only':>16}"
    print(head)
    ok = True
    baseline = summary["uniform"]["rate_human_width"]
    for design, e in summary.items():
        for what in ("rate", "gap"):
            cells = [
                f"{e[f'{what}_{m}_coverage']:.3f} / {e[f'{what}_{m}_width']:.3f}"
                for m in ("corrected", "human", "classifier")
            ]
            print(
                f"{design if what == 'rate' else '':<18} {what:<5} "
                + " ".join(f"{c:>16}" for c in cells)
            )
        if design == "tier-se-pooled":
            print(
                f"{'':<18} --pooled: one correction for both tiers, which errs when the "
                "classifier's sensitivity differs by tier (shown, not a goal)"
            )
        elif e["known_design"]:
            good = all(e[f"{w}_corrected_coverage"] >= 0.93 for w in ("rate", "gap"))
            narrower = e["rate_corrected_width"] < baseline
            same = e["rate_corrected_width"] < e["rate_human_width"]
            ok &= good and narrower
            print(
                f"{'':<18} goal: coverage >= 0.93 {'met' if good else 'NOT met'}; narrower "
                f"than human-only from a simple random sample of {N_LABELLED} "
                f"({baseline:.3f}): {'yes' if narrower else 'NO'}; than this design's "
                f"human-only: {'yes' if same else 'no'}"
            )
        else:
            print(
                f"{'':<18} design unknown: corrected rate withheld in "
                f"{e['corrected_withheld_share']:.0%} of cells; the corrected row shows what "
                "--assume-random would print"
            )
    print(f"all goals {'met' if ok else 'NOT met'} ({took:.1f} s)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"reps": REPS, "seed": SEED, "designs": summary, "goals_met": ok, "seconds": took},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
