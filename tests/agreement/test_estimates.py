"""The estimator core against ppi-python (Angelopoulos et al.'s reference implementation) and
against published values for the Wilson interval."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer import estimates as est

ppi_py = pytest.importorskip("ppi_py", reason="ppi-python is the oracle (pip install -e .[dev])")


def _sample(y, f, w=None, stratum=None, fpc=0.0):
    n = len(y)
    return est.DesignSample.build(
        y,
        f,
        np.ones(n) if w is None else w,
        np.zeros(n, int) if stratum is None else stratum,
        np.full(n, fpc),
        np.zeros(n, int),
    )


def _data(seed: int, n: int = 150, big: int = 3000):
    rng = np.random.default_rng(seed)
    truth_all = rng.random(big) < 0.3
    flag_all = np.where(truth_all, rng.random(big) < 0.85, rng.random(big) < 0.1)
    idx = rng.choice(big, n, replace=False)
    return truth_all[idx].astype(float), flag_all[idx].astype(float), flag_all.astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_point_estimate_and_rectifier_variance_match_ppi_python(seed, lam):
    y, f, f_all = _data(seed)
    sample = _sample(y, f)
    mine = est.domain_estimate(sample, 0, float(f_all.mean()), len(f_all), lam)
    theirs = ppi_py.ppi_mean_pointestimate(y, f, f_all, lam=lam)
    assert mine.value == pytest.approx(float(np.squeeze(theirs)), abs=1e-12)
    # ppi-python's rectifier variance is var(y - lam f) / n with ddof 0; the stratified
    # linearisation without a finite-population correction has the n / (n - 1) factor.
    n = len(y)
    rectifier = np.var(y - lam * f) / n
    assert est.design_variance(sample, mine.z) == pytest.approx(rectifier * n / (n - 1), rel=1e-9)


@pytest.mark.parametrize("seed", [3, 4])
def test_weighted_point_estimate_matches_ppi_python(seed):
    y, f, f_all = _data(seed)
    w = np.random.default_rng(seed).uniform(1, 5, len(y))
    mine = est.domain_estimate(_sample(y, f, w), 0, float(f_all.mean()), len(f_all), 1.0)
    theirs = ppi_py.ppi_mean_pointestimate(y, f, f_all, lam=1, w=w)
    assert mine.value == pytest.approx(float(np.squeeze(theirs)), abs=1e-12)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_power_tuning_matches_ppi_python_when_unlabelled_set_is_large(seed):
    y, f, _ = _data(seed)
    # ppi-python's lam is cov / ((1 + n / N) var) over labelled and unlabelled predictions; with
    # the unlabelled set a large copy of the labelled one it tends to the slope used here.
    unlabelled = np.tile(f, 2000)
    grads, grads_hat = y - y.mean(), f - y.mean()
    theirs = ppi_py.ppi.__dict__["_calc_lam_glm"](
        grads, grads_hat, unlabelled - y.mean(), np.eye(1), clip=True
    )
    assert est.power_tuning(_sample(y, f)) == pytest.approx(float(theirs), abs=2e-3)


def test_interval_width_matches_ppi_python_without_design_terms():
    y, f, f_all = _data(11, n=400, big=200_000)
    sample = _sample(y, f)
    mine = est.domain_estimate(sample, 0, float(f_all.mean()), len(f_all), 1.0)
    low, high = ppi_py.ppi_mean_ci(y, f, f_all, alpha=0.05, lam=1)
    # Here the population is huge, so the superpopulation and imputed terms are tiny.
    ours = est.normal_interval(sample, mine)["ci"]
    assert ours[0] == pytest.approx(float(low[0]), abs=2e-3)
    assert ours[1] == pytest.approx(float(high[0]), abs=2e-3)


def test_wilson_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662;
    # 15/148 -> 0.0624 to 0.1605; 0/10 -> 0 to 0.2775.
    assert est.wilson(81, 263) == pytest.approx([0.2553, 0.3662], abs=1e-4)
    assert est.wilson(15, 148) == pytest.approx([0.0624, 0.1605], abs=1e-4)
    assert est.wilson(0, 10) == pytest.approx([0.0, 0.2775], abs=1e-4)
    assert est.wilson(0, 0) is None


def test_no_zero_width_interval_when_humans_and_classifier_always_agree():
    y = np.zeros(6)
    sample = _sample(y, y.copy())
    e = est.domain_estimate(sample, 0, 0.0, 500, 1.0)
    out = est.normal_interval(sample, e)
    assert out["value"] == 0.0 and out["ci"][1] > 0.01
    human = est.wilson_design(sample, est.domain_estimate(sample, 0, 0.0, 500, 0.0))
    assert human["ci"][0] == 0.0 and human["ci"][1] > 0.2


def test_census_of_a_group_leaves_only_the_superpopulation_term():
    y, f, _ = _data(8, n=50, big=50)
    sample = _sample(y, f, fpc=1.0)
    e = est.domain_estimate(sample, 0, float(f.mean()), 50, 1.0)
    assert e.value == pytest.approx(y.mean())
    assert est.variance(sample, e) == pytest.approx(y.mean() * (1 - y.mean()) / 50)


def test_neyman_allocation_follows_size_times_spread():
    from reviewer.estimates import neyman_allocation

    alloc = neyman_allocation([1000, 1000, 100], [0.1, 0.5, 0.5], 120)
    assert sum(alloc) == 120 and all(a >= 2 for a in alloc)
    assert alloc[1] > 4 * alloc[0] and alloc[1] > 8 * alloc[2]
    assert neyman_allocation([3, 1], [0.5, 0.5], 100) == [3, 1]
