"""Adjudication end to end: queue -> screen -> reason -> database rows -> gold in the export ->
gone from the queue -> undo, through the real CLI and the real app."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from db import Store
from db.labeling import LabelQueue
from db.labels import commit_label, record_meta, resolve_rubric
from reviewer.cli import cli
from reviewer.tui.screens.dialogs import ReasonDialog
from tests.factory import CLASSIFIER, fill, register_rubric
from tests.tui.conftest import screen_text, settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

RUBRIC = "goal_guarding"


def blind(store: Store, tid: int, rater: str, value: str) -> None:
    rubric = resolve_rubric(store, RUBRIC)
    commit_label(
        store,
        tid,
        annotator=rater,
        rubric_id=RUBRIC,
        rubric_hash=rubric.content_hash,
        values={"alignment_faking": value, "motivation": []},
    )


def disputed(store: Store) -> tuple[int, int, int]:
    """Item a: alice and bob disagree; item b: they agree; item c: a 2-1 split."""
    ids = fill(store, 6)
    digest = register_rubric(store, RUBRIC)
    a, b, c = ids[0], ids[1], ids[2]
    blind(store, a, "alice", "yes")
    blind(store, a, "bob", "no")
    blind(store, b, "alice", "no")
    blind(store, b, "bob", "no")
    for rater, value in (("alice", "yes"), ("bob", "yes"), ("erin", "no")):
        blind(store, c, rater, value)
    record_meta(
        store,
        a,
        annotator="bob",
        rubric_id=RUBRIC,
        rubric_hash=digest,
        kind="_comment",
        note="the model refuses in the last block",
    )
    return a, b, c


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def adjudications(store: Store) -> list[tuple]:
    return sorted(
        (e.transcript_id, e.field, e.value, e.source, e.rater, e.phase, e.note)
        for e in store.current_labels(source="adjudication")
    )


async def test_adjudication_from_queue_to_gold_and_out_of_the_queue(tmp_path):
    store = Store(tmp_path / "adj.db")
    a, b, c = disputed(store)
    db = str(store.path)
    out = run(
        "--db", db, "queue", "create", "settle", "--kind", "adjudication", "--annotator", "carol"
    )
    assert "created queue settle: adjudication under goal_guarding, NOT blind, 2 assignments" in out
    # the even 1-1 split comes before the 2-1 split; the agreed item is not queued
    assert LabelQueue(store, "carol", RUBRIC, "settle")._assigned == [a, c]

    from reviewer.tui.app import create_app
    from tests.tui.conftest import FakeClock

    app = create_app(store, annotator="carol", queue="settle", clock=FakeClock())
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert screen.mode == "ADJUDICATE" and screen.bundle.id == a
        shown = screen_text(app)
        for expected in (
            "human alice",
            "human bob",
            f"classifier {CLASSIFIER}",
            "the model refuses in the last block",
            "Your decision",
        ):
            assert expected in shown, expected

        await pilot.press("n", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReasonDialog)
        await pilot.press("enter")  # no reason: refused, the dialog stays
        await settle(app, pilot)
        assert isinstance(app.screen, ReasonDialog)
        assert adjudications(store) == []
        await pilot.press(*"bob quotes the refusal", "enter")
        await settle(app, pilot)

        reason = "bob quotes the refusal"
        assert adjudications(store) == [
            (a, "alignment_faking", "no", "adjudication", "carol", "adjudicated", reason),
            (a, "motivation", [], "adjudication", "carol", "adjudicated", reason),
        ]
        assert screen.bundle.id == c, "the next disputed item comes up"
        assert f"#{a}: decision saved" in screen.note

        export = tmp_path / "out.jsonl"
        run("--db", db, "export", "--format", "jsonl", "--out", str(export))
        rows = {r["transcript_id"]: r for r in map(json.loads, export.read_text().splitlines())}
        gold = rows[a]["gold"][RUBRIC]["alignment_faking"]
        assert (gold["value"], gold["status"], gold["raters"]) == ("no", "adjudicated", ["carol"])
        assert rows[b]["gold"][RUBRIC]["alignment_faking"]["status"] == "unanimous"

        assert LabelQueue(store, "carol", RUBRIC, "settle").next_entry().transcript_id == c
        again = CliRunner().invoke(
            cli, ["--db", db, *["queue", "create", "again", "--kind", "disagreement"]]
        )
        assert again.exit_code == 0, again.output
        left = LabelQueue(store, "anyone", RUBRIC, "again")._assigned
        assert a not in left and c in left, "the adjudicated item leaves disagreement queues too"

        from reviewer.agreement.store_fields import store_field_specs

        (spec,) = [s for s in store_field_specs(store, RUBRIC) if s.field == "alignment_faking"]
        assert "carol" not in spec.panel and sorted(spec.panel) == ["alice", "bob", "erin"]

        await pilot.press("u")  # undo the decision like any act
        await settle(app, pilot)
        assert adjudications(store) == []
        assert screen.bundle.id == a and screen.draft.values["alignment_faking"] == "no"
        assert LabelQueue(store, "carol", RUBRIC, "settle").next_entry().transcript_id == a


async def test_a_decision_needs_every_field_and_escape_saves_nothing(tmp_path):
    store = Store(tmp_path / "adj.db")
    a, _, _ = disputed(store)
    run("--db", str(store.path), "queue", "create", "settle", "--kind", "adjudication")
    from reviewer.tui.app import create_app
    from tests.tui.conftest import FakeClock

    app = create_app(store, annotator="carol", queue="settle", clock=FakeClock())
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.label_screen.note.startswith("choose the final alignment_faking first")
        await pilot.press("y", "enter", "escape")
        await settle(app, pilot)
        assert app.label_screen.note == "decision not saved (cancelled)"
        assert adjudications(store) == []


def test_adjudication_screen_snapshot(snap_compare, tmp_path):
    from reviewer.tui.app import create_app
    from tests.tui.conftest import FakeClock

    store = Store(tmp_path / "adj.db")
    disputed(store)
    run("--db", str(store.path), "queue", "create", "settle", "--kind", "adjudication")
    app = create_app(store, annotator="carol", queue="settle", clock=FakeClock())

    async def before(pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press("n")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=before)
