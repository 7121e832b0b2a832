"""The gold rule: adjudication wins; unanimous blind humans, enough of them; else unresolved."""

from __future__ import annotations

import pytest

from db.labels import GoldPolicy, iter_gold
from tests.factory import add_transcripts, classifier, human, label

FIELDS = ["alignment_faking", "motivation"]


def gold_map(store, policy=None):
    return dict(iter_gold(store, "goal_guarding", FIELDS, policy))


def test_gold_rule_cases(store):
    ids = add_transcripts(store, per_stratum=2)
    # 0: humans split, adjudication settles it (the newest live adjudication wins)
    human(store, ids[0], "ann", "yes")
    human(store, ids[0], "bob", "no")
    adj = dict(
        rubric_id="goal_guarding",
        field="alignment_faking",
        source="adjudication",
        rater="judge",
        phase="adjudicated",
    )
    store.append_label(ids[0], value="no", **adj)
    later = store.append_label(ids[0], value="yes", **adj)
    # 1: two humans agree
    human(store, ids[1], "ann", "yes")
    human(store, ids[1], "bob", "yes")
    classifier(store, ids[1], "no", 0.1)  # classifiers never make gold
    # 2: split
    human(store, ids[2], "ann", "yes")
    human(store, ids[2], "bob", "no")
    # 3: one human only
    human(store, ids[3], "ann", "no")
    # 4: the blind label counts, not the revealed revision
    human(store, ids[4], "ann", "no")
    human(store, ids[4], "ann", "yes", phase="revealed")
    human(store, ids[4], "bob", "no")
    # 5: a retracted label is not a label
    human(store, ids[5], "ann", "yes")
    store.retract(human(store, ids[5], "bob", "no"))
    human(store, ids[5], "bob", "yes")
    # multi field: same set in another order is unanimous
    human(store, ids[1], "ann", ["rater_sycophancy", "other"], field="motivation")
    human(store, ids[1], "bob", ["other", "rater_sycophancy"], field="motivation")

    gold = gold_map(store)
    g0 = gold[ids[0]]["alignment_faking"]
    assert (g0.value, g0.status, g0.event_ids) == ("yes", "adjudicated", (later,))
    g1 = gold[ids[1]]["alignment_faking"]
    assert (g1.value, g1.status, g1.raters) == ("yes", "unanimous", ("ann", "bob"))
    assert gold[ids[1]]["motivation"].status == "unanimous"
    g2 = gold[ids[2]]["alignment_faking"]
    assert (g2.value, g2.status, g2.reason) == (
        None,
        "unresolved",
        "humans disagree: ann=yes, bob=no",
    )
    g3 = gold[ids[3]]["alignment_faking"]
    assert (g3.status, g3.reason) == ("unresolved", "1 human label(s), 2 needed")
    assert gold[ids[4]]["alignment_faking"].value == "no"
    assert gold[ids[5]]["alignment_faking"].value == "yes"
    assert gold[ids[0]]["motivation"].reason == "no human label"
    assert set(gold) == set(ids[:6])

    relaxed = gold_map(store, GoldPolicy(min_humans=1))
    assert relaxed[ids[3]]["alignment_faking"].value == "no"
    assert relaxed[ids[2]]["alignment_faking"].status == "unresolved"
    strict = gold_map(store, GoldPolicy(min_humans=3))
    assert strict[ids[1]]["alignment_faking"].reason == "2 human label(s), 3 needed"
    assert strict[ids[0]]["alignment_faking"].status == "adjudicated"


def test_imported_labels_count_only_when_asked(store):
    ids = add_transcripts(store, per_stratum=1)
    label(store, ids[0], "yes", source="imported", rater="gold")
    human(store, ids[0], "ann", "yes")
    assert gold_map(store)[ids[0]]["alignment_faking"].status == "unresolved"
    g = gold_map(store, GoldPolicy(imported_as_human=True))[ids[0]]["alignment_faking"]
    assert (g.value, g.status, g.raters) == ("yes", "unanimous", ("ann", "imported:gold"))


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        GoldPolicy(min_humans=0)
