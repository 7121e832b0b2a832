"""Intervals that mean what they say: DeLong's AUROC interval, bands that are no verdict when
the interval spans several, the non-inferiority verdict, weighted kappa on category values,
and the same interval from a database and from a ratings file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from reviewer.agreement import FieldSpec, RatingSet, analyse_field
from reviewer.agreement import coefficients as co
from reviewer.agreement.bands import band_of_interval
from reviewer.agreement.report import noninferiority_verdict
from reviewer.agreement.versus_reference import (
    DELONG_METHOD,
    auroc_delong,
    average_precision,
    average_precision_interval,
    score_metrics,
)
from reviewer.cli import cli
from tests.factory import label, register_rubric, transcript


def _brute_delong(truth, score):
    pos, neg = score[truth], score[~truth]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), np.var(v10, ddof=1) / pos.size + np.var(v01, ddof=1) / neg.size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_its_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(120) < 0.4
    score = np.round(rng.normal(truth * 0.8, 1.0), 1)  # rounded: many ties
    auc, ci, method = auroc_delong(truth, score)
    want_auc, want_var = _brute_delong(truth, score)
    assert auc == pytest.approx(want_auc) and method == DELONG_METHOD
    # A normal interval on the logit scale: centred on logit(AUC), its half-width z times the
    # delta-method SE there, sqrt(var) / (AUC (1 - AUC)).
    low, high = (np.log(p / (1 - p)) for p in ci)
    assert (low + high) / 2 == pytest.approx(np.log(want_auc / (1 - want_auc)), rel=1e-9)
    se = np.sqrt(want_var) / (want_auc * (1 - want_auc))
    assert (high - low) / (2 * 1.959964) == pytest.approx(se, rel=1e-6)


@pytest.mark.parametrize(
    ("prevalence", "at_least"),
    # Measured over these 1,000 repetitions: 0.955 and 0.923; the plain AUC +- z SE
    # interval, clipped to [0, 1], gave 0.929 and 0.889 on the same draws.
    [(0.4, 0.94), (0.1, 0.905)],
)
def test_delong_interval_covers_in_simulation(prevalence, at_least):
    rng = np.random.default_rng(5)
    hits = 0
    true_auc = 0.7602  # binormal, shift 1: Phi(1 / sqrt 2)
    draws = 0
    while draws < 1000:
        truth = rng.random(100) < prevalence
        score = rng.normal(truth * 1.0, 1.0)
        if truth.all() or not truth.any():  # no AUROC without both classes: draw again
            continue
        _, (low, high), _ = auroc_delong(truth, score)
        hits += low <= true_auc <= high
        draws += 1
    assert hits / 1000 >= at_least


@pytest.mark.parametrize("seed", range(40))
def test_average_precision_bootstrap_is_the_resampled_items_average_precision(seed):
    """The bootstrap sorts the scores once and counts each resample per block of equal scores;
    its draws are, to the last bit, ``average_precision`` of each resample's items."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    truth = rng.random(n) < rng.random()
    score = np.round(rng.random(n), int(rng.integers(0, 3)))  # ties, often
    draws_rng = np.random.default_rng(seed)
    draws = []
    for _ in range(60):
        idx = draws_rng.integers(0, n, n)
        ap = average_precision(truth[idx], score[idx])
        if ap is not None:
            draws.append(ap)
    expected = None
    if len(draws) >= 2:
        tail = (1 - 0.95) / 2 * 100  # as the interval computes it (not quite 2.5)
        expected = [float(x) for x in np.percentile(draws, [tail, 100 - tail])]
    assert average_precision_interval(truth, score, 60, seed) == expected


def test_auroc_near_chance_is_flagged_in_plain_words():
    rng = np.random.default_rng(2)
    truth = rng.random(106) < 0.5
    score = rng.random(106) + 0.05 * truth
    sm = score_metrics(truth, score, n_resamples=200, seed=0)
    assert sm["auroc_ci"][0] < 0.5 < sm["auroc_ci"][1]
    assert any("includes 0.5" in f and "no better than chance" in f for f in sm["chance_flags"])
    assert sm["average_precision_ci"] is not None


def test_perfect_separation_still_gets_a_nonzero_interval():
    truth = np.array([True] * 5 + [False] * 7)
    auc, ci, method = auroc_delong(truth, np.arange(12)[::-1].astype(float))
    assert auc == 1.0 and ci[1] == 1.0 and ci[0] < 0.9 and method.startswith("Wilson")


def test_band_is_no_verdict_when_the_interval_spans_bands():
    assert band_of_interval(0.5, [0.45, 0.55]) == ("moderate", None)
    assert band_of_interval(0.5, [0.1, 0.9]) == (None, "interval spans slight to almost perfect")
    rs = RatingSet.from_matrix(
        [["a", "a"], ["b", "a"], ["b", "b"], ["a", "b"], ["a", "a"], ["b", "b"]]
    )
    entry = analyse_field(FieldSpec("f", rs), n_resamples=300)["overall"]["fleiss_kappa"]
    assert entry["interpretation"] == "no single band"
    assert entry["interpretation_note"].startswith("interval spans")


@pytest.mark.parametrize(
    ("ci", "verdict"),
    [
        ([-0.05, 0.2], "non-inferior"),
        ([0.02, 0.3], "non-inferior, and above"),
        ([-0.5, -0.2], "inferior"),
        ([-0.5, 0.4], "inconclusive"),
        (None, None),
    ],
)
def test_noninferiority_verdict(ci, verdict):
    assert noninferiority_verdict(ci, 0.1) == verdict


def test_six_items_with_kappa_far_apart_is_not_called_within():
    """The issue's case: the classifier's kappa 0.17 against humans' 0.67 on 6 items reaches 0
    in its interval, which used to read "within"; it is inconclusive at best."""
    humans_and_clf = [
        ["y", "y", "n"],
        ["y", "y", "y"],
        ["n", "n", "y"],
        ["n", "n", "n"],
        ["y", "n", "n"],
        ["n", "n", "y"],
    ]
    rs = RatingSet.from_matrix(humans_and_clf, ["ann", "bob", "clf"])
    report = analyse_field(FieldSpec("f", rs, classifiers=["clf"]), n_resamples=400)
    (gap,) = report["classifier_vs_humans"]
    assert gap["verdict"] in ("inconclusive", "inferior")


def test_weighted_cohen_kappa_at_interval_level_uses_category_values():
    rows = [[1, 1], [2, 5], [5, 5], [1, 2], [2, 2], [5, 1], [2, 5], [1, 1]]
    rs = RatingSet.from_matrix(rows, level="interval")
    pair = analyse_field(FieldSpec("f", rs), n_resamples=0)["pairs"][0]
    table = co.PairTable(rs, 0, 1).tables(rs.multiplicity[None, :].astype(float))
    by_value = co.cohen_kappa_table(table, co.weight_matrix("linear", [1, 2, 5]))[0]
    by_rank = co.cohen_kappa_table(table, co.weight_matrix("linear", [0, 1, 2]))[0]
    assert pair["cohen_kappa_linear"]["value"] == pytest.approx(by_value)
    assert by_value != pytest.approx(by_rank)


def test_same_data_and_seed_give_the_same_interval_from_a_database_and_a_file(store, tmp_path):

    register_rubric(store, "goal_guarding")

    rng = np.random.default_rng(3)
    store.insert_transcripts(
        [
            transcript(
                f"q{i}",
            )
            for i in range(40)
        ]
    )
    lines = ["item,rater,value"]
    for tid in store.transcript_ids():
        a, b = rng.random() < 0.5, rng.random() < 0.5
        for who, v in (("ann", a), ("bob", b)):
            label(store, tid, "yes" if v else "no", source="human", rater=who, phase="blind")
        lines += [f"{tid},ann,{'yes' if a else 'no'}", f"{tid},bob,{'yes' if b else 'no'}"]
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    from_db = runner.invoke(
        cli,
        [
            "--db",
            str(store.path),
            *[
                "stats",
                "--field",
                "alignment_faking",
                "--resamples",
                "300",
                "--seed",
                "4",
                "--json",
            ],
        ],
    )
    from_file = runner.invoke(
        cli, ["stats", "--ratings", str(ratings), *["--resamples", "300", "--seed", "4", "--json"]]
    )
    assert from_db.exit_code == 0 and from_file.exit_code == 0, from_db.output + from_file.output
    db_overall = json.loads(from_db.output)["fields"][0]["overall"]
    file_overall = json.loads(from_file.output)["fields"][0]["overall"]
    for metric in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        assert db_overall[metric]["value"] == pytest.approx(file_overall[metric]["value"])
        assert db_overall[metric]["ci"] == pytest.approx(file_overall[metric]["ci"]), metric


def test_the_logit_interval_stays_inside_zero_and_one_at_the_extremes():
    from reviewer.agreement.versus_reference import _expit

    assert (_expit(-1e6), _expit(0.0), _expit(1e6)) == (0.0, 0.5, 1.0)
    truth = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    score = np.r_[np.arange(2000) + 2000.0, np.arange(2000.0)]
    score[0], score[-1] = score[-1], score[0]  # one positive ranked below one negative
    auc, (low, high), method = auroc_delong(truth, score)
    assert method == DELONG_METHOD and 0 < low < auc < high < 1
