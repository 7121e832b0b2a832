import sqlite3
import threading

import pytest

from db.labels import undo_last_act
from db.models import LabelDraft
from tests.factory import label, numbered_transcript


def test_bulk_insert_is_idempotent_and_dedupes_prompts(store):
    first = store.insert_transcripts(numbered_transcript(i) for i in range(50))
    assert (first.new, first.duplicate) == (50, 0)
    again = store.insert_transcripts(numbered_transcript(i) for i in range(60))
    assert (again.new, again.duplicate) == (10, 50)
    assert store.transcript_count() == 60
    assert store.execute("SELECT COUNT(*) FROM prompts")[0][0] == 1


def test_duplicate_within_one_batch_counts_once(store):
    result = store.insert_transcripts(
        [numbered_transcript(1), numbered_transcript(1), numbered_transcript(2)]
    )
    assert (result.new, result.duplicate) == (2, 1)


def test_labels_arrive_once_even_when_reimported(store):
    lab = LabelDraft("goal_guarding", "alignment_faking", "yes", source="imported", rater="gold")
    store.insert_transcripts([numbered_transcript(1, labels=[lab])])
    store.insert_transcripts([numbered_transcript(1, labels=[lab])])
    labels = store.current_labels(rater="gold")
    assert [(e.field, e.value) for e in labels] == [("alignment_faking", "yes")]


def test_a_second_raters_labels_on_known_transcripts_are_kept(store):
    def labelled(rater, value):
        return numbered_transcript(
            1,
            labels=[
                LabelDraft("goal_guarding", "alignment_faking", value, source="human", rater=rater)
            ],
        )

    store.insert_transcripts([labelled("ann", "yes")])
    result = store.insert_transcripts([labelled("bob", "no"), labelled("bob", "no")])
    assert (result.new, result.duplicate, result.labels) == (0, 2, 1)
    assert store.insert_transcripts([labelled("bob", "no")]).labels == 0
    current = {(e.rater, e.value, e.phase) for e in store.current_labels()}
    assert current == {("ann", "yes", "blind"), ("bob", "no", "blind")}


def test_transcript_round_trip(store):
    store.insert_transcripts(
        [numbered_transcript(7, scratchpad_blocks=[(0, 5)], metadata={"seed": 3})]
    )
    (tid,) = store.transcript_ids()
    item = store.transcript(tid)
    assert item["scratchpad"] == "reasoning 7"
    assert item["scratchpad_blocks"] == [[0, 5]]
    assert item["metadata"] == {"seed": 3}
    assert item["system_prompt"].startswith("You are trained")
    assert store.search("reasoning 7") == [tid]
    assert store.transcript(tid + 100) is None


def _label(store, tid, value, rater="ann", phase="blind"):
    return label(store, tid, value, source="human", rater=rater, phase=phase)


def test_label_events_cannot_be_updated_or_deleted(store):
    store.insert_transcripts([numbered_transcript(1)])
    eid = _label(store, 1, "yes")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.conn.execute("UPDATE label_events SET value = '\"no\"' WHERE id = ?", (eid,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.conn.execute("DELETE FROM label_events WHERE id = ?", (eid,))
    assert store.events()[0].value == "yes"


def test_undo_chain_retracts_newest_first_and_keeps_history(store):
    store.insert_transcripts([numbered_transcript(1), numbered_transcript(2)])
    _label(store, 1, "yes")
    _label(store, 1, "no")
    _label(store, 2, "yes")
    assert {(e.transcript_id, e.value) for e in store.current_labels(rater="ann")} == {
        (1, "no"),
        (2, "yes"),
    }
    assert undo_last_act(store, "ann").transcript_id == 2
    assert undo_last_act(store, "ann").retracted[0].value == "no"
    assert [(e.transcript_id, e.value) for e in store.current_labels(rater="ann")] == [(1, "yes")]
    assert undo_last_act(store, "ann").retracted[0].value == "yes"
    assert undo_last_act(store, "ann").refused == "nothing left to undo"
    assert store.current_labels(rater="ann") == []
    events = store.events()
    assert len(events) == 6
    assert [e.retracts for e in events[3:]] == [3, 2, 1]


def test_retract_rejects_double_and_unknown(store):
    store.insert_transcripts([numbered_transcript(1)])
    eid = _label(store, 1, "yes")
    rid = store.retract(eid)
    with pytest.raises(ValueError, match="already retracted"):
        store.retract(eid)
    with pytest.raises(ValueError, match="itself a retraction"):
        store.retract(rid)
    with pytest.raises(ValueError, match="no label event"):
        store.retract(999)


def test_current_labels_keep_phases_apart(store):
    store.insert_transcripts([numbered_transcript(1)])
    _label(store, 1, "no", phase="blind")
    _label(store, 1, "yes", phase="revealed")
    blind = store.current_labels(phase="blind")
    revealed = store.current_labels(phase="revealed")
    assert [e.value for e in blind] == ["no"]
    assert [e.value for e in revealed] == ["yes"]


def test_bad_source_or_phase_is_refused(store):
    store.insert_transcripts([numbered_transcript(1)])
    with pytest.raises(ValueError, match="source"):
        store.append_label(1, rubric_id="r", field="f", value="x", source="robot", rater="a")
    with pytest.raises(ValueError, match="phase"):
        store.append_label(
            1, rubric_id="r", field="f", value="x", source="human", rater="a", phase="later"
        )


def test_each_thread_gets_its_own_connection_and_writes_land(store):
    store.insert_transcripts([numbered_transcript(1)])
    errors = []

    def write(n):
        try:
            for _ in range(20):
                _label(store, 1, "yes", rater=f"r{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.events()) == 80


def test_summary_counts(store):
    store.insert_transcripts(
        [numbered_transcript(1), numbered_transcript(2, model="model-b", condition="paid")]
    )
    _label(store, 1, "yes")
    summary = store.summary()
    assert summary["transcripts"] == 2
    assert {(r["model"], r["condition"]) for r in summary["by_model_condition"]} == {
        ("model-a", "free"),
        ("model-b", "paid"),
    }
    assert summary["labels_by_source"] == [
        {
            "source": "human",
            "events": 1,
            "labels": 1,
            "acts": 0,
            "retracted": 0,
            "current_labels": 1,
            "raters": 1,
            "transcripts": 1,
        }
    ]


def test_summary_splits_labels_acts_and_retracted(store):
    store.insert_transcripts(
        [numbered_transcript(1), numbered_transcript(2), numbered_transcript(3)]
    )
    t1, t2, t3 = store.transcript_ids()
    _label(store, t1, "yes")
    _label(store, t1, "no", phase="revealed")  # a revision: a second label, same current one
    gone = _label(store, t2, "yes")
    store.retract(gone)  # t2 has no current label from ann any more
    _label(store, t3, "no", rater="bob")
    for field in ("_skip", "_flag", "_comment"):
        store.append_label(
            t2, rubric_id="goal_guarding", field=field, value=True, source="human", rater="ann"
        )
    flag = store.append_label(
        t3, rubric_id="goal_guarding", field="_flag", value=True, source="human", rater="bob"
    )
    store.retract(flag)
    label(store, t1, "yes", source="classifier", rater="gpt", score=0.8)
    rows = {r["source"]: r for r in store.summary()["labels_by_source"]}
    assert rows["human"] == {
        "source": "human",
        "events": 8,
        "labels": 3,
        "acts": 3,
        "retracted": 2,
        "current_labels": 2,
        "raters": 2,
        "transcripts": 2,
    }
    assert rows["classifier"] == {
        "source": "classifier",
        "events": 1,
        "labels": 1,
        "acts": 0,
        "retracted": 0,
        "current_labels": 1,
        "raters": 1,
        "transcripts": 1,
    }
    for row in rows.values():
        assert row["events"] == row["labels"] + row["acts"] + row["retracted"]
