"""The column-wise label reader gives exactly what the per-event reader gave.

``agreement_labels`` (stats, analyze and the report read labels through it) replaced a reader
that built one ``LabelEvent`` per event from ``labels.current_labels`` and chose each rater's
label in Python. That reader is kept here, as the rule written the plain way, and both are run
on a database with every kind of event: live, retracted, undone, revised after a reveal,
adjudicated, imported, several classifier runs, empty values, a rater name shared by two
sources, and text holding separator characters.

The column reader reads scores only on *reviewed* transcripts (those with a label from a source
other than a classifier); elsewhere the old reader's scores are compared with NaN and None.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest

from db import Store, labels
from db.agreement_data import RatingRow, agreement_labels, rating_rows
from tests.factory import label_columns_as_dict
from tests.factory import labeler_transcript as record

RUBRICS = ("goal_guarding", "compliance")


def per_event_ratings(store: Store, rubric_id: str, *, field=None, phase="blind"):
    """The old reader, event by event (see the module docstring)."""
    chosen: dict[tuple, tuple[int, RatingRow]] = {}
    for event in labels.current_labels(store, rubric_id=rubric_id, field=field):
        if event.field.startswith("_") or event.value is None:
            continue
        if event.source == "human":
            if event.phase == "blind":
                rank = 1
            elif event.phase == "revealed" and phase == "revealed":
                rank = 2
            else:
                continue
        else:
            rank = 1
        key = (event.transcript_id, event.field, event.source, event.rater)
        row = RatingRow(
            event.transcript_id,
            event.field,
            event.source,
            event.rater,
            event.value,
            event.score,
            event.scores,
        )
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, row)
    return [
        row
        for _, row in sorted(
            chosen.values(), key=lambda x: (x[1].transcript_id, x[1].field, x[1].rater)
        )
    ]


def _reviewed(store: Store, rubric_id: str | None = None) -> set[int]:
    """Transcripts with a current label from a source other than a classifier."""
    return {
        e.transcript_id
        for e in labels.current_labels(store, rubric_id=rubric_id)
        if e.source != "classifier" and not e.field.startswith("_")
    }


def _unscored(rows: list[RatingRow], reviewed: set[int]) -> list[RatingRow]:
    """The rows as the column reader gives them: scores kept on reviewed transcripts only."""
    return [
        r
        if r.transcript_id in reviewed
        else RatingRow(r.transcript_id, r.field, r.source, r.rater, r.value, None, None)
        for r in rows
    ]


def _same(a: list[RatingRow], b: list[RatingRow]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.transcript_id, x.field, x.source, x.rater, x.value, x.scores) == (
            y.transcript_id,
            y.field,
            y.source,
            y.rater,
            y.value,
            y.scores,
        )
        assert (x.score is None and y.score is None) or x.score == y.score
        assert type(x.value) is type(y.value)


def _add(store, tid, rubric, field, value, source, rater, **kw):
    return labels.append(
        store, tid, rubric_id=rubric, field=field, value=value, source=source, rater=rater, **kw
    )


@pytest.fixture
def busy_store(store: Store) -> Store:
    store.insert_transcripts([record(i, labels=[]) for i in range(12)])
    ids = store.transcript_ids()
    for k, tid in enumerate(ids):
        yes = 0.05 * k
        # Two classifier runs, the second relabelling some items (its newest label counts).
        _add(
            store,
            tid,
            "goal_guarding",
            "alignment_faking",
            "yes" if k % 3 else "no",
            "classifier",
            "clf-a",
            score=yes,
            scores={"yes": yes, "no": 1 - yes},
        )
        _add(
            store,
            tid,
            "goal_guarding",
            "motivation",
            ["rater_sycophancy"] if k % 2 else [],
            "classifier",
            "clf-a",
            scores={"rater_sycophancy": 1 / 3, "other": 0.1 * k},
        )
        _add(
            store,
            tid,
            "compliance",
            "compliance",
            ["refused", "partial", "full"][k % 3],
            "classifier",
            "clf-b",
            score=2 / 3,
            scores={"full": 2 / 3},
        )
        if k % 4 == 0:
            _add(
                store,
                tid,
                "goal_guarding",
                "alignment_faking",
                "no",
                "classifier",
                "clf-a",
                score=0.1,
            )
    a, b, c, d, e, f = ids[:6]
    # Humans: blind, revised after a reveal, undone, retracted, an act, an adjudication.
    for tid in (a, b, c):
        labels.commit_label(
            store,
            tid,
            annotator="ann",
            rubric_id="goal_guarding",
            rubric_hash=None,
            values={"alignment_faking": "yes", "motivation": ["other"]},
        )
    labels.commit_label(
        store,
        a,
        annotator="ann",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "no"},
    )  # a revealed revision
    labels.commit_label(
        store,
        b,
        annotator="bob",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "no", "motivation": []},
    )
    labels.commit_label(
        store,
        d,
        annotator="bob",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "yes"},
    )
    labels.undo_last_act(store, "bob")
    labels.record_meta(
        store, e, annotator="ann", rubric_id="goal_guarding", rubric_hash=None, kind="_flag"
    )
    wrong = _add(
        store, e, "goal_guarding", "alignment_faking", "yes", "human", "cat", phase="blind"
    )
    store.retract(wrong)
    labels.adjudicate(
        store,
        b,
        adjudicator="judge",
        rubric_id="goal_guarding",
        rubric_hash=None,
        values={"alignment_faking": "yes"},
        reason="the quote decides",
    )
    # Imported labels, one rater name used by two sources, a null value, odd text.
    for tid in (a, c, f):
        _add(store, tid, "goal_guarding", "alignment_faking", "no", "imported", "gold")
        _add(store, tid, "goal_guarding", "alignment_faking", "yes", "human", "gold", phase="blind")
    _add(store, f, "goal_guarding", "alignment_faking", None, "human", "dan", phase="blind")
    _add(
        store,
        c,
        "compliance",
        "compliance",
        "full\x1epartial",
        "human",
        "odd\x1frater",
        phase="blind",
    )
    _add(store, d, "compliance", "compliance", 3, "imported", "numbers")
    return store


@pytest.mark.parametrize("ids", ["packed", "two texts"])
@pytest.mark.parametrize("phase", ["blind", "revealed"])
def test_column_reader_matches_the_per_event_reader(busy_store, monkeypatch, phase, ids):
    if ids == "two texts":  # what ids too large to pack into one number are read as
        monkeypatch.setattr(labels, "_id_shift", lambda bounds: None)
    current = labels.current_label_columns(busy_store)
    everywhere = _reviewed(busy_store)
    assert _reviewed(busy_store, "compliance") < everywhere, "some reviewed under one rubric only"
    for rubric in RUBRICS:
        old = per_event_ratings(busy_store, rubric, phase=phase)
        assert old, "the fixture must give each rubric labels"
        here = _reviewed(busy_store, rubric)
        _same(rating_rows(agreement_labels(busy_store, rubric, phase=phase)), _unscored(old, here))
        # Read for every rubric at once: a transcript reviewed under the other rubric has
        # its scores read here too.
        _same(
            rating_rows(agreement_labels(busy_store, rubric, phase=phase, current=current)),
            _unscored(old, everywhere),
        )
        for field in {r.field for r in old}:
            _same(
                rating_rows(agreement_labels(busy_store, rubric, field=field, phase=phase)),
                _unscored(
                    per_event_ratings(busy_store, rubric, field=field, phase=phase),
                    {
                        e.transcript_id
                        for e in labels.current_labels(busy_store, rubric_id=rubric, field=field)
                        if e.source != "classifier"
                    },
                ),
            )


def test_the_fixture_has_what_it_claims(busy_store):
    """Retracted and undone labels are gone, the revision and the rater name shared by two
    sources are there, and a score survives to the last digit."""
    rows = per_event_ratings(busy_store, "goal_guarding", phase="revealed")
    raters = {(r.source, r.rater) for r in rows}
    assert ("imported", "gold") in raters and ("human", "gold") in raters
    assert ("human", "cat") not in raters
    assert ("adjudication", "judge") in raters
    assert not any(r.rater == "dan" for r in rows)
    columns = labels.current_label_columns(busy_store, rubric_id="compliance")
    c = busy_store.transcript_ids()[2]  # reviewed under compliance by "odd\x1frater"
    at = (columns.transcript_id == c) & (columns.source == columns.code("source", "classifier"))
    assert at.sum() == 1 and columns.score[at][0] == 2 / 3
    assert "odd\x1frater" in columns.raters
    # Unreviewed transcripts carry no scores: they are not read.
    unreviewed = ~np.isin(columns.transcript_id, sorted(_reviewed(busy_store, "compliance")))
    assert unreviewed.any() and np.isnan(columns.score[unreviewed]).all()
    assert all(columns.scores_values[k] is None for k in columns.scores[unreviewed])


def test_a_write_between_the_reads_is_not_half_seen(tmp_path):
    """The reader runs several statements (the ids' bounds, the retractions, the labels, the
    scores). A transcript another process adds between them, with an id needing one more bit
    than the largest before, would be read with the bounds taken before it (its id packed
    into too few bits): every statement reads one snapshot, so it is not seen at all."""
    path = tmp_path / "race.db"
    store = Store(path)
    store.insert_transcripts([record(i, labels=[]) for i in range(3)])
    for tid in store.transcript_ids():
        _add(store, tid, "goal_guarding", "alignment_faking", "yes", "classifier", "clf")
    before = rating_rows(agreement_labels(store, "goal_guarding"))
    other = Store(path)
    wrote = []

    def write_meanwhile(sql: str) -> None:
        if "transcript_id BETWEEN" in sql and not wrote:
            other.insert_transcripts([record(9, labels=[])])
            new = max(other.transcript_ids())
            assert new.bit_length() > max(store.transcript_ids()[:3]).bit_length()
            _add(other, new, "goal_guarding", "alignment_faking", "no", "classifier", "clf")
            wrote.append(new)

    store.db.conn.set_trace_callback(write_meanwhile)
    try:
        during = labels.current_label_columns(store)
    finally:
        store.db.conn.set_trace_callback(None)
    assert wrote, "the write must have happened between the reads"
    assert sorted(during.transcript_id.tolist()) == [r.transcript_id for r in before]
    after = rating_rows(agreement_labels(store, "goal_guarding"))
    assert [r.transcript_id for r in after] == [r.transcript_id for r in before] + wrote
    other.close()
    store.close()


class Helpers:
    """Watches the reader's helper connections: the statements they run, whether one has read
    a range, whether every one has closed. ``wait`` (given as ``on_progress``) holds the first
    connection after each of its ranges until a helper has read one or all have closed, so
    that on a database this small the helpers are sure to have had their chance."""

    def __init__(self, monkeypatch, before_open=None):
        import db.connection

        self.statements: list[str] = []
        self.read_a_range = threading.Event()
        self.open = 0
        self.closed = threading.Event()
        self.lock = threading.Lock()
        opened = db.connection.reading_connection

        @contextlib.contextmanager
        def watched(path):
            with self.lock:
                self.open += 1
            try:
                if before_open is not None:
                    before_open()
                with opened(path) as conn:
                    conn.set_trace_callback(self._ran)
                    yield conn
            finally:
                with self.lock:
                    self.open -= 1
                    if not self.open:
                        self.closed.set()

        monkeypatch.setattr(db.connection, "reading_connection", watched)

    def _ran(self, sql: str) -> None:
        self.statements.append(sql)
        if "transcript_id BETWEEN" in sql:
            self.read_a_range.set()

    def wait(self, done: int, total: int) -> None:
        for _ in range(1000):
            if self.read_a_range.is_set() or self.closed.is_set():
                return
            time.sleep(0.01)

    def ranges(self) -> int:
        return sum("transcript_id BETWEEN" in sql for sql in self.statements)


@pytest.mark.parametrize("ids", ["packed", "two texts"])
@pytest.mark.parametrize("readers", [2, 3])
def test_readers_sharing_the_ranges_give_what_one_reads(busy_store, monkeypatch, readers, ids):
    """Each group's range of transcripts is cut into parts that several connections read at
    once; put together they are exactly what one connection reads, order included."""
    if ids == "two texts":
        monkeypatch.setattr(labels, "_id_shift", lambda bounds: None)
    alone = labels.current_label_columns(busy_store, readers=1)
    one_rubric = labels.current_label_columns(busy_store, rubric_id="compliance", readers=1)
    assert len(alone) > 30
    helpers = Helpers(monkeypatch)
    shared = labels.current_label_columns(busy_store, readers=readers, on_progress=helpers.wait)
    assert helpers.ranges() > 0, "the helpers must have read some ranges"
    assert label_columns_as_dict(shared) == label_columns_as_dict(alone)
    rubric = labels.current_label_columns(busy_store, rubric_id="compliance", readers=readers)
    assert label_columns_as_dict(rubric) == label_columns_as_dict(one_rubric)


def test_a_reader_that_sees_other_labels_takes_no_part(tmp_path, monkeypatch):
    """A helper connection opened after another process appended a label has a later
    snapshot than the first connection's: it must read nothing, and what comes back is what
    the first connection's snapshot holds. One that cannot open leaves its work to the first."""
    path = tmp_path / "moved.db"
    store = Store(path)
    store.insert_transcripts([record(i, labels=[]) for i in range(6)])
    for tid in store.transcript_ids():
        _add(store, tid, "goal_guarding", "alignment_faking", "yes", "classifier", "clf")
    before = label_columns_as_dict(labels.current_label_columns(store, readers=1))
    other = Store(path)
    first = other.transcript_ids()[0]

    def write() -> None:
        _add(other, first, "goal_guarding", "alignment_faking", "no", "human", "a", phase="blind")

    helpers = Helpers(monkeypatch, before_open=write)
    during = labels.current_label_columns(store, readers=2, on_progress=helpers.wait)
    assert label_columns_as_dict(during) == before
    assert helpers.statements, "the helper must have opened"
    assert helpers.ranges() == 0

    def cannot_open(path):
        raise OSError("no more file handles")

    Helpers(monkeypatch, before_open=cannot_open)
    now = label_columns_as_dict(labels.current_label_columns(store, readers=3))
    assert len(now["event_id"]) == len(before["event_id"]) + 1
    other.close()
    store.close()


def test_events_taken_from_the_columns_are_the_current_events(busy_store):
    """Gold read from labels already read column-wise sees what reading each item's current
    events gives: the same events (revisions, retractions, an undo, an adjudication, imported
    labels) with the same ids, values, sources, raters and phases."""
    from db.dataset import labels_for

    current = labels.current_label_columns(busy_store, scores=False)
    ids = busy_store.transcript_ids()

    def seen(events):
        return [
            (e.id, e.transcript_id, e.rubric_id, e.field, e.value, e.source, e.rater, e.phase)
            for e in sorted(events, key=lambda e: e.id)
        ]

    for rubric in RUBRICS:
        for sources in (labels.GOLD_SOURCES, ("human",), ("classifier", "imported")):
            read = labels_for(busy_store, ids, rubric_ids=[rubric], sources=sources)
            taken = labels.events_of_columns(current, ids, rubric_id=rubric, sources=sources)
            assert {t: seen(e) for t, e in taken.items()} == {t: seen(e) for t, e in read.items()}
            assert read, (rubric, sources)
            gold = {
                t: labels.gold_for_item(read[t], ["alignment_faking", "compliance"]) for t in read
            }
            assert gold == {
                t: labels.gold_for_item(taken[t], ["alignment_faking", "compliance"]) for t in taken
            }
    assert labels.events_of_columns(current, ids, rubric_id="no such rubric") == {}
    assert labels.events_of_columns(current, [], rubric_id="goal_guarding") == {}
