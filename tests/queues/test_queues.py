"""Queue kinds: membership and seeded order; next_assignment, progress and versions."""

from __future__ import annotations

from collections import Counter

import pytest

from db.labels import undo_last_act
from db.queues import (
    QueueError,
    get_queue,
    list_queues,
    next_assignment,
    queue_members,
    queue_progress,
)
from reviewer.queues import QueueRequest, build_queue
from tests.factory import add_transcripts, classifier, human, label, transcript


def ids_of(store, name, annotator=None):
    return [a.transcript_id for a in queue_members(store, name, annotator)]


def test_random_queue_is_seeded_per_annotator_and_skips_labeled_items(store):
    ids = add_transcripts(store)
    human(store, ids[0], "carol", "yes")
    build_queue(store, QueueRequest("r", "random", annotators=["ann", "bob"], seed=7))
    ann, bob = ids_of(store, "r", "ann"), ids_of(store, "r", "bob")
    assert sorted(ann) == sorted(bob) == ids[1:]
    assert ann != bob  # each annotator has an own order
    build_queue(store, QueueRequest("r2", "random", annotators=["ann"], seed=7))
    assert ids_of(store, "r2", "ann") == ann  # same seed, same order
    build_queue(store, QueueRequest("r3", "random", annotators=["ann"], seed=8))
    assert ids_of(store, "r3", "ann") != ann


def test_random_queue_filters_and_size(store):
    add_transcripts(store)
    build_queue(store, QueueRequest("r", "random", model="opus", condition="paid", size=3))
    members = queue_members(store, "r")
    assert len(members) == 3
    assert {a.annotator for a in members} == {""}
    for a in members:
        row = store.transcript(a.transcript_id)
        assert (row["model"], row["condition"]) == ("opus", "paid")


def test_stratified_queue_is_balanced_and_interleaved(store):
    add_transcripts(store, per_stratum=6)
    build_queue(store, QueueRequest("s", "stratified", size=2, seed=1))
    members = ids_of(store, "s")
    strata = [(store.transcript(t)["model"], store.transcript(t)["condition"]) for t in members]
    assert Counter(strata) == {(m, c): 2 for m in ("opus", "sonnet") for c in ("free", "paid")}
    assert len(set(strata[:4])) == 4  # the first round holds one of each stratum
    build_queue(store, QueueRequest("s2", "stratified", size=2, seed=1))
    assert ids_of(store, "s2") == members


def test_overlap_set_is_identical_across_annotators(store):
    add_transcripts(store)
    build_queue(
        store, QueueRequest("o", "overlap", annotators=["ann", "bob", "cy"], size=8, seed=3)
    )
    sets = [ids_of(store, "o", who) for who in ("ann", "bob", "cy")]
    assert all(len(s) == 8 for s in sets)
    assert set(sets[0]) == set(sets[1]) == set(sets[2])
    assert "overlap" in queue_members(store, "o", "ann")[0].reason
    with pytest.raises(QueueError, match="at least two annotators"):
        build_queue(store, QueueRequest("o1", "overlap", annotators=["ann"]))
    assert get_queue(store, "o1") is None  # nothing stored on error


def test_disagreement_queue_finds_exactly_the_disagreeing_items(store):
    ids = add_transcripts(store)
    human(store, ids[0], "ann", "yes")
    human(store, ids[0], "bob", "no")  # humans differ
    human(store, ids[1], "ann", "yes")
    classifier(store, ids[1], "no", 0.2)  # human vs classifier
    human(store, ids[2], "ann", "yes")
    classifier(store, ids[2], "yes", 0.9)  # agree
    human(store, ids[3], "ann", "no")
    human(store, ids[3], "bob", "yes")
    label(store, ids[3], "no", source="adjudication", rater="judge", phase="adjudicated")
    human(store, ids[4], "ann", ["rater_sycophancy"], field="motivation")
    classifier(store, ids[4], ["terminal_goal_guarding"], 0.5, field="motivation")
    human(store, ids[5], "ann", "yes", phase="revealed")  # not blind: ignored
    classifier(store, ids[5], "no", 0.1)
    queue, n = build_queue(store, QueueRequest("d", "disagreement"))
    members = queue_members(store, "d")
    assert [a.transcript_id for a in members] == [ids[0], ids[1], ids[4]]
    assert "humans differ (ann=yes, bob=no)" in members[0].reason
    assert "clf=no" in members[1].reason
    assert queue.blind is False  # adjudicators see every label
    assert n == 3


def test_uncertain_queue_is_nearest_threshold_first(store):
    ids = add_transcripts(store)
    for tid, score in zip(ids, (0.9, 0.45, 0.4, 0.3, 0.54, 0.0, 0.2, 0.56), strict=False):
        classifier(store, tid, "yes" if score >= 0.4 else "no", score)
    build_queue(store, QueueRequest("u", "uncertain", margin=0.15))
    assert ids_of(store, "u") == [ids[2], ids[1], ids[3], ids[4]]


def test_uncertain_ties_are_by_id_despite_float_error(store):
    ids = add_transcripts(store, per_stratum=1)
    classifier(store, ids[0], "no", 0.35)  # 0.4 - 0.35 is 0.05000000000000004 in floats
    classifier(store, ids[1], "yes", 0.45)  # 0.45 - 0.4 is 0.04999999999999999
    build_queue(store, QueueRequest("u", "uncertain", margin=0.05))
    assert ids_of(store, "u") == [ids[0], ids[1]]


def test_calibration_queue_holds_items_with_gold(store):
    ids = add_transcripts(store)
    for tid in ids[:3]:
        human(store, tid, "ann", "yes")
        human(store, tid, "bob", "yes")
    human(store, ids[3], "ann", "yes")  # one human only
    label(store, ids[4], "no", source="imported", rater="gold")
    build_queue(store, QueueRequest("c", "calibration", seed=2))
    assert sorted(ids_of(store, "c")) == ids[:3]
    build_queue(
        store,
        QueueRequest("c2", "calibration", seed=2, min_humans=1, imported_as_human=True),
    )
    assert sorted(ids_of(store, "c2")) == ids[:5]


def test_next_assignment_skips_labeled_and_requeues_skipped(store):
    add_transcripts(store, per_stratum=1)  # 4 items
    build_queue(store, QueueRequest("q", "random", annotators=["ann"], seed=0))
    order = ids_of(store, "q", "ann")
    nxt = next_assignment(store, "q", "ann")
    assert nxt.transcript_id == order[0]
    human(store, order[0], "ann", "no")
    assert next_assignment(store, "q", "ann").transcript_id == order[1]
    skip = store.append_label(
        order[1], rubric_id="goal_guarding", field="_skip", value=True, source="human", rater="ann"
    )
    assert next_assignment(store, "q", "ann").transcript_id == order[2]
    assert next_assignment(store, "q", "bob") is None  # not bob's queue
    human(store, order[2], "ann", "yes")
    human(store, order[3], "ann", "yes")
    assert next_assignment(store, "q", "ann").transcript_id == order[1]  # skipped comes back
    p = queue_progress(store, "q", "ann")
    assert (p.done, p.skipped, p.total) == (3, 1, 4)
    store.retract(skip, rater="ann")
    human(store, order[1], "ann", "no")
    assert next_assignment(store, "q", "ann") is None
    assert queue_progress(store, "q", "ann").done == 4
    # Undoing a label puts the item back in its place.
    last = undo_last_act(store, "ann")
    assert last.transcript_id == order[1]
    assert next_assignment(store, "q", "ann").transcript_id == order[1]


def test_position_hint_starts_after_it_and_wraps(store):
    add_transcripts(store, per_stratum=2)  # 8 items
    build_queue(store, QueueRequest("q", "random", annotators=["ann"], seed=5))
    members = queue_members(store, "q", "ann")
    for a in members[:3]:
        human(store, a.transcript_id, "ann", "no")
    plain = next_assignment(store, "q", "ann")
    assert plain == members[3]
    assert next_assignment(store, "q", "ann", after_position=2) == plain
    assert next_assignment(store, "q", "ann", after_position=5) == members[6]
    for a in members[4:]:
        human(store, a.transcript_id, "ann", "no")
    assert next_assignment(store, "q", "ann", after_position=7) == members[3]  # wraps


def test_skips_come_back_oldest_first(store):
    add_transcripts(store, per_stratum=1)
    build_queue(store, QueueRequest("q", "random", seed=0))
    order = ids_of(store, "q")
    for tid in order[:3]:
        store.append_label(
            tid, rubric_id="goal_guarding", field="_skip", value=True, source="human", rater="ann"
        )
    assert next_assignment(store, "q", "ann").transcript_id == order[3]
    human(store, order[3], "ann", "yes")
    assert next_assignment(store, "q", "ann").transcript_id == order[0]
    store.append_label(
        order[0], rubric_id="goal_guarding", field="_skip", value=True, source="human", rater="ann"
    )
    assert next_assignment(store, "q", "ann").transcript_id == order[1]


def test_done_needs_every_required_field(store):
    add_transcripts(store, per_stratum=1)
    build_queue(store, QueueRequest("q", "random", rubric_id="goal_guarding", seed=0))
    first = ids_of(store, "q")[0]
    human(store, first, "ann", ["other"], field="motivation")  # optional field only
    assert next_assignment(store, "q", "ann").transcript_id == first
    nxt = next_assignment(store, "q", "ann", fields=["motivation"])
    assert nxt.transcript_id != first


def test_shared_and_own_assignments_merge(store):
    ids = add_transcripts(store, per_stratum=1)
    from db.queues import create_queue

    create_queue(
        store,
        "m",
        kind="random",
        rubric_id="goal_guarding",
        assignments=[("", ids[0], "x"), ("", ids[1], "x"), ("ann", ids[2], "y")],
    )
    assert ids_of(store, "m", "ann") == [ids[2], ids[0], ids[1]]
    assert next_assignment(store, "m", "ann").transcript_id == ids[2]
    assert next_assignment(store, "m", "bob").transcript_id == ids[0]
    assert queue_progress(store, "m", "ann").total == 3
    assert queue_progress(store, "m", "bob").total == 2
    create_queue(
        store,
        "both",
        kind="random",
        rubric_id="goal_guarding",
        assignments=[("", ids[0], "x"), ("ann", ids[0], "y"), ("ann", ids[1], "y")],
    )
    assert queue_progress(store, "both", "ann").total == 2  # the same item counts once


def test_replace_adds_a_version_and_keeps_the_old_one(store):
    add_transcripts(store)
    build_queue(store, QueueRequest("r", "random", size=3, seed=1))
    old = ids_of(store, "r")
    with pytest.raises(QueueError, match="--replace"):
        build_queue(store, QueueRequest("r", "random", size=5))
    queue, n = build_queue(store, QueueRequest("r", "random", size=5, seed=2, replace=True))
    assert (queue.name, queue.version, n) == ("r", 2, 5)
    assert queue.params["replaces"] == "r@v1"
    new = ids_of(store, "r")
    assert len(new) == 5  # the plain name is the current version...
    assert ids_of(store, "r@v2") == new
    assert ids_of(store, "r@v1") == old  # ...and the old one is kept under its archive name
    assert store.execute("SELECT COUNT(*) FROM assignments")[0][0] == 8
    assert [q.name for q in list_queues(store)] == ["r"]
    assert [(q.name, q.version) for q in list_queues(store, all_versions=True)] == [
        ("r@v1", 1),
        ("r", 2),
    ]
    assert queue_progress(store, "r", "x").total == 5
    build_queue(store, QueueRequest("r", "random", size=2, seed=3, replace=True))
    assert get_queue(store, "r").version == 3 and len(ids_of(store, "r@v2")) == 5
    assert queue_progress(store, "r", "x").total == 2
    assert queue_progress(store, "r@v2", "x").total == 5
    assert get_queue(store, "r@v9") is None


def test_bad_requests_are_explained(store):
    add_transcripts(store, per_stratum=1)
    with pytest.raises(QueueError, match="unknown queue kind"):
        build_queue(store, QueueRequest("x", "nope"))
    with pytest.raises(QueueError, match="bad queue name"):
        build_queue(store, QueueRequest("a b", "random"))
    with pytest.raises(QueueError, match="no transcript matches --model nobody"):
        build_queue(store, QueueRequest("x", "random", model="nobody"))
    with pytest.raises(QueueError, match="no queue named"):
        next_assignment(store, "missing", "ann")
    assert list_queues(store) == []


def test_filters_matching_nothing_are_named_with_the_values_there_are(store):
    add_transcripts(store, per_stratum=1)
    with pytest.raises(QueueError) as err:
        build_queue(store, QueueRequest("x", "random", model="nosuch"))
    message = str(err.value)
    assert "no transcript matches --model nosuch" in message
    assert "opus, sonnet" in message and "already has a human label" not in message
    with pytest.raises(QueueError, match="--condition gratis .*free, paid"):
        build_queue(store, QueueRequest("x", "stratified", condition="gratis"))
    store.insert_transcripts([transcript(turns=[], model="haiku", condition=None)])
    with pytest.raises(QueueError, match="--model haiku --condition free together"):
        build_queue(store, QueueRequest("x", "random", model="haiku", condition="free"))
    # each filter that does match still builds its queue
    q, written = build_queue(store, QueueRequest("x", "random", model="opus", condition="free"))
    assert written == 1
    assert list_queues(store) == [q]


@pytest.mark.parametrize("margin", [0, -0.1, 0.51, 5])
def test_margin_outside_0_to_half_is_refused(store, margin):
    add_transcripts(store, per_stratum=1)
    with pytest.raises(QueueError, match="--margin must be above 0 and at most 0.5"):
        build_queue(store, QueueRequest("w", "uncertain", margin=margin))
    assert list_queues(store) == []


def test_cli_reports_bad_numbers_without_a_traceback(store):
    from click.testing import CliRunner

    from reviewer.cli import cli

    add_transcripts(store, per_stratum=1)
    runner = CliRunner()
    for args, message in (
        (["--kind", "uncertain", "--margin", "5"], "--margin must be above 0"),
        (["--kind", "random", "--size", "0"], "--size must be at least 1"),
        (["--kind", "calibration", "--min-humans", "0"], "--min-humans must be at least 1"),
        (["--kind", "random", "--model", "nosuch"], "no transcript matches --model nosuch"),
    ):
        result = runner.invoke(cli, ["--db", str(store.path), *["queue", "create", "w"], *args])
        assert result.exit_code == 1 and message in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def _design(store, name):
    from db.queues import queue_design

    return {
        r.transcript_id: (r.inclusion_probability, r.stratum) for r in queue_design(store, name)
    }


def test_every_kind_records_its_inclusion_probabilities(store):
    ids = add_transcripts(store, per_stratum=12)  # 4 strata of 12
    human(store, ids[0], "ann", "yes")  # labelled: out of the frame
    for tid, score in zip(ids, [0.05, 0.5, 0.95] * 16, strict=True):
        classifier(store, tid, "yes" if score >= 0.5 else "no", score)
    build_queue(store, QueueRequest("r", "random", size=5, seed=1))
    assert set(_design(store, "r").values()) == {(5 / 47, "all")}
    build_queue(store, QueueRequest("s", "stratified", size=2, seed=1, limit=7))
    probs = Counter(p for p, _ in _design(store, "s").values())
    # the limit cut the round-robin after 7: one stratum kept 1 of its 12
    assert sum(probs.values()) == 7 and min(probs) == pytest.approx(1 / 12)
    assert any(abs(p - 2 / 11) < 1e-12 for p in probs)  # the stratum that lost an item
    build_queue(store, QueueRequest("u", "uncertain", margin=0.2))
    assert {p for p, _ in _design(store, "u").values()} == {None}
    build_queue(store, QueueRequest("z", "score-stratified", size=30, seed=1))
    design = _design(store, "z")
    assert len(design) == 30 and all(0 < p < 1 for p, _ in design.values())
    sizes = Counter()
    for p, stratum in design.values():
        sizes[stratum] += 1 / p
    assert len(sizes) == 12 and sum(sizes.values()) == pytest.approx(47)


def test_score_stratified_size_too_small_is_explained(store):
    ids = add_transcripts(store, per_stratum=6)
    for tid, score in zip(ids, [0.05, 0.5, 0.95] * 8, strict=True):
        classifier(store, tid, "yes" if score >= 0.5 else "no", score)
    with pytest.raises(QueueError, match="--size 3 is too small: 12 strata need at least 24"):
        build_queue(store, QueueRequest("z", "score-stratified", size=3))
