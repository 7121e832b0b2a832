"""Rating patterns counted a slice at a time are the patterns of the whole read.

``store_field_pattern_specs`` (what the dataset card uses, so that its memory does not grow
with the database) reads the labels a range of transcripts at a time and counts each field's
rating patterns. Whatever the labels (other sources, phases, revisions, retractions, values
outside the rubric, fields it does not name, multi-label values, a rater name shared by two
sources) and however small the slices, the specs must be ``store_field_specs``' own: the same
raters, categories, patterns in the same order, counts, notes and comparisons, and so the same
coefficients and intervals.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import Store, labels
from db.agreement_data import agreement_label_slices, agreement_labels
from reviewer.agreement import analyse_field
from reviewer.agreement.ratings import RatingSet
from reviewer.agreement.store_fields import store_field_pattern_specs, store_field_specs
from reviewer.agreement.summary import agreement_summary
from tests.factory import labeler_transcript as record
from tests.factory import play_label_act

RUBRICS = ("goal_guarding", "compliance")


def _same_specs(store: Store, rubric_id: str, events_per_slice: int) -> tuple[list, list]:
    """The whole read's specs and the counted ones, checked to be the same."""
    whole = store_field_specs(store, rubric_id)
    counted = store_field_pattern_specs(store, rubric_id, events_per_slice=events_per_slice)
    assert [s.field for s in counted] == [s.field for s in whole]
    for a, b in zip(whole, counted, strict=True):
        assert (b.kind, b.positive, b.panel, b.classifiers) == (
            a.kind,
            a.positive,
            a.panel,
            a.classifiers,
        )
        assert (b.comparisons, b.notes) == (a.comparisons, a.notes)
        ra, rb = a.ratings, b.ratings
        assert (rb.categories, rb.raters, rb.level) == (ra.categories, ra.raters, ra.level)
        assert rb.patterns.tolist() == ra.patterns.tolist()
        assert rb.multiplicity.tolist() == ra.multiplicity.tolist()
        assert rb.items is None and rb.scores == {}
    return whole, counted


ACTS = st.lists(
    st.one_of(
        st.tuples(
            st.just("label"),
            st.integers(0, 7),
            st.sampled_from(["alignment_faking", "motivation", "compliance", "extra", "many"]),
            st.sampled_from(["yes", "no", ["other"], ["low_coherence", "other"], [], "maybe", 3]),
            st.sampled_from(["classifier", "human", "imported", "adjudication"]),
            st.sampled_from(["clf-a", "clf-b", "ann", "bob", "gold", "é"]),
            st.sampled_from([None, "blind", "revealed"]),
        ),
        st.tuples(st.just("commit"), st.integers(0, 7), st.sampled_from(["ann", "bob", "cy"])),
        st.tuples(st.just("retract"), st.integers(0, 60)),
        st.tuples(st.just("undo"), st.sampled_from(["ann", "bob"])),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(acts=ACTS, events_per_slice=st.sampled_from([1, 2, 5, 10_000]))
def test_patterns_counted_by_slices_are_the_whole_reads(tmp_path_factory, acts, events_per_slice):
    store = Store(tmp_path_factory.mktemp("patterns") / "patterns.db")
    store.insert_transcripts([record(i, labels=[]) for i in range(8)])
    events: list[int] = []
    try:
        for act in acts:
            play_label_act(
                store,
                act,
                events,
                commit_values=lambda k: {
                    "alignment_faking": ["no", "yes"][k % 2],
                    "motivation": [],
                },
            )
        for rubric_id in RUBRICS:
            whole, counted = _same_specs(store, rubric_id, events_per_slice)
            keep = [k for k, s in enumerate(whole) if s.ratings.n_raters]
            summary = [
                agreement_summary(
                    [analyse_field(specs[k], n_resamples=40, seed=3) for k in keep], rubric_id
                )
                for specs in (whole, counted)
            ]
            assert summary[1] == summary[0]
    finally:
        store.close()


@pytest.mark.parametrize("per_slice", [1, 8, 13, 1_000_000])
def test_slices_hold_every_label_once(store: Store, per_slice: int) -> None:
    store.insert_transcripts([record(i, labels=[]) for i in range(9)])
    for n, tid in enumerate(store.transcript_ids()):
        for rater in ("clf-a", "clf-b"):
            labels.append(
                store,
                tid,
                rubric_id="goal_guarding",
                field="alignment_faking",
                value=["yes", "no"][(n + len(rater)) % 2],
                source="classifier",
                rater=rater,
            )
        labels.commit_label(
            store,
            tid,
            annotator="ann",
            rubric_id="goal_guarding",
            rubric_hash=None,
            values={"alignment_faking": "yes"},
        )
    whole = _labels_of(agreement_labels(store, "goal_guarding"))
    assert len(whole) == 27
    seen: list = []
    slices = list(agreement_label_slices(store, "goal_guarding", events_per_slice=per_slice))
    # One transcript a slice at one event each; the whole database in one at a million.
    assert len(slices) == {1: 9, 1_000_000: 1}.get(per_slice, len(slices))
    assert 1 < len(slices) < 9 or per_slice in (1, 1_000_000)
    for part in slices:
        seen += _labels_of(part)
    assert seen == whole  # in order, none twice


def _labels_of(chosen) -> list[tuple]:
    """Each label as (event, transcript, field, source, rater, phase, value)."""
    return [
        (e, t, chosen.fields[f], chosen.sources[s], chosen.raters[r], chosen.phases[p], v)
        for e, t, f, s, r, p, v in zip(
            chosen.event_id.tolist(),
            chosen.transcript_id.tolist(),
            chosen.field.tolist(),
            chosen.source.tolist(),
            chosen.rater.tolist(),
            chosen.phase.tolist(),
            [chosen.values[v] for v in chosen.value.tolist()],
            strict=True,
        )
    ]


@pytest.mark.parametrize(
    "n_categories, n_raters",
    [(2, 3), (3, 40), (200, 9)],  # one key per pattern: a table, a number, rows
)
def test_counted_patterns_build_what_the_items_build(n_categories: int, n_raters: int) -> None:
    rng = np.random.default_rng(n_raters)
    items = rng.integers(-1, n_categories, size=(500, n_raters))
    items[rng.random(items.shape) < 0.5] = -1
    rows, counts = np.unique(items, axis=0, return_counts=True)
    order = rng.permutation(len(rows))  # the counts need not come sorted
    categories = [f"c{k}" for k in range(n_categories)]
    built = RatingSet.from_pattern_counts(rows[order], counts[order], categories, level="ordinal")
    expected = RatingSet.from_codes(items, categories, level="ordinal")
    assert built.patterns.tolist() == expected.patterns.tolist()
    assert built.multiplicity.tolist() == expected.multiplicity.tolist()
    assert built.raters == expected.raters and built.n_items == 500
    with pytest.raises(ValueError, match="count per pattern"):
        RatingSet.from_pattern_counts(rows, counts[:-1], categories)


def test_a_known_case_counted_in_slices(store: Store) -> None:
    """Values outside the categories counted per label across slices, a name two sources
    share told apart, a multi-label field judged per category."""
    store.insert_transcripts([record(i, labels=[]) for i in range(6)])
    tids = store.transcript_ids()
    for n, tid in enumerate(tids):
        for source, rater, value in (
            ("classifier", "ann", ["yes", "no"][n % 2]),
            ("human", "ann", "maybe" if n < 3 else ["yes", "no"][n % 3 == 0]),
            ("human", "bob", "yes"),
        ):
            labels.append(
                store,
                tid,
                rubric_id="goal_guarding",
                field="alignment_faking",
                value=value,
                source=source,
                rater=rater,
                phase="blind" if source == "human" else None,
            )
        labels.append(
            store,
            tid,
            rubric_id="goal_guarding",
            field="motivation",
            value=["other"] if n % 2 else ["other", "low_coherence"],
            source="human",
            rater="bob",
            phase="blind",
        )
    specs = {s.field: s for s in _same_specs(store, "goal_guarding", 2)[0]}
    verdict = specs["alignment_faking"]
    assert verdict.ratings.raters == ["human:ann", "bob", "classifier:ann"]
    assert verdict.notes == ["3 label(s) with a value outside the field's categories were left out"]
    assert verdict.ratings.n_items == 6
    assert specs["motivation:low_coherence"].ratings.multiplicity.tolist() == [3, 3]


def _raw_label(store: Store, tid: int, value, rater: str, field: str = "alignment_faking"):
    """A label as another tool might have written it: any value, any transcript id."""
    store.db.conn.execute("PRAGMA foreign_keys = OFF")  # (no effect inside a transaction)
    with store.transaction() as db:
        db.conn.execute(
            "INSERT INTO label_events(transcript_id, rubric_id, field, value, source, rater, "
            "phase, created_at) VALUES (?, 'goal_guarding', ?, ?, 'human', ?, 'blind', 't')",
            (tid, field, value, rater),
        )


def test_odd_values_and_ids_are_counted_as_the_whole_read_counts_them(store: Store) -> None:
    """A BLOB value (in a rubric field and in a field it does not name), labels of ids no
    transcript has (above and below the table's), and a transcript with a negative id."""
    store.insert_transcripts([record(i, labels=[]) for i in range(5)])
    tids = store.transcript_ids()
    with store.transaction() as db:  # a copy of the last transcript under id -1
        columns = [r[1] for r in db.conn.execute("PRAGMA table_info(transcripts)")]
        row = list(
            db.conn.execute("SELECT * FROM transcripts WHERE id = ?", (tids[-1],)).fetchone()
        )
        row[columns.index("id")] = -1
        row[columns.index("uid")] = "negative"
        db.conn.execute(
            f"INSERT INTO transcripts({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            row,
        )
    for tid in [-1, *tids]:
        for rater, value in (("ann", "yes"), ("bob", ["no", "yes"][tid % 2])):
            _raw_label(store, tid, f'"{value}"', rater)
            _raw_label(store, tid, f'["{value}", "x"]', rater, field="extra")
    _raw_label(store, tids[0], b"\xff\xfe", "cy")
    _raw_label(store, tids[1], b"\x00", "cy", field="extra")
    _raw_label(store, tids[-1] + 1000, '"yes"', "ann")  # no such transcripts
    _raw_label(store, -50, '"no"', "bob")
    for per_slice in (1, 2, 1_000_000):
        specs = {s.field: s for s in _same_specs(store, "goal_guarding", per_slice)[0]}
    assert specs["alignment_faking"].ratings.n_items == 6
    assert specs["alignment_faking"].notes == [
        "1 label(s) with a value outside the field's categories were left out"
    ]
    assert {"extra:x", "extra:yes", "extra:no"} <= set(specs)


def test_no_read_transaction_outlives_a_count_that_stops(store: Store, monkeypatch) -> None:
    """The slices are read in one snapshot that ends with the count, however it ends: a
    transaction left open would hold later writes back from other connections."""
    from reviewer.agreement import store_fields

    store.insert_transcripts([record(i, labels=[]) for i in range(4)])
    for tid in store.transcript_ids():
        _raw_label(store, tid, '"yes"', "ann")

    def fail(self, frows):
        raise RuntimeError("stopped")

    monkeypatch.setattr(store_fields._FieldTally, "add", fail)
    with pytest.raises(RuntimeError, match="stopped"):
        store_field_pattern_specs(store, "goal_guarding", events_per_slice=1)
    assert not store.db.conn.in_transaction


def test_a_rubric_field_keeps_coded_patterns_only(store: Store, monkeypatch) -> None:
    """Multi-label values in many combinations (nearly one per item and rater) are coded per
    category as they are read: what is held is bounded by the categories, not the items."""
    from reviewer.agreement import store_fields

    store.insert_transcripts([record(i, labels=[]) for i in range(300)])
    cats = ["terminal_goal_guarding", "instrumental_goal_guarding", "rater_sycophancy", "other"]
    for n, tid in enumerate(store.transcript_ids()):
        for k, rater in enumerate(("ann", "bob", "cy")):
            chosen = [c for b, c in enumerate(cats) if (n * (k + 3)) >> b & 1]
            _raw_label(store, tid, json.dumps(chosen), rater, field="motivation")
    held: list[tuple[int, int]] = []
    spec = store_fields._FieldTally.spec

    def counting(self, plan, names):
        held.append((len(self.patterns), len(self.coded.get(plan.name, ()))))
        return spec(self, plan, names)

    monkeypatch.setattr(store_fields._FieldTally, "spec", counting)
    _same_specs(store, "goal_guarding", 50)
    # (The verdict field has no labels here: no patterns at all.)
    assert len(held) == 6 and all(raw == 0 and coded <= 3**3 for raw, coded in held)
    assert max(coded for _, coded in held) == 8  # every rater labels every item
