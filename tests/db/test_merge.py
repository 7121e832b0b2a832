"""``reviewer merge``: two copies that went their own ways, merged into each other, hold the
same transcripts and the same live labels; merging again adds nothing; an annotator who
labeled one item differently in the two copies is reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store, labels
from db import classifier as cdb
from db.merge import MergeError, merge
from reviewer.cli import cli
from tests.factory import add_transcripts, register_rubric, transcript

RUBRIC = "goal_guarding"


def commit(store: Store, tid: int, rater: str, value: str, rubric_hash: str) -> None:
    labels.commit_label(
        store,
        tid,
        annotator=rater,
        rubric_id=RUBRIC,
        rubric_hash=rubric_hash,
        values={"alignment_faking": value},
    )


def new_transcripts(store: Store, tag: str, n: int) -> list[int]:
    before = set(store.transcript_ids())
    store.insert_transcripts(
        transcript(
            f"{tag} {i}",
            turns=[],
            scratchpad=f"{tag} reasons {i}",
            output=f"{tag} {i}",
            model=tag,
            condition="free",
        )
        for i in range(n)
    )
    return sorted(set(store.transcript_ids()) - before)


@pytest.fixture
def diverged(tmp_path: Path) -> tuple[Path, Path]:
    """A base database copied twice; each copy then gets its own work."""
    base = Store(tmp_path / "base.db")
    ids = add_transcripts(base, per_stratum=3)
    digest = register_rubric(base)
    commit(base, ids[0], "ann", "yes", digest)
    commit(base, ids[8], "ann", "no", digest)  # both copies will undo this one
    base.close()
    a_path, b_path = tmp_path / "a.db", tmp_path / "b.db"
    shutil.copy(tmp_path / "base.db", a_path)
    shutil.copy(tmp_path / "base.db", b_path)

    a = Store(a_path)
    assert labels.undo_last_act(a, "ann").retracted
    for tid in ids[1:5]:
        commit(a, tid, "ann", "yes", digest)
    commit(a, ids[5], "bob", "no", digest)
    run_id = cdb.create_run(
        a,
        name="clf-a",
        provider="openai",
        model="m",
        rubric_hash=digest,
        params={"key": "k"},
        prompt_hash="p",
        base_url=None,
        mode="online",
        max_cost_usd=None,
    )
    fresh_a = new_transcripts(a, "alpha", 3)
    for tid in [ids[2], *fresh_a]:
        labels.write_classifier_labels(
            a,
            [
                dict(
                    transcript_id=tid,
                    rubric_id=RUBRIC,
                    rubric_hash=digest,
                    field="alignment_faking",
                    value="yes",
                    rater="clf-a",
                    score=0.9,
                    run_id=run_id,
                )
            ],
        )
    a.close()

    b = Store(b_path)
    assert labels.undo_last_act(b, "ann").retracted
    commit(b, ids[2], "ann", "no", digest)  # ann labeled ids[2] 'yes' in a: a conflict
    for tid in ids[1:4]:
        commit(b, tid, "cy", "no", digest)
    fresh_b = new_transcripts(b, "beta", 2)
    commit(b, fresh_b[0], "cy", "yes", digest)
    cy_last = labels.last_live_act(b, "cy")
    labels.retract(b, cy_last.id, note="changed my mind")  # a retraction made in b only
    b.close()
    return a_path, b_path


def merged(tmp_path: Path, into: Path, other: Path, name: str) -> tuple[Store, object]:
    target = tmp_path / name
    shutil.copy(into, target)
    store = Store(target)
    return store, merge(store, other)


def uid_of(store: Store) -> dict[int, str]:
    return dict(store.execute("SELECT id, uid FROM transcripts"))


def current_by_uid(store: Store) -> set[tuple]:
    uids = uid_of(store)
    return {
        (
            uids[e.transcript_id],
            e.rubric_id,
            e.field,
            e.source,
            e.rater,
            e.phase,
            json.dumps(e.value),
        )
        for e in labels.current_labels(store)
    }


def test_two_diverged_copies_merged_both_ways_hold_the_same_live_labels(
    tmp_path: Path, diverged: tuple[Path, Path]
) -> None:
    a_path, b_path = diverged
    ab, report_ab = merged(tmp_path, a_path, b_path, "ab.db")
    ba, report_ba = merged(tmp_path, b_path, a_path, "ba.db")

    assert set(uid_of(ab).values()) == set(uid_of(ba).values())
    assert len(uid_of(ab)) == 12 + 3 + 2
    assert set(ab.execute("SELECT hash FROM rubrics")) == set(
        ba.execute("SELECT hash FROM rubrics")
    )
    assert labels.live_event_keys(ab) == labels.live_event_keys(ba)
    assert len(labels.live_event_keys(ab)) >= 14
    # The base label both copies undid stays undone, with one retraction, in both.
    assert report_ab.events.already_retracted == 1 and report_ba.events.already_retracted == 1
    # The one conflict is reported from both sides ...
    for store, report in ((ab, report_ab), (ba, report_ba)):
        assert [(c["rater"], sorted(c["values"])) for c in report.conflicts] == [
            ("ann", ["no", "yes"])
        ]
        conflict_uid = uid_of(store)[report.conflicts[0]["transcript_id"]]
    # ... and it is the only place the current labels (newest event wins) can differ.
    differ = current_by_uid(ab) ^ current_by_uid(ba)
    assert {d[0] for d in differ} <= {conflict_uid}
    # Classifier labels keep their run, under the run's own record here.
    runs = ba.execute("SELECT name, note FROM classifier_runs")
    assert [r[0] for r in runs] == ["clf-a"] and "merged from" in runs[0][1]
    assert (
        len(labels.run_labeled_transcripts(ba, ba.execute("SELECT id FROM classifier_runs")[0][0]))
        == 4
    )
    assert ab.search("beta reasons") and ba.search("alpha reasons")  # indexed for search


def test_merging_again_adds_nothing(tmp_path: Path, diverged: tuple[Path, Path]) -> None:
    a_path, b_path = diverged
    ab, first = merged(tmp_path, a_path, b_path, "ab.db")
    assert first.events.added > 0 and first.transcripts_new == 2
    events_before = labels.events(ab)
    again = merge(ab, b_path)
    assert again.events.added == 0 and again.transcripts_new == 0
    assert again.events.present + again.events.already_retracted == again.events.read
    assert labels.events(ab) == events_before
    assert ab.transcript_count() == 17
    # Merging a copy of itself adds nothing either.
    shutil.copy(ab.path, tmp_path / "same.db")
    assert merge(ab, tmp_path / "same.db").events.added == 0


def test_merge_refuses_what_it_cannot_merge_and_the_cli_reports(
    tmp_path: Path, diverged: tuple[Path, Path]
) -> None:
    a_path, b_path = diverged
    store = Store(a_path)
    with pytest.raises(MergeError, match="is this database"):
        merge(store, a_path)
    with pytest.raises(MergeError, match="no database at"):
        merge(store, tmp_path / "nothing.db")
    (tmp_path / "text.db").write_text("hello " * 200)
    with pytest.raises(MergeError, match="cannot be read as a database"):
        merge(store, tmp_path / "text.db")
    store.close()
    result = CliRunner().invoke(cli, ["--db", str(a_path), "merge", str(b_path)])
    assert result.exit_code == 0, result.output
    assert "label events:" in result.output and "1 conflict(s)" in result.output
    again = CliRunner().invoke(cli, ["--db", str(a_path), "merge", str(b_path), "--json"])
    assert json.loads(again.output)["label_events"]["new"] == 0
