"""What a score is a score for: AUROC and average precision for either category of a binary
field, on a ratings CSV and on the database, checked against scikit-learn."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from db import Store
from reviewer.cli import cli
from tests.factory import label, register_rubric, transcript

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "af_ratings.csv"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _versus(report: dict, rater: str, reference: str, field: str | None = None) -> dict:
    fields = [f for f in report["fields"] if field is None or f["field"] == field]
    return next(
        v
        for f in fields
        for v in f["versus_reference"]
        if v["rater"] == rater and v["reference"] == reference
    )


def _csv_report(path: Path, *extra: str) -> dict:
    code, out = run("stats", "--ratings", str(path), "--resamples", "0", "--json", *extra)
    assert code == 0, out
    return json.loads(out)


def _example_truth_and_scores(rater: str = "gpt-4o", reference: str = "gold"):
    """The reference labels and the rater's scores on the items both have, read directly."""
    with EXAMPLE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = {r["item"]: r["value"] for r in rows if r["rater"] == reference}
    scores = {r["item"]: float(r["score"]) for r in rows if r["rater"] == rater and r["score"]}
    items = [i for i in labels if i in scores]
    return np.array([labels[i] for i in items]), np.array([scores[i] for i in items])


def test_example_default_scores_are_for_yes():
    labels, score = _example_truth_and_scores()
    entry = _versus(_csv_report(EXAMPLE), "gpt-4o", "gold")
    assert entry["positive"] == "yes"
    assert entry["auroc"] == pytest.approx(roc_auc_score(labels == "yes", score))
    assert entry["average_precision"] == pytest.approx(
        average_precision_score(labels == "yes", score)
    )


def test_example_positive_no_uses_the_complement_of_the_yes_scores():
    labels, score = _example_truth_and_scores()
    report = _csv_report(EXAMPLE, "--positive", "no")
    entry = _versus(report, "gpt-4o", "gold")
    assert entry["positive"] == "no"
    expected = roc_auc_score(labels == "no", 1 - score)
    assert entry["auroc"] == pytest.approx(expected)
    assert entry["auroc"] > 0.9  # the yes-fractions rank the yes items well
    # the ranking is the same one, seen from the other class
    assert entry["auroc"] == pytest.approx(1 - roc_auc_score(labels == "no", score))
    assert entry["average_precision"] == pytest.approx(
        average_precision_score(labels == "no", 1 - score)
    )
    assert any("1 - score" in w for w in report["fields"][0]["warnings"])
    for human in ("ann", "bob"):
        h_labels, h_score = _example_truth_and_scores(reference=human)
        assert _versus(report, "gpt-4o", human)["auroc"] == pytest.approx(
            roc_auc_score(h_labels == "no", 1 - h_score)
        )


def test_score_for_says_the_scores_are_no_fractions():
    labels, score = _example_truth_and_scores()
    same = _versus(_csv_report(EXAMPLE, "--positive", "no", "--score-for", "no"), "gpt-4o", "gold")
    assert same["auroc"] == pytest.approx(roc_auc_score(labels == "no", score))
    flipped = _versus(_csv_report(EXAMPLE, "--score-for", "no"), "gpt-4o", "gold")
    assert flipped["positive"] == "yes"
    assert flipped["auroc"] == pytest.approx(roc_auc_score(labels == "yes", 1 - score))


def _ordinal_csv(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    cats = ["refused", "partial", "full"]
    truth = rng.integers(0, 3, 40)
    lines = ["item,rater,value,score"]
    partial_scores = []
    for i, t in enumerate(truth):
        s = round(float(np.clip(0.5 * (t == 1) + rng.random() * 0.6, 0, 1)), 3)
        partial_scores.append(s)
        lines.append(f"t{i},gold,{cats[t]},")
        lines.append(f"t{i},clf,{cats[rng.integers(0, 3)]},{s}")
    path = tmp_path / "ordinal.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, truth == 1, np.array(partial_scores)


def test_more_than_two_categories_need_the_scored_category(tmp_path):
    path, is_partial, score = _ordinal_csv(tmp_path)
    code, out = run(
        "stats", "--ratings", str(path), "--positive", "partial", "--score-for", "full", "--json"
    )
    assert code != 0
    assert "ordinal.csv" in out and "'full'" in out and "'partial'" in out
    assert "--score-for partial" in out
    entry = _versus(
        _csv_report(path, "--positive", "partial", "--score-for", "partial"), "clf", "gold"
    )
    assert entry["auroc"] == pytest.approx(roc_auc_score(is_partial, score))
    # without --score-for a field with no yes-like category scores the --positive category
    default = _versus(_csv_report(path, "--positive", "partial"), "clf", "gold")
    assert default["auroc"] == pytest.approx(entry["auroc"])


def test_score_for_errors_name_the_problem(tmp_path, store):
    code, out = run("stats", "--ratings", str(EXAMPLE), "--score-for", "maybe")
    assert code != 0 and "af_ratings.csv" in out and "'maybe'" in out and "yes" in out
    unscored = tmp_path / "plain.csv"
    unscored.write_text("item,rater,value\n1,a,yes\n1,b,no\n")
    code, out = run("stats", "--ratings", str(unscored), "--score-for", "yes")
    assert code != 0 and "plain.csv" in out and "score column" in out
    code, out = run("--db", str(store.path), "stats", "--score-for", "yes")
    assert code != 0 and "--score-for" in out and "--ratings" in out


def _store_with_classifier(store: Store, *, with_scores: bool) -> tuple[np.ndarray, np.ndarray]:
    register_rubric(store, "goal_guarding")
    store.insert_transcripts(
        [
            transcript(f"q{i}", scratchpad=f"r{i}", output=f"a{i}", model="m", condition="free")
            for i in range(24)
        ]
    )
    rng = np.random.default_rng(9)
    truths, scores = [], []
    for tid in store.transcript_ids():
        truth = bool(rng.random() < 0.4)
        yes = round(float(np.clip(0.45 * truth + rng.random() * 0.6, 0, 1)), 3)
        truths.append(truth)
        scores.append(yes)
        label(
            store,
            tid,
            "yes" if yes >= 0.5 else "no",
            source="classifier",
            rater="clf",
            score=yes,
            scores={"yes": yes, "no": 1 - yes} if with_scores else None,
        )
        label(store, tid, "yes" if truth else "no", source="imported", rater="gold")
    return np.array(truths), np.array(scores)


@pytest.mark.parametrize("with_scores", [True, False], ids=["scores", "score-only"])
def test_database_positive_no_matches_scikit_learn(store, with_scores):
    truth, yes = _store_with_classifier(store, with_scores=with_scores)
    for positive, expected_truth, expected_score in (
        (None, truth, yes),
        ("yes", truth, yes),
        ("no", ~truth, 1 - yes),
    ):
        extra = ("--positive", positive) if positive else ()
        code, out = run(
            "--db",
            str(store.path),
            "stats",
            "--rubric",
            "goal_guarding",
            "--field",
            "alignment_faking",
            "--resamples",
            "0",
            "--json",
            *extra,
        )
        assert code == 0, out
        entry = _versus(json.loads(out), "clf", "gold")
        assert entry["positive"] == (positive or "yes")
        assert entry["auroc"] == pytest.approx(roc_auc_score(expected_truth, expected_score))
        assert entry["average_precision"] == pytest.approx(
            average_precision_score(expected_truth, expected_score)
        )
