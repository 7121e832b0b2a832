"""The audit of classifier errors end to end: a confusion-matrix cell -> the transcript in audit
mode -> a reason code -> the stats report and the export; and the errors queue."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, OptionList

from db import Store
from db.labeling import LabelQueue
from db.labels import error_reasons
from reviewer.cli import cli
from reviewer.tui.app import create_app
from reviewer.tui.screens.dialogs import ErrorReasonDialog
from reviewer.tui.screens.stats import StatsScreen, TranscriptListScreen
from tests.factory import add_rated
from tests.tui.conftest import FakeClock, settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

RUBRIC = "goal_guarding"


def fill(store: Store) -> dict[tuple[str, str], list[int]]:
    """Two humans who agree, classifier gpt with a quote, imported gold; returns the gold x gpt
    cells."""
    quote = [{"text": "Then I comply.", "start": 0, "end": 0}]
    return add_rated(store, scratchpad="I think about step {i}. Then I comply.", evidence=quote)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_confusion_cell_opens_its_transcripts_for_an_audit(tmp_path):
    store = Store(tmp_path / "audit.db")
    cells = fill(store)
    missed = cells[("yes", "no")]
    app = create_app(store, annotator="dana", clock=FakeClock())
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        app.open_stats()
        await settle(app, pilot)
        stats = app.screen
        assert isinstance(stats, StatsScreen)
        comparisons = stats.query_one("#stats-comparisons", OptionList)
        names = [
            str(comparisons.get_option_at_index(i).prompt) for i in range(comparisons.option_count)
        ]
        comparisons.highlighted = names.index("gpt vs gold")
        await pilot.pause()
        confusion = stats.query_one("#stats-confusion", DataTable)
        confusion.focus()
        confusion.cursor_coordinate = (0, 2)  # gold yes, gpt no: the misses
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TranscriptListScreen)
        await pilot.press("down", "enter")  # the second transcript of the cell
        await settle(app, pilot)

        audit = app.screen
        assert audit is not app.label_screen, "the audit opens over the labeler"
        assert audit.mode == "AUDIT" and audit.bundle.id == missed[1]
        (quote,) = audit.session.highlights()
        scratchpad = audit.bundle.transcript["scratchpad"]
        assert (
            quote.kind == "classifier" and scratchpad[quote.start : quote.end] == "Then I comply."
        )

        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorReasonDialog)
        await pilot.press("1", "enter", *"ignored step", "enter")
        await settle(app, pilot)
        assert app.screen is audit
        assert audit.bundle.id == missed[2], "the next transcript of the cell comes up"
        assert f"#{missed[1]}: error reason saved" in audit.note

        (event,) = error_reasons(store)
        assert (event.transcript_id, event.rater, event.source, event.note) == (
            missed[1],
            "dana",
            "human",
            "ignored step",
        )
        assert event.value == {
            "field": "alignment_faking",
            "classifier": "gpt",
            "said": "no",
            "reference": "yes",
            "codes": ["missed_decisive_passage"],
        }

        await pilot.press("u")  # undone like any act
        await settle(app, pilot)
        assert error_reasons(store) == [] and audit.bundle.id == missed[1]
        await pilot.press("r", "1", "3", "1", "enter", "enter")  # codes 3 only, no text
        await settle(app, pilot)
        (event,) = error_reasons(store)
        assert event.value["codes"] == ["sycophancy_read_as_goal_guarding"] and event.note is None
        await pilot.press("q")  # closes the audit, not the app
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, TranscriptListScreen)

    report = json.loads(
        run("--db", str(store.path), "stats", "--rubric", RUBRIC, "--json", "--resamples", "0")
    )
    assert report["error_reasons"] == [
        {
            "rubric_id": RUBRIC,
            "field": "alignment_faking",
            "classifier": "gpt",
            "category": "no",
            "items": 1,
            "examples": [missed[1]],
            "reference": {"yes": 1},
            "reasons": [
                {
                    "code": "sycophancy_read_as_goal_guarding",
                    "label": "read rater sycophancy as goal guarding",
                    "items": 1,
                    "examples": [missed[1]],
                }
            ],
            "texts": [],
        }
    ]
    text = run("--db", str(store.path), "stats", "--rubric", RUBRIC, "--resamples", "0")
    assert "Why the classifiers erred" in text and "read rater sycophancy as goal" in text

    out = tmp_path / "out.jsonl"
    run("--db", str(store.path), "export", "--format", "jsonl", "--out", str(out))
    rows = {r["transcript_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    (carried,) = rows[missed[1]]["error_reasons"]
    assert (carried["codes"], carried["classifier"], carried["auditor"]) == (
        ["sycophancy_read_as_goal_guarding"],
        "gpt",
        "dana",
    )
    assert all(r["error_reasons"] == [] for t, r in rows.items() if t != missed[1])


async def test_an_errors_queue_walks_a_classifiers_errors(tmp_path):
    store = Store(tmp_path / "audit.db")
    cells = fill(store)
    errors = sorted(cells[("yes", "no")] + cells[("no", "yes")])
    db = str(store.path)
    missing = CliRunner().invoke(cli, ["--db", db, *["queue", "create", "a", "--kind", "errors"]])
    assert missing.exit_code == 1 and "needs --rater CLASSIFIER" in missing.output
    unknown = CliRunner().invoke(
        cli, ["--db", db, *["queue", "create", "a", "--kind", "errors", "--rater", "nobody"]]
    )
    assert unknown.exit_code == 1 and "classifiers: gpt" in unknown.output
    out = run(
        "--db",
        db,
        "queue",
        "create",
        "audit",
        "--kind",
        "errors",
        "--rater",
        "gpt",
        "--annotator",
        "dana",
    )
    assert f"NOT blind, {len(errors)} assignments" in out
    queue = LabelQueue(store, "dana", RUBRIC, "audit")
    assert sorted(queue._assigned) == errors
    first = queue._assigned[0]

    app = create_app(store, annotator="dana", queue="audit", clock=FakeClock())
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert screen.mode == "AUDIT" and screen.bundle.id == first
        await pilot.press("r", "5", "enter", "enter")
        await settle(app, pilot)
        assert screen.bundle.id == queue._assigned[1]
    (event,) = error_reasons(store)
    assert event.transcript_id == first and event.value["codes"] == ["threshold_too_high"]
    assert LabelQueue(store, "dana", RUBRIC, "audit").next_entry().transcript_id != first
