"""Options that name a rater, rubric, field or queue refuse a name the database does not know,
exit non-zero and list the names it does know."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store
from reviewer.cli import cli
from reviewer.demo import build_demo


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("names") / "demo.db"
    store = Store(path)
    build_demo(store, size=60, seed=3)
    store.close()
    return path


def invoke(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args], terminal_width=200)


@pytest.mark.parametrize(
    ("args", "says", "lists"),
    [
        (
            ["analyze", "--classifier", "nosuch"],
            "no classifier labels by 'nosuch'",
            "classifiers with labels: demo-classifier",
        ),
        (
            ["analyze", "--rubric", "goal_guarding", "--classifier", "nosuch"],
            "under rubric goal_guarding",
            "demo-classifier",
        ),
        (
            ["analyze", "--rubric", "nosuch"],
            "no labels under rubric 'nosuch'",
            "compliance, goal_guarding",
        ),
        (
            ["stats", "--rubric", "nosuch"],
            "no labels for rubric 'nosuch'",
            "compliance, goal_guarding",
        ),
        (
            ["stats", "--field", "nosuch"],
            "no labels for field 'nosuch'",
            "goal_guarding.alignment_faking",
        ),
        (
            ["stats", "--rubric", "goal_guarding", "--field", "nosuch"],
            "field 'nosuch'",
            "labelled fields of goal_guarding: alignment_faking, motivation",
        ),
        (
            ["export", "--rubric", "nosuch", "--format", "csv", "--out", "x.csv"],
            "unknown rubric 'nosuch'",
            "compliance, goal_guarding",
        ),
        (
            ["label", "--queue", "nosuch", "--annotator", "ann"],
            "no queue named 'nosuch'",
            "queues: none yet",
        ),
        (
            ["label", "--rubric", "nosuch", "--annotator", "ann"],
            "no rubric 'nosuch'",
            "compliance, goal_guarding",
        ),
        (["queue", "show", "nosuch"], "no queue named 'nosuch'", "queues: none yet"),
        (
            [
                "queue",
                "create",
                "q",
                "--kind",
                "uncertain",
                "--field",
                "nosuch",
                "--annotator",
                "a",
                "--size",
                "2",
            ],
            "no field 'nosuch'",
            "alignment_faking, motivation",
        ),
        (
            ["classify", "--rubric", "nosuch", "--model", "openai:x"],
            "no rubric 'nosuch'",
            "compliance, goal_guarding",
        ),
        (
            ["classify", "--rubric", "compliance", "--model", "mistral:large"],
            "unknown provider 'mistral'",
            "anthropic, openai",
        ),
    ],
)
def test_an_unknown_name_is_refused_with_the_known_ones(demo_db, args, says, lists):
    result = invoke(demo_db, *args)
    assert result.exit_code == 1, result.output
    assert says in result.output and lists in result.output


def test_a_known_classifier_is_accepted_and_an_annotator_outside_a_queue_is_not(demo_db):
    result = invoke(demo_db, "analyze", "--classifier", "demo-classifier:gpt-4o-20v", "--json")
    assert result.exit_code == 0, result.output
    assert '"classifier": "demo-classifier:gpt-4o-20v"' in result.output
    created = invoke(
        demo_db,
        "queue",
        "create",
        "pairs",
        "--kind",
        "random",
        "--annotator",
        "ann",
        "--annotator",
        "bob",
        "--size",
        "2",
    )
    assert created.exit_code == 0, created.output
    result = invoke(demo_db, "queue", "show", "pairs", "--annotator", "carol")
    assert result.exit_code == 1
    assert "no assignments for 'carol'" in result.output and "ann, bob" in result.output
    result = invoke(demo_db, "queue", "show", "nosuch")
    assert result.exit_code == 1 and "(queues: pairs)" in result.output
