"""Degenerate inputs give a defined value or None with a reason: never a crash, never a 0."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.agreement import FieldSpec, RatingSet, analyse_field
from tests.factory import overall

CHANCE_CORRECTED = ("fleiss_kappa", "conger_kappa", "krippendorff_alpha", "gwet_ac1")


def test_one_category_only():
    result = overall([["yes", "yes"], ["yes", "yes"], ["yes", None]], resamples=50)
    assert result["percent_agreement"]["value"] == 1.0
    for metric in ("fleiss_kappa", "conger_kappa", "krippendorff_alpha", "cohen_kappa", "scott_pi"):
        entry = result[metric]
        assert entry["value"] is None
        assert entry["ci"] is None
        assert "every rating is 'yes'" in entry["reason"]
    # Gwet's chance agreement is sum pi (1 - pi) = 0 here, so AC1 is the agreement itself;
    # its interval is Wilson's on the 2 items rated twice, not a zero-width bootstrap one.
    ac1 = result["gwet_ac1"]
    assert ac1["value"] == 1.0
    assert ac1["ci"] == pytest.approx([0.3424, 1.0], abs=1e-4)
    assert ac1["ci_method"].startswith("Wilson")
    assert result["percent_agreement"]["ci"] == ac1["ci"]


def test_one_rater():
    result = overall([["a"], ["b"], ["a"]], raters=["ann"])
    for metric in ("percent_agreement", *CHANCE_CORRECTED):
        assert result[metric]["value"] is None
        assert result[metric]["reason"] == "only one rater (ann): agreement needs two or more"


def test_everything_missing():
    result = overall(np.full((4, 3), np.nan))
    for metric in ("percent_agreement", *CHANCE_CORRECTED):
        assert result[metric]["value"] is None
        assert result[metric]["reason"] == "every rating is missing"


def test_no_item_rated_twice():
    result = overall([["a", None], [None, "b"], ["b", None]])
    assert result["krippendorff_alpha"]["value"] is None
    assert "no item was labelled by two or more" in result["krippendorff_alpha"]["reason"]
    assert result["cohen_kappa"]["value"] is None


def test_no_raters_and_no_items():
    rs = RatingSet.from_matrix(np.empty((0, 0)))
    report = analyse_field(FieldSpec("f", rs), n_resamples=10)
    assert report["n_items"] == 0
    assert report["pairs"] == []
    assert report["overall"]["fleiss_kappa"]["reason"].startswith("no raters")


def test_perfect_agreement_is_one_not_undefined():
    result = overall([["a", "a"], ["b", "b"], ["a", "a"], ["b", "b"]], resamples=100)
    for metric in (*CHANCE_CORRECTED, "cohen_kappa", "scott_pi"):
        assert result[metric]["value"] == pytest.approx(1.0)


def test_skewed_prevalence_warns_and_points_to_ac1():
    # 95% "no": raters agree on 94% of items, yet kappa is low (the kappa paradox).
    rng = np.random.default_rng(3)
    n = 400
    a = np.where(rng.random(n) < 0.95, "no", "yes")
    b = a.copy()
    flip = rng.random(n) < 0.06
    b[flip] = np.where(a[flip] == "no", "yes", "no")
    rs = RatingSet.from_matrix(np.stack([a, b], axis=1).tolist())
    report = analyse_field(FieldSpec("f", rs), n_resamples=50)
    (warning,) = report["warnings"]
    ac1 = report["overall"]["gwet_ac1"]["value"]
    assert "skewed prevalence" in warning and "'no'" in warning
    assert f"Gwet's AC1 = {ac1:.3f}" in warning
    assert report["overall"]["cohen_kappa"]["value"] < ac1


def test_balanced_prevalence_does_not_warn():
    result = analyse_field(
        FieldSpec("f", RatingSet.from_matrix([["a", "a"], ["b", "b"], ["a", "b"], ["b", "a"]])),
        n_resamples=0,
    )
    assert result["warnings"] == []


def test_versus_reference_without_positive_explains():
    rs = RatingSet.from_matrix([["x", "x"], ["y", "z"], ["z", "z"]], ["ref", "r"], keep_items=True)
    report = analyse_field(FieldSpec("f", rs, comparisons=[("r", "ref")]), n_resamples=0)
    (v,) = report["versus_reference"]
    assert v["accuracy"] == pytest.approx(2 / 3)
    assert v["precision"] is None and v["auroc"] is None
    assert any("--positive" in note for note in v["notes"])


def test_bad_values_are_rejected_with_the_cell():
    with pytest.raises(ValueError, match=r"value 'maybe' \(item 2, rater 1\)"):
        RatingSet.from_matrix([["a"], ["maybe"]], categories=["a", "b"])
