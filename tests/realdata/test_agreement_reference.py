"""Every published worked example in reference_cases.json, through the engine and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from reviewer.agreement import FieldSpec, RatingSet, analyse_field
from reviewer.cli import cli
from tests.conftest import SHARED_DATA
from tests.factory import overall, write_long_csv

REFERENCE_FILE = SHARED_DATA / "agreement" / "reference_cases.json"


def reference_cases() -> list[dict[str, Any]]:
    if not REFERENCE_FILE.exists():
        return []
    return json.loads(REFERENCE_FILE.read_text())["cases"]


def case_level(case: dict[str, Any]) -> str:
    """'ordinal (linear weights)' -> 'ordinal'."""
    return case["level"].split()[0]


def items_by_raters(rows: list[list[Any]]) -> list[list[Any]]:
    """Reference data are rater rows; the engine wants item rows."""
    return [list(col) for col in zip(*rows, strict=True)]


CASES = reference_cases()
IDS = [c["name"] for c in CASES]


@pytest.fixture(autouse=True)
def _needs_shared(shared_data):
    return shared_data


def test_reference_file_has_every_metric():
    metrics = {c["metric"] for c in CASES}
    assert metrics == {
        "krippendorff_alpha",
        "fleiss_kappa",
        "cohen_kappa",
        "cohen_kappa_linear",
        "cohen_kappa_quadratic",
        "scott_pi",
        "gwet_ac1",
        "conger_kappa",
    }
    assert len(CASES) == 38


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_matches_reference(case):
    result = overall(
        items_by_raters(case["data"]), level=case_level(case), categories=case.get("categories")
    )
    value = result[case["metric"]]["value"]
    assert value == pytest.approx(case["expected"], abs=case["tolerance"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_matches_reference(case, tmp_path):
    path = write_long_csv(tmp_path / "ratings.csv", case["data"])
    result = CliRunner().invoke(
        cli,
        [
            "stats",
            "--ratings",
            str(path),
            "--level",
            case_level(case),
            *["--json", "--resamples", "20"],
        ],
    )
    assert result.exit_code == 0, result.output
    (field,) = json.loads(result.output)["fields"]
    assert field["overall"][case["metric"]]["value"] == pytest.approx(
        case["expected"], abs=case["tolerance"]
    )


def _published_se(case):
    extra = case.get("extra") or {}
    if case["metric"] in ("krippendorff_alpha", "conger_kappa"):
        return None  # bootstrap only: no standard analytic SE is claimed for these
    return extra.get("irrCAC_se", extra.get("irrCAC_se_gwet"))


SE_CASES = [c for c in CASES if _published_se(c) is not None]


@pytest.mark.parametrize("case", SE_CASES, ids=[c["name"] for c in SE_CASES])
def test_analytic_standard_errors_match_irrcac(case):
    matrix = items_by_raters(case["data"])
    rs = RatingSet.from_matrix(matrix, categories=case.get("categories"), level=case_level(case))
    report = analyse_field(FieldSpec("f", rs), n_resamples=0)
    # Published two-rater tables use the table forms of the variances (the pair entry).
    block = report["pairs"][0] if "table" in case else report["overall"]
    entry = block[case["metric"]]
    assert entry["se"] == pytest.approx(_published_se(case), abs=1e-6)
    assert entry["se_method"].startswith("analytic")
    if "statsmodels_ci95_normal" in case["extra"]:
        assert entry["se"] == pytest.approx(case["extra"]["statsmodels_ASE_FCE1969"], abs=1e-6)
        low, high = entry["analytic_ci"]
        sm_low, sm_high = case["extra"]["statsmodels_ci95_normal"]
        assert low == pytest.approx(sm_low, abs=1e-5)
        assert high == pytest.approx(min(sm_high, 1.0), abs=1e-5)


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    case = next(c for c in CASES if c["name"] == "fleiss1971_diagnoses")
    matrix = items_by_raters(case["data"])
    first = overall(matrix, resamples=300)["fleiss_kappa"]
    again = overall(matrix, resamples=300)["fleiss_kappa"]
    low, high = first["ci"]
    assert low < first["value"] < high
    assert first["ci"] == again["ci"]
    assert "bootstrap" in first["ci_method"] and "300 resamples" in first["ci_method"]
    # The bootstrap SE is close to the analytic (Gwet) one on 30 items.
    assert (high - low) / (2 * 1.96) == pytest.approx(first["se"], rel=0.35)
