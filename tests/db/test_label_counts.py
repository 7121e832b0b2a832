"""The counts ``reviewer info`` shows are kept by triggers as events are appended: they must
equal a recount of the events after every kind of act, on a new database and on one migrated
from the first release, and ``reviewer doctor`` must notice and repair counts that drifted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db import Store, labels
from db.doctor import OK, PROBLEM, examine, repair
from db.schema import recount_transcripts, transcript_counts
from tests.db.test_label_columns import busy_store  # noqa: F401  (a fixture)
from tests.db.test_migrations import FIXTURE


def _kept_and_counted(store: Store) -> tuple[list, list]:
    conn = store.db.conn
    return labels.stored_event_counts(conn), labels.recount_events(conn)


def test_counts_follow_every_kind_of_act(busy_store: Store) -> None:  # noqa: F811
    kept, counted = _kept_and_counted(busy_store)
    assert kept == counted
    by_source = {row[0]: row for row in kept}
    # Humans with a live label: ann, bob, gold, dan (an empty value) and the odd name; cat's
    # only label was retracted.
    assert by_source["human"][6] == 5
    # Retracted: cat's label (bob's blind labels were frozen by the reveal: undo passed them).
    assert by_source["human"][4] == 1
    # A retraction of a retraction and a second undo change nothing they should not.
    labels.undo_last_act(busy_store, "ann")
    labels.undo_last_act(busy_store, "ann")
    kept, counted = _kept_and_counted(busy_store)
    assert kept == counted
    conn = busy_store.db.conn
    assert transcript_counts(conn) == recount_transcripts(conn) != []
    info = busy_store.summary()["labels_by_source"]
    assert [tuple(r.values()) for r in info] == counted


def test_a_first_release_database_is_counted_when_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    store = Store(path)
    kept, counted = _kept_and_counted(store)
    assert kept == counted and sum(r[1] for r in kept) > 0
    labels.undo_last_act(store, "ann")
    assert _kept_and_counted(store)[0] == _kept_and_counted(store)[1]
    store.close()


def test_doctor_recounts_counts_that_drifted(busy_store: Store) -> None:  # noqa: F811
    path = busy_store.path
    with busy_store.transaction() as db:
        db.conn.execute("UPDATE label_counts SET labels = labels + 5 WHERE source = 'human'")
    busy_store.close()
    before = examine(path)
    assert before.check("label counts").status == PROBLEM
    assert "recounted the label events and transcripts that info shows" in repair(path, before)
    assert examine(path).check("label counts").status == OK


def test_a_bulk_demo_build_keeps_the_counts_a_recount_gives(tmp_path: Path, monkeypatch) -> None:
    from reviewer import demo as demo_mod
    from reviewer.demo import build_demo

    monkeypatch.setattr(demo_mod, "CHUNK", 170)  # several chunks and batches
    store = Store(tmp_path / "demo.db")
    build_demo(store, size=500, seed=3)
    kept, counted = _kept_and_counted(store)
    assert kept == counted and kept[0][1] == 1500
    conn = store.db.conn
    assert transcript_counts(conn) == recount_transcripts(conn)
    # and the trigger is back for the labels that come after
    labels.commit_label(
        store,
        1,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "no"},
    )
    assert _kept_and_counted(store)[0] == _kept_and_counted(store)[1]
    assert conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'label_counts_append'"
    ).fetchone() == (1,)


def test_bulk_counts_of_awkward_rows_equal_a_recount(tmp_path: Path) -> None:
    from tests.factory import labeler_transcript

    store = Store(tmp_path / "b.db")
    store.insert_transcripts([labeler_transcript(i, labels=[]) for i in range(4)])
    ids = store.transcript_ids()

    def row(tid: int, field_id: str, value: str | None, source: str, rater: str) -> tuple:
        # (transcript_id, *STAGED_LABEL_COLUMNS): no score, scores, evidence or note
        return (tid, "goal_guarding", field_id, value, source, rater, None, None, None, None)

    rows = [
        # two values for one (transcript, rubric, field, rater, source): one combination
        row(ids[0], "alignment_faking", '"yes"', "classifier", "c1"),
        row(ids[0], "alignment_faking", '"no"', "classifier", "c1"),
        row(ids[0], "motivation", '["x"]', "classifier", "c1"),
        row(ids[0], "alignment_faking", '"no"', "classifier", "c2"),
        # an act (a meta field) counts as an act, not a label, and gives no transcript
        row(ids[1], "_flag", None, "human", "ann"),
        row(ids[2], "alignment_faking", '"yes"', "imported", "gold"),
        row(ids[2], "alignment_faking", '"yes"', "classifier", "c1"),
    ]
    with store.transaction() as db:
        labels.insert_labels_of_new_transcripts(
            db.conn, rows, rubric_hashes={}, import_id=None, created_at="2026-01-01T00:00:00Z"
        )
    kept, counted = _kept_and_counted(store)
    assert kept == counted
    assert {r[0]: r[5] for r in kept} == {"classifier": 4, "human": 0, "imported": 1}


def test_an_import_counts_labels_of_new_and_known_transcripts_as_a_recount(
    tmp_path: Path,
) -> None:
    """The copy counts the labels of the transcripts it has just added at once (the trigger
    set aside) and those of known transcripts by the trigger: both must agree with a recount,
    add no label twice, and leave the trigger in place."""
    from db.models import LabelDraft
    from tests.factory import labeler_transcript

    def draft(value, *, rater="c1", source="classifier", field_id="alignment_faking"):
        return LabelDraft("goal_guarding", field_id, value, source=source, rater=rater)

    store = Store(tmp_path / "i.db")
    first = store.insert_transcripts([labeler_transcript(i, labels=[draft("yes")]) for i in (0, 1)])
    assert (first.new, first.labels) == (2, 2)
    known_again = labeler_transcript(
        0, labels=[draft("yes"), draft("no", rater="ann", source="human")]
    )
    new_twice = [
        draft("yes"),
        draft("no"),
        draft(None, rater="ann", source="human", field_id="_flag"),
    ]
    second = store.insert_transcripts(
        [
            known_again,  # one label stored already, one new
            labeler_transcript(2, labels=new_twice),  # two values of one field, and an act
            labeler_transcript(2, labels=[*new_twice, draft("no", rater="c2")]),  # within-file copy
            labeler_transcript(3, labels=[]),
        ]
    )
    assert (second.new, second.duplicate, second.labels) == (2, 2, 5)
    kept, counted = _kept_and_counted(store)
    assert kept == counted
    events = {r[0]: r[1] for r in kept}
    assert events == {"classifier": 5, "human": 2}
    assert store.db.conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'label_counts_append'"
    ).fetchone() == (1,)
    # and a repeat adds nothing
    again = store.insert_transcripts([known_again, labeler_transcript(2, labels=new_twice)])
    assert (again.new, again.labels) == (0, 0)
    assert _kept_and_counted(store)[0] == _kept_and_counted(store)[1]
