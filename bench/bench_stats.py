"""Agreement statistics at scale: every coefficient with 1,000-resample bootstrap intervals on
2,000,000 items x 3 raters x 6 categories (10% missing), against the ``krippendorff`` package's
alpha on the same data in the same run.

The engine is timed in a fresh child process (so its peak RSS is its own, and it starts cold);
the package is timed in this process afterwards. ``REVIEWER_BENCH_ITEMS`` shrinks the data for a
quick look.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_ITEMS = int(os.environ.get("REVIEWER_BENCH_ITEMS", 2_000_000))
N_RATERS = 3
N_CATEGORIES = 6
MISSING = 0.10
RESAMPLES = 1000
SEED = 20251126
# The package is timed on the full data unless a trial on a subsample predicts more than this.
PACKAGE_BUDGET_S = 120.0
RESULTS = Path(__file__).parent / "results" / "stats.json"


def make_ratings(n: int = N_ITEMS, seed: int = SEED) -> np.ndarray:
    """Raters who agree with a latent category 70% of the time, else guess; 10% missing."""
    rng = np.random.default_rng(seed)
    latent = rng.integers(1, N_CATEGORIES + 1, size=n)
    guess = rng.integers(1, N_CATEGORIES + 1, size=(n, N_RATERS))
    ratings = np.where(rng.random((n, N_RATERS)) < 0.7, latent[:, None], guess).astype(float)
    ratings[rng.random((n, N_RATERS)) < MISSING] = np.nan
    return ratings


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_run() -> dict:
    """Child process: everything the engine does for one field, timed from the raw matrix."""
    from reviewer.agreement import FieldSpec, RatingSet, analyse_field
    from reviewer.agreement import coefficients as co

    ratings = make_ratings()
    rss_data = _peak_rss_mb()
    start = time.perf_counter()
    rs = RatingSet.from_matrix(ratings, level="ordinal")
    encoded = time.perf_counter()
    report = analyse_field(FieldSpec("bench", rs), n_resamples=RESAMPLES, seed=SEED)
    done = time.perf_counter()
    # Alpha alone, from the raw matrix, as the package computes it (nominal and interval).
    alpha = {}
    for level in ("nominal", "interval"):
        t0 = time.perf_counter()
        rs_level = RatingSet.from_matrix(ratings, level=level)
        pc = co.PatternCounts(rs_level)
        value = float(co.krippendorff_alpha(pc, rs_level.multiplicity[None, :] * 1.0, level)[0])
        alpha[level] = {"value": value, "seconds": time.perf_counter() - t0}
    n_statistics = len(report["overall"]) + sum(
        1 for p in report["pairs"] for k in p if isinstance(p[k], dict)
    )
    return {
        "encode_s": encoded - start,
        "analyse_s": done - encoded,
        "total_s": done - start,
        "n_patterns": int(len(rs.multiplicity)),
        "n_statistics": n_statistics,
        "overall": {k: v["value"] for k, v in report["overall"].items()},
        "alpha": alpha,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_data_mb": rss_data,
    }


def _package_alpha(ratings: np.ndarray, level: str) -> tuple[float, float]:
    import krippendorff

    start = time.perf_counter()
    value = float(krippendorff.alpha(reliability_data=ratings.T, level_of_measurement=level))
    return value, time.perf_counter() - start


def main() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, bench.bench_stats as b; print(json.dumps(b.engine_run()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    engine = json.loads(child.stdout.strip().splitlines()[-1])
    ratings = make_ratings()

    package = {}
    for level in ("nominal", "interval"):
        trial_n = min(len(ratings), 200_000)
        _, trial_s = _package_alpha(ratings[:trial_n], level)
        predicted = trial_s * len(ratings) / trial_n
        if predicted <= PACKAGE_BUDGET_S:
            value, seconds = _package_alpha(ratings, level)
            package[level] = {"value": value, "seconds": seconds, "items": len(ratings)}
        else:
            package[level] = {
                "value": None,
                "seconds": trial_s,
                "items": trial_n,
                "note": f"full data predicted {predicted:.0f} s; timed on a subsample",
            }

    print(
        f"data: {N_ITEMS:,} items x {N_RATERS} raters x {N_CATEGORIES} categories, "
        f"{MISSING:.0%} missing; {engine['n_patterns']} distinct item patterns"
    )
    print(
        f"engine, everything ({engine['n_statistics']} coefficients, each with a "
        f"{RESAMPLES}-resample bootstrap interval): {engine['total_s']:.3f} s "
        f"(encode {engine['encode_s']:.3f} s + statistics {engine['analyse_s']:.3f} s), "
        f"peak RSS {engine['peak_rss_mb']:.0f} MB "
        f"({engine['rss_after_data_mb']:.0f} MB already after making the input data)"
    )
    ratios = {}
    for level, pk in package.items():
        ours = engine["alpha"][level]
        if pk["value"] is not None:
            ratio = pk["seconds"] / ours["seconds"]
            agree = abs(pk["value"] - ours["value"])
            print(
                f"alpha ({level}): krippendorff package {pk['seconds']:.3f} s, engine "
                f"{ours['seconds']:.3f} s -> {ratio:.1f}x faster; |difference| {agree:.1e}"
            )
        else:
            per_item = pk["seconds"] / pk["items"]
            ratio = per_item * len(ratings) / ours["seconds"]
            print(f"alpha ({level}): {pk['note']}: {ratio:.1f}x faster (extrapolated)")
        ratios[level] = ratio
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "items": N_ITEMS,
                "raters": N_RATERS,
                "categories": N_CATEGORIES,
                "missing": MISSING,
                "resamples": RESAMPLES,
                "engine": engine,
                "krippendorff_package": package,
                "alpha_speedup": ratios,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
