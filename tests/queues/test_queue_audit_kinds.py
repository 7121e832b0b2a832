"""The queue kinds of adjudication and audit: which items, in which order, and why."""

from __future__ import annotations

import pytest

from db import Store
from db.labels import adjudicate, commit_label, record_meta
from db.queues import QueueError, queue_members
from reviewer.queues import QueueRequest, build_queue
from tests.factory import fill, register_rubric

RUBRIC = "goal_guarding"


@pytest.fixture
def rubric_hash(store: Store) -> str:
    return register_rubric(store, RUBRIC)


def label(store, tid, rater, af, motivation=(), rubric_hash=None):
    commit_label(
        store,
        tid,
        annotator=rater,
        rubric_id=RUBRIC,
        rubric_hash=rubric_hash,
        values={"alignment_faking": af, "motivation": list(motivation)},
    )


def members(store, name):
    return [(a.transcript_id, a.reason) for a in queue_members(store, name)]


def test_adjudication_order_puts_the_most_contested_items_first(store, rubric_hash):
    ids = fill(store, 8)
    a, b, c, d = ids[:4]
    for rater, af in (("r1", "yes"), ("r2", "yes"), ("r3", "no")):  # 2-1 on one field
        label(store, a, rater, af, rubric_hash=rubric_hash)
    for rater, af in (("r1", "yes"), ("r2", "no")):  # 1-1 on one field
        label(store, b, rater, af, rubric_hash=rubric_hash)
    label(store, c, "r1", "yes", ["other"], rubric_hash)  # 1-1 on two fields
    label(store, c, "r2", "no", [], rubric_hash)
    label(store, d, "r1", "no", rubric_hash=rubric_hash)  # agree; the classifier may not
    label(store, d, "r2", "no", rubric_hash=rubric_hash)
    build_queue(store, QueueRequest("adj", "adjudication"))
    assert [t for t, _ in members(store, "adj")] == [c, b, a]
    assert members(store, "adj")[1] == (
        b,
        "adjudication: alignment_faking: humans differ (r1=yes, r2=no)",
    )
    adjudicate(
        store,
        b,
        adjudicator="boss",
        rubric_id=RUBRIC,
        rubric_hash=rubric_hash,
        values={"alignment_faking": "yes", "motivation": []},
        reason="r1 is right",
    )
    build_queue(store, QueueRequest("adj2", "adjudication", with_classifier=True))
    queued = [t for t, _ in members(store, "adj2")]
    assert b not in queued and queued[:2] == [c, a], "human splits before classifier-only ones"
    assert d in queued and "vs clf-secret-run" in dict(members(store, "adj2"))[d]


def test_flagged_queue_holds_live_flags_longest_first(store, rubric_hash):
    ids = fill(store, 5)
    for tid, who in ((ids[3], "ann"), (ids[1], "bob"), (ids[2], "ann")):
        record_meta(
            store,
            tid,
            annotator=who,
            rubric_id=RUBRIC,
            rubric_hash=rubric_hash,
            kind="_flag",
            value=True,
        )
    record_meta(
        store,
        ids[2],
        annotator="ann",
        rubric_id=RUBRIC,
        rubric_hash=rubric_hash,
        kind="_flag",
        value=False,
    )  # unflagged again
    build_queue(store, QueueRequest("flags", "flagged"))
    assert members(store, "flags") == [(ids[3], "flagged by ann"), (ids[1], "flagged by bob")]


def test_an_errors_queue_needs_a_known_classifier(store, rubric_hash):
    fill(store, 3)
    with pytest.raises(QueueError, match="needs --rater"):
        build_queue(store, QueueRequest("e", "errors"))
    with pytest.raises(QueueError, match="classifiers: clf-secret-run"):
        build_queue(store, QueueRequest("e", "errors", rater="nobody"))


def test_progress_counts_an_item_anyone_adjudicated_as_done(store, rubric_hash):
    from db.queues import next_assignment, queue_progress

    ids = fill(store, 4)
    for tid in ids[:2]:
        label(store, tid, "r1", "yes", rubric_hash=rubric_hash)
        label(store, tid, "r2", "no", rubric_hash=rubric_hash)
    build_queue(store, QueueRequest("adj", "adjudication", annotators=["carol", "dan"]))
    first = next_assignment(store, "adj", "carol").transcript_id
    adjudicate(
        store,
        first,
        adjudicator="dan",
        rubric_id=RUBRIC,
        rubric_hash=rubric_hash,
        values={"alignment_faking": "no", "motivation": []},
        reason="r2 is right",
    )
    progress = queue_progress(store, "adj", "carol")
    assert (progress.done, progress.total) == (1, 2), "dan's decision settles it for carol too"
    assert next_assignment(store, "adj", "carol").transcript_id != first
