"""Coverage of the corrected intervals: a short run of bench/bench_coverage.py (fewer
repetitions, a lower bar), and the same simulation through the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bench import bench_coverage as sim
from db import Store
from reviewer.cli import cli
from tests.factory import label, register_rubric, transcript

pytestmark = pytest.mark.slow  # a coverage simulation


@pytest.fixture(scope="module")
def summary() -> dict:
    return sim.run(reps=30, seed=7)


@pytest.mark.parametrize("design", ["uniform", "group-stratified", "score-stratified", "tier-se"])
def test_known_designs_cover_and_beat_human_only(summary, design):
    e = summary[design]
    assert e["rate_corrected_coverage"] >= 0.88
    assert e["gap_corrected_coverage"] >= 0.85
    assert e["rate_corrected_width"] < summary["uniform"]["rate_human_width"]
    assert e["rate_classifier_coverage"] < 0.6  # the uncorrected classifier rate is biased


def test_near_threshold_design_is_withheld(summary):
    assert summary["near-threshold"]["corrected_withheld_share"] == 1.0


def _database(path, rng: np.random.Generator) -> tuple[Store, dict]:
    """The simulation's population in a real database, with classifier labels and scores."""
    store = Store(path)
    register_rubric(store, "goal_guarding")
    ids, attrs, truth, score = sim.population(rng, "score-stratified")
    records = [
        transcript(f"q{t}", model=attrs[t]["model"], condition=attrs[t]["condition"]) for t in ids
    ]
    store.insert_transcripts(records)
    stored = store.transcript_ids()
    by_sim = dict(zip(ids, stored, strict=True))
    for t in ids:
        label(
            store,
            by_sim[t],
            "yes" if score[t] >= 0.5 else "no",
            source="classifier",
            rater="clf",
            score=score[t],
        )
    return store, {by_sim[t]: truth[t] for t in ids}


def test_score_stratified_sample_through_the_cli_covers(tmp_path):
    """Queue, labels and analysis through the CLI, a few seeded repetitions: the corrected
    interval holds the true rate in most groups, and never prints a zero-width interval."""
    runner = CliRunner()
    hits, cells = 0, 0
    for rep in range(4):
        db = tmp_path / f"rep{rep}.db"
        store, truth = _database(db, np.random.default_rng([11, rep]))
        made = runner.invoke(
            cli,
            [
                "--db",
                str(db),
                *[
                    "queue",
                    "create",
                    "sample",
                    "--kind",
                    "score-stratified",
                    "--size",
                    "200",
                    "--seed",
                ],
                str(rep),
            ],
        )
        assert made.exit_code == 0, made.output
        from db.queues import queue_members

        for a in queue_members(store, "sample"):
            label(
                store,
                a.transcript_id,
                "yes" if truth[a.transcript_id] else "no",
                source="human",
                rater="ann",
                phase="blind",
            )
        store.close()
        result = runner.invoke(cli, ["--db", str(db), "analyze", "--json"])
        assert result.exit_code == 0, result.output
        (outcome,) = json.loads(result.output)["rubrics"][0]["outcomes"]
        assert outcome["design"]["source"] == "queue sample (score-stratified)"
        for g in outcome["groups"]:
            low, high = g["corrected"]["ci"]
            assert high - low > 0.02
            cells += 1
            hits += low <= sim.RATES[(g["model"], g["condition"])] <= high
    assert cells == 16 and hits >= 13
