"""Property tests: the engine against the reference libraries on random data with gaps."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from sklearn.metrics import average_precision_score, cohen_kappa_score, roc_auc_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from reviewer.agreement import RatingSet
from reviewer.agreement import coefficients as co
from reviewer.agreement.versus_reference import auroc, average_precision

pytestmark = pytest.mark.slow  # hypothesis against the reference libraries

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def rating_matrices(draw, min_raters=2, max_raters=5, missing=True):
    n = draw(st.integers(4, 30))
    r = draw(st.integers(min_raters, max_raters))
    q = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Raters agree with a latent label more often than chance, so values are not all noise.
    latent = rng.integers(1, q + 1, size=n)
    noise = rng.integers(1, q + 1, size=(n, r))
    keep = rng.random((n, r)) < draw(st.floats(0.3, 0.9))
    m = np.where(keep, latent[:, None], noise).astype(float)
    if missing:
        m[rng.random((n, r)) < draw(st.floats(0.0, 0.35))] = np.nan
    return m, list(range(1, q + 1))


def _point(rs: RatingSet, fn, *args):
    pc = co.PatternCounts(rs)
    return float(fn(pc, rs.multiplicity[None, :].astype(float), *args)[0])


def _pairable_values(m: np.ndarray) -> int:
    rated = ~np.isnan(m)
    pairable = rated.sum(axis=1) >= 2
    return len(np.unique(m[pairable][rated[pairable]]))


@SETTINGS
@given(rating_matrices(), st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_matches_krippendorff_package(data, level):
    m, _ = data
    assume(_pairable_values(m) >= 2)
    expected = krippendorff.alpha(reliability_data=m.T, level_of_measurement=level)
    rs = RatingSet.from_matrix(m, level=level)
    assert _point(rs, co.krippendorff_alpha, level) == pytest.approx(expected, abs=1e-9)


def _irrcac(m: np.ndarray, categories, method: str, weights="identity") -> float:
    frame = pd.DataFrame(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = getattr(CAC(frame, weights=weights, categories=categories, digits=10), method)()
    return float(result["est"]["coefficient_value"])


def _usable_for_irrcac(m: np.ndarray) -> bool:
    rated = ~np.isnan(m)
    return bool((rated.sum(axis=1) >= 2).any()) and bool(rated.any(axis=0).all())


@SETTINGS
@given(rating_matrices())
def test_fleiss_ac1_conger_match_irrcac_with_missing(data):
    m, categories = data
    assume(_usable_for_irrcac(m) and len(np.unique(m[~np.isnan(m)])) >= 2)
    rs = RatingSet.from_matrix(m, categories=categories)
    assert _point(rs, co.fleiss_kappa) == pytest.approx(_irrcac(m, categories, "fleiss"), abs=1e-8)
    assert _point(rs, co.gwet_ac) == pytest.approx(_irrcac(m, categories, "gwet"), abs=1e-8)
    assert _point(rs, co.conger_kappa) == pytest.approx(_irrcac(m, categories, "conger"), abs=1e-8)


@SETTINGS
@given(rating_matrices(), st.sampled_from(["linear", "quadratic", "ordinal"]))
def test_gwet_ac2_matches_irrcac(data, weighting):
    m, categories = data
    assume(_usable_for_irrcac(m))
    rs = RatingSet.from_matrix(m, categories=categories)
    weights = co.weight_matrix(weighting, categories)
    expected = _irrcac(m, categories, "gwet", weights=weighting)
    assert _point(rs, co.gwet_ac, weights) == pytest.approx(expected, abs=1e-8)


@SETTINGS
@given(rating_matrices(min_raters=3, max_raters=6, missing=False))
def test_fleiss_matches_statsmodels_on_complete_data(data):
    m, categories = data
    table, _ = aggregate_raters(m.astype(int), n_cat=None)
    assume(table.shape[1] >= 2)
    rs = RatingSet.from_matrix(m, categories=categories)
    assert _point(rs, co.fleiss_kappa) == pytest.approx(fleiss_kappa(table), abs=1e-9)


@SETTINGS
@given(rating_matrices(min_raters=2, max_raters=2), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_matches_sklearn_on_items_both_rated(data, weighting):
    m, categories = data
    both = ~np.isnan(m).any(axis=1)
    a, b = m[both, 0], m[both, 1]
    labels = sorted(set(a) | set(b))
    assume(len(a) >= 2 and len(labels) >= 2)
    # Two raters who each use one category make sklearn divide 0 by 0.
    assume(not (len(set(a)) == 1 and len(set(b)) == 1))
    expected = cohen_kappa_score(a, b, labels=labels, weights=weighting)
    rs = RatingSet.from_matrix(m[both], categories=labels)
    table = co.PairTable(rs, 0, 1).tables(rs.multiplicity[None, :].astype(float))
    weights = co.weight_matrix(weighting or "identity", np.arange(len(labels)))
    assert float(co.cohen_kappa_table(table, weights)[0]) == pytest.approx(expected, abs=1e-9)


@SETTINGS
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=60),
)
def test_auroc_and_average_precision_match_sklearn(pairs):
    truth = np.array([t for t, _ in pairs])
    score = np.array([s / 6 for _, s in pairs])  # coarse scores: many ties, like vote fractions
    assume(truth.any() and not truth.all())
    assert auroc(truth, score) == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
    assert average_precision(truth, score) == pytest.approx(
        average_precision_score(truth, score), abs=1e-12
    )


@SETTINGS
@given(rating_matrices(max_raters=4), st.booleans(), st.integers(-3, 3))
def test_pattern_compression_is_lossless(data, give_categories, shift):
    m, categories = data
    # Shifted scales with unused values in between exercise the integer fast path's remap.
    m = np.where(np.isnan(m), np.nan, m * 2 + shift)
    categories = [c * 2 + shift for c in categories]
    rs = RatingSet.from_matrix(
        m, categories=categories if give_categories else None, keep_items=True
    )
    codes = rs.patterns[rs.item_pattern]
    cats = np.asarray(rs.categories, dtype=float)
    if give_categories:
        assert rs.categories == categories
    rebuilt = np.where(codes >= 0, cats[np.maximum(codes, 0)], np.nan)
    np.testing.assert_array_equal(rebuilt, m)
    assert rs.multiplicity.sum() == len(m)


def test_pattern_bootstrap_matches_a_row_bootstrap():
    """Drawing pattern counts from a multinomial is the row bootstrap, done cheaply: the two
    give the same interval up to Monte Carlo error."""
    from reviewer.agreement import FieldSpec, analyse_field

    rng = np.random.default_rng(4)
    n = 400
    latent = rng.integers(0, 3, n)
    m = np.where(rng.random((n, 3)) < 0.6, latent[:, None], rng.integers(0, 3, (n, 3)))
    m = m.astype(float)
    m[rng.random((n, 3)) < 0.15] = np.nan
    report = analyse_field(FieldSpec("f", RatingSet.from_matrix(m)), n_resamples=2000, seed=1)
    low, high = report["overall"]["fleiss_kappa"]["ci"]

    rows = []
    for _ in range(2000):
        sample = m[rng.integers(0, n, n)]
        rs = RatingSet.from_matrix(sample, categories=[0, 1, 2])
        rows.append(_point(rs, co.fleiss_kappa))
    row_low, row_high = np.percentile(rows, [2.5, 97.5])
    assert low == pytest.approx(row_low, abs=0.015)
    assert high == pytest.approx(row_high, abs=0.015)


@SETTINGS
@given(st.lists(st.integers(0, 9), min_size=4, max_size=4), st.sampled_from([0, 1, None]))
def test_batched_rates_equal_the_single_table_rates(cells, positive):
    from reviewer.agreement.versus_reference import batched_rates, rates

    table = np.array(cells, dtype=float).reshape(2, 2)
    single = rates(table, positive)
    batched = batched_rates(table[None], positive)
    for name, value in batched.items():
        expected = single[name]
        if expected is None:
            assert np.isnan(value[0])
        else:
            assert value[0] == pytest.approx(expected)


def _walk_values(node, path=""):
    if isinstance(node, dict):
        if "value" in node and ("ci" in node or "reason" in node):
            yield path, node
        for key, child in node.items():
            yield from _walk_values(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk_values(child, f"{path}[{i}]")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.integers(0, 6),
    st.integers(1, 4),
    st.integers(1, 3),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_any_small_input_gives_values_or_reasons(n, r, q, missing, seed):
    """Tiny, sparse, one-category and one-rater inputs: no exception, no NaN, no silent 0."""
    from reviewer.agreement import FieldSpec, analyse_field

    rng = np.random.default_rng(seed)
    m = rng.integers(0, q, size=(n, r)).astype(float)
    m[rng.random((n, r)) < missing] = np.nan
    raters = [f"r{g}" for g in range(r)]
    rs = RatingSet.from_matrix(m, raters, categories=list(range(q)), keep_items=True)
    rs.scores[raters[-1]] = rng.random(n)
    spec = FieldSpec(
        "f",
        rs,
        panel=raters[:-1] or raters,
        comparisons=[(raters[-1], raters[0])] if r > 1 else [],
        classifiers=[raters[-1]] if r > 1 else [],
    )
    report = analyse_field(spec, n_resamples=20)
    for path, entry in _walk_values(report):
        if entry["value"] is None:
            assert entry.get("reason"), path
        else:
            assert np.isfinite(entry["value"]), path
    for v in report["versus_reference"]:
        for key in ("accuracy", "precision", "recall", "specificity", "f1", "auroc"):
            assert v[key] is None or np.isfinite(v[key])
