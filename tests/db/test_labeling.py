"""The labeling acts and queue order in db/labeling.py, without the app."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from db.labeling import LabelQueue, SeededOrder, next_item
from db.labels import acted_ids, commit_label, record_meta, undo_last_act
from reviewer.cli import cli
from tests.factory import fill, labeler_transcript


@pytest.mark.parametrize("n", [1, 2, 3, 10, 257, 1000])
def test_seeded_order_is_a_permutation(n):
    order = SeededOrder(n, "0:alice")
    ids = [order.id_at(i) for i in range(n)]
    assert sorted(ids) == list(range(1, n + 1))


def test_seeded_order_depends_on_the_key():
    a = [SeededOrder(500, "0:alice").id_at(i) for i in range(50)]
    b = [SeededOrder(500, "0:bob").id_at(i) for i in range(50)]
    c = [SeededOrder(500, "1:alice").id_at(i) for i in range(50)]
    assert a != b and a != c
    assert a == [SeededOrder(500, "0:alice").id_at(i) for i in range(50)]


def test_next_item_skips_labeled_and_skipped_items(store):
    fill(store, 6)
    first = next_item(store, "ann", "goal_guarding")
    commit_label(
        store,
        first,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "no", "motivation": []},
    )
    second = next_item(store, "ann", "goal_guarding")
    record_meta(
        store, second, annotator="ann", rubric_id="goal_guarding", rubric_hash=None, kind="_skip"
    )
    third = next_item(store, "ann", "goal_guarding")
    assert len({first, second, third}) == 3
    labeled, skipped = acted_ids(store, "ann", "goal_guarding")
    assert labeled | set(skipped) == {first, second}
    assert acted_ids(store, "ann", "compliance") == (set(), {})
    undo_last_act(store, "ann")
    assert next_item(store, "ann", "goal_guarding") == second


def test_blind_commit_on_a_labeled_item_records_reveal_and_freezes(store):
    fill(store, 2)
    result = commit_label(
        store,
        1,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "yes"},
        seconds=3.5,
    )
    assert result.phase == "blind" and result.revealed
    refused = undo_last_act(store, "ann")
    assert refused.refused and "frozen" in refused.refused and refused.retracted == []
    again = commit_label(
        store,
        1,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "no"},
    )
    assert again.phase == "revealed"
    undone = undo_last_act(store, "ann")
    assert [e.id for e in undone.retracted] == again.event_ids


def test_one_commit_is_one_undo(store):
    store.insert_transcripts([labeler_transcript(0, labels=[])])
    result = commit_label(
        store,
        1,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "yes", "motivation": ["other"]},
        evidence=[
            {"field": "motivation", "category": "other", "start": 0, "end": 3, "text": "The"}
        ],
    )
    assert result.phase == "blind" and not result.revealed
    events = store.events(rater="ann")
    assert [e.evidence for e in events] == [
        None,
        [{"field": "motivation", "category": "other", "start": 0, "end": 3, "text": "The"}],
    ]
    assert len({e.created_at for e in events}) == 1
    undone = undo_last_act(store, "ann")
    assert sorted(e.id for e in undone.retracted) == sorted(result.event_ids)
    assert undo_last_act(store, "ann").refused == "nothing left to undo"


def test_named_queue_counts(store):
    fill(store, 5)
    with store.transaction() as db:
        db.conn.execute("INSERT INTO queues(name, kind, created_at) VALUES ('q', 'random', 'x')")
        db.conn.executemany(
            "INSERT INTO assignments(queue, annotator, transcript_id, position, reason, "
            "created_at) VALUES ('q', ?, ?, ?, 'random', 'x')",
            [("", 3, 0), ("ann", 1, 1), ("", 1, 2), ("zoe", 2, 3)],
        )
    queue = LabelQueue(store, "ann", "goal_guarding", "q")
    assert [e.transcript_id for e in queue.entries()] == [3, 1]
    assert queue.total == 2 and queue.done_count == 0 and queue.reason == "random"


def test_label_command_reports_bad_input(tmp_path, store):
    runner = CliRunner()
    missing = runner.invoke(cli, ["--db", str(tmp_path / "none.db"), "label"])
    assert missing.exit_code != 0 and "no database at" in missing.output
    fill(store, 2)
    db = str(store.path)
    bad_rubric = runner.invoke(cli, ["--db", db, "label", "--rubric", "nope"])
    assert bad_rubric.exit_code != 0 and "no rubric 'nope'" in bad_rubric.output
    bad_queue = runner.invoke(cli, ["--db", db, "label", "--queue", "nope"])
    assert bad_queue.exit_code != 0 and "no queue named 'nope'" in bad_queue.output
    helped = runner.invoke(cli, ["label", "--help"])
    assert (
        helped.exit_code == 0 and "--no-blind" in helped.output and "--annotator" in helped.output
    )


def test_undo_passes_over_a_frozen_blind_label(store):
    """Acts made before a frozen blind label can still be undone, newest first."""
    fill(store, 3)
    meta = dict(annotator="ann", rubric_id="goal_guarding", rubric_hash=None)
    flag = record_meta(store, 2, kind="_flag", **meta)
    comment = record_meta(store, 2, kind="_comment", note="unclear", **meta)
    skip = record_meta(store, 2, kind="_skip", **meta)
    blind = commit_label(store, 1, values={"alignment_faking": "yes"}, **meta)
    assert blind.revealed
    undone = [undo_last_act(store, "ann") for _ in range(3)]
    assert [[e.id for e in u.retracted] for u in undone] == [[skip], [comment], [flag]]
    assert all(u.refused is None and u.frozen == [1] for u in undone)
    assert "#1 stays frozen" in undone[0].frozen_note
    last = undo_last_act(store, "ann")
    assert last.retracted == [] and "nothing left to undo" in last.refused
    assert "#1 stays frozen" in last.refused
    live = [e for e in store.current_labels(rater="ann") if not e.field.startswith("_")]
    assert [e.id for e in live] == blind.event_ids
    # A revision of the frozen item is undone as usual.
    revision = commit_label(store, 1, values={"alignment_faking": "no"}, **meta)
    assert revision.phase == "revealed"
    assert [e.id for e in undo_last_act(store, "ann").retracted] == revision.event_ids


def test_label_refuses_a_queue_with_nothing_assigned_to_the_annotator(store):
    from db.queues import create_queue

    fill(store, 4)
    create_queue(
        store, "cal", kind="random", assignments=[("ann", 1, "random"), ("ann", 2, "random")]
    )
    result = CliRunner().invoke(
        cli, ["--db", str(store.path), *["label", "--annotator", "dana", "--queue", "cal"]]
    )
    assert result.exit_code == 1
    assert "queue cal has no assignments for dana (assigned to: ann)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["", "   "])
def test_label_refuses_an_empty_annotator(store, name):
    fill(store, 2)
    result = CliRunner().invoke(cli, ["--db", str(store.path), "label", "--annotator", name])
    assert result.exit_code == 1
    assert "--annotator is empty" in result.output and "Traceback" not in result.output


def test_label_refuses_a_file_that_is_not_sqlite(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n")
    result = CliRunner().invoke(cli, ["--db", str(path), "label", "--annotator", "ann"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{path} is not a reviewer database" in result.output
    assert path.read_text() == "these are my notes, not a database\n"
