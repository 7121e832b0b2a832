"""``reviewer analyze``: rates three ways, the Rogan-Gladen correction, and the free-paid gap."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from db import Store
from db.models import TranscriptRecord
from reviewer.analysis import motivation_analysis
from reviewer.cli import cli
from rubrics import resolve_rubric


def fill(store: Store) -> dict:
    """Two models x free/paid; gold alignment-faking labels and a classifier that misses some
    positives and flags some negatives. Returns what the data were built from."""
    rubric = resolve_rubric("goal_guarding")
    store.register_rubric(rubric.id, rubric.version, rubric.source_text, rubric.content_hash,
                          rubric.origin)  # fmt: skip
    rng = np.random.default_rng(1)
    built = {}
    for model, rates in (("m1", {"free": 0.5, "paid": 0.1}), ("m2", {"free": 0.3, "paid": 0.3})):
        for condition, rate in rates.items():
            n = 80
            records = [
                TranscriptRecord(user_input=f"{model}{condition}{i}", scratchpad="s", output="o",
                                 turns=[{"role": "user", "content": f"{model}{condition}{i}"}],
                                 model=model, condition=condition)
                for i in range(n)
            ]  # fmt: skip
            store.insert_transcripts(records)
            ids = store.transcript_ids(model=model, condition=condition)
            truth = rng.random(n) < rate
            flag = np.where(truth, rng.random(n) < 0.8, rng.random(n) < 0.1)
            for tid, t, f in zip(ids, truth, flag, strict=True):
                store.append_label(tid, rubric_id="goal_guarding", field="alignment_faking",
                                   value="yes" if t else "no", source="imported", rater="gold")  # fmt: skip
                store.append_label(tid, rubric_id="goal_guarding", field="alignment_faking",
                                   value="yes" if f else "no", source="classifier", rater="clf",
                                   score=0.9 if f else 0.1)  # fmt: skip
            built[(model, condition)] = (truth, flag)
    return built


def test_rates_three_ways_and_rogan_gladen(store):
    built = fill(store)
    report = motivation_analysis(store, ["goal_guarding"], n_resamples=400)
    (outcome,) = report["rubrics"][0]["outcomes"]
    assert outcome["outcome"] == "alignment_faking=yes" and outcome["classifier"] == "clf"
    truth = np.concatenate([t for t, _ in built.values()])
    flag = np.concatenate([f for _, f in built.values()])
    sens = flag[truth].mean()
    spec = (~flag[~truth]).mean()
    v = outcome["validation"]
    assert v["n_items"] == 320 and v["reference"] == "reference labels (gold)"
    assert v["sensitivity"] == pytest.approx(sens) and v["specificity"] == pytest.approx(spec)
    for g in outcome["groups"]:
        t, f = built[(g["model"], g["condition"])]
        assert g["classifier"]["value"] == pytest.approx(f.mean())
        assert g["human"]["value"] == pytest.approx(t.mean())
        expected = min(1, max(0, (f.mean() + spec - 1) / (sens + spec - 1)))
        assert g["corrected"]["value"] == pytest.approx(expected)
        low, high = g["corrected"]["ci"]
        assert low <= g["corrected"]["value"] <= high
    gaps = {g["model"]: g for g in outcome["gap_free_minus_paid"]}
    t_free, f_free = built[("m1", "free")]
    t_paid, f_paid = built[("m1", "paid")]
    assert gaps["m1"]["human"]["value"] == pytest.approx(t_free.mean() - t_paid.mean())
    assert gaps["m1"]["classifier"]["value"] == pytest.approx(f_free.mean() - f_paid.mean())
    # Unclipped, the correction is linear: the gap is the classifier's gap / (sens + spec - 1).
    assert gaps["m1"]["corrected"]["value"] == pytest.approx(
        (f_free.mean() - f_paid.mean()) / (sens + spec - 1)
    )
    assert gaps["m1"]["corrected"]["ci"][0] > 0  # m1 really fakes alignment more when free
    low, high = gaps["m2"]["human"]["ci"]
    assert low < 0 < high  # m2 does not


def test_without_human_labels_the_correction_explains(store):
    fill(store)
    report = motivation_analysis(store, ["goal_guarding"], classifier="nobody", n_resamples=50)
    (outcome,) = report["rubrics"][0]["outcomes"]
    group = outcome["groups"][0]
    assert group["classifier"]["value"] is None
    assert group["classifier"]["reason"] == "no classifier labels"
    assert group["corrected"]["value"] is None
    assert "need human or gold labels" in group["corrected"]["reason"]


def test_cli_json_and_table(store):
    fill(store)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(store.path), "analyze", "--resamples", "100",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["rubric"] for r in report["rubrics"]] == ["goal_guarding"]
    result = runner.invoke(cli, ["--db", str(store.path), "analyze", "--resamples", "100"])
    assert result.exit_code == 0, result.output
    assert "free - paid" in result.output and "sensitivity" in result.output


def _sparse(store: Store) -> None:
    """A classifier labels 30 items of one model; a human labels one of them; one transcript
    has no model or condition."""
    rubric = resolve_rubric("goal_guarding")
    store.register_rubric(rubric.id, rubric.version, rubric.source_text, rubric.content_hash,
                          rubric.origin)  # fmt: skip
    records = [
        TranscriptRecord(user_input=f"q{i}", scratchpad="s", output="o",
                         turns=[{"role": "user", "content": f"q{i}"}], model="m", condition="free")
        for i in range(30)
    ]  # fmt: skip
    records.append(TranscriptRecord(user_input="orphan", scratchpad="s", output="o",
                                    turns=[{"role": "user", "content": "orphan"}]))  # fmt: skip
    store.insert_transcripts(records)
    ids = store.transcript_ids()
    for tid in ids[:30]:
        store.append_label(tid, rubric_id="goal_guarding", field="alignment_faking", value="yes",
                           source="classifier", rater="clf", score=0.9)  # fmt: skip
    store.append_label(ids[0], rubric_id="goal_guarding", field="alignment_faking", value="yes",
                       source="human", rater="ann", phase="blind")  # fmt: skip
    store.append_label(ids[30], rubric_id="goal_guarding", field="alignment_faking", value="no",
                       source="human", rater="ann", phase="blind")  # fmt: skip


def test_table_gives_each_source_its_own_n_and_explains_dashes(store):
    _sparse(store)
    result = CliRunner().invoke(cli, ["--db", str(store.path), "analyze", "--rubric",
                                      "goal_guarding", "--resamples", "50"])  # fmt: skip
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ m "))
    assert "n=30" in row and "n=1" in row  # classifier on 30 items, human on 1
    orphan = next(line for line in result.output.splitlines() if line.startswith("│ ? "))
    assert "None" not in result.output and "│ ? " in orphan
    assert "— (1)" in orphan
    assert "(1) no classifier labels" in result.output
    # every footnote number used in a cell is explained under the table
    used = {int(m) for m in re.findall(r"— \((\d+)\)", result.output)}
    explained = {int(m) for m in re.findall(r"^\((\d+)\) ", result.output, re.MULTILINE)}
    assert used and used == explained


def test_unknown_rubric_is_an_error_listing_labelled_ones(store):
    _sparse(store)
    result = CliRunner().invoke(cli, ["--db", str(store.path), "analyze", "--rubric", "nosuch"])
    assert result.exit_code == 1
    assert "nosuch" in result.output and "goal_guarding" in result.output
    assert "Intervals" not in result.output


def test_gap_says_which_condition_lacks_an_estimate(store):
    _sparse(store)
    extra = [TranscriptRecord(user_input=f"p{i}", scratchpad="s", output="o",
                              turns=[{"role": "user", "content": f"p{i}"}], model="m",
                              condition="paid") for i in range(4)]  # fmt: skip
    before = set(store.transcript_ids())
    store.insert_transcripts(extra)
    for tid in sorted(set(store.transcript_ids()) - before):
        store.append_label(tid, rubric_id="goal_guarding", field="alignment_faking", value="no",
                           source="classifier", rater="clf", score=0.1)  # fmt: skip
    report = motivation_analysis(store, ["goal_guarding"], n_resamples=50)
    (outcome,) = report["rubrics"][0]["outcomes"]
    (gap,) = outcome["gap_free_minus_paid"]
    assert gap["classifier"]["value"] == pytest.approx(1.0)
    assert gap["classifier"]["n_free"] == 30 and gap["classifier"]["n_paid"] == 4
    assert gap["human"]["value"] is None
    assert gap["human"]["reason"] == "no paid estimate: no human or gold labels"
