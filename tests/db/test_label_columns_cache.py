"""The cache of live labels gives exactly what a read of the index gives, and is only a saving.

``current_label_columns`` keeps the live labels of rubric fields as of one event in
``label_columns_cache`` and, at the next read, adds the events written since. Whatever was
written in between (labels, revisions, retractions, undone acts, new raters, values and
transcripts), the columns must equal a fresh read's, value lists and order included. The
cache is written only when the write lock is free at once and nothing was added meanwhile;
a busy or read-only database is read as before.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import Store, labels
from tests.factory import label_columns_as_dict, play_label_act
from tests.factory import labeler_transcript as record

HOLDER = Path(__file__).resolve().parents[1] / "lock_holder.py"


def _cached(store: Store):
    return store.execute("SELECT last_event FROM label_columns_cache")


def _same_as_fresh(store: Store) -> None:
    fresh = label_columns_as_dict(labels.current_label_columns(store, cache=False))
    assert label_columns_as_dict(labels.current_label_columns(store, cache=True)) == fresh
    # Read again: now from the cache just written, with nothing new to add.
    assert label_columns_as_dict(labels.current_label_columns(store, cache=True)) == fresh


def _label(store, tid, field, value, source, rater, **kw):
    rubric = "compliance" if field == "compliance" else "goal_guarding"
    return labels.append(
        store, tid, rubric_id=rubric, field=field, value=value, source=source, rater=rater, **kw
    )


ACTS = st.lists(
    st.one_of(
        st.tuples(
            st.just("label"),
            st.integers(0, 5),
            st.sampled_from(["alignment_faking", "motivation", "compliance"]),
            st.sampled_from(["yes", "no", ["other"], [], None, "full\x1epart", 3]),
            st.sampled_from(["classifier", "human", "imported", "adjudication"]),
            st.sampled_from(["clf-a", "clf-b", "ann", "bob", "gold", "odd\x1frater", "é"]),
        ),
        st.tuples(st.just("commit"), st.integers(0, 5), st.sampled_from(["ann", "bob"])),
        st.tuples(st.just("retract"), st.integers(0, 40)),
        st.tuples(st.just("undo"), st.sampled_from(["ann", "bob"])),
        st.tuples(st.just("flag"), st.integers(0, 5)),
        st.tuples(
            st.just("transcript"),
        ),
        st.tuples(
            st.just("read"),
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(acts=ACTS)
def test_the_cache_brought_up_to_date_is_a_fresh_read(tmp_path_factory, acts):
    store = Store(tmp_path_factory.mktemp("cache") / "cache.db")
    store.insert_transcripts([record(i, labels=[]) for i in range(6)])
    events: list[int] = []
    try:
        for act in acts:
            if play_label_act(
                store,
                act,
                events,
                commit_values=lambda k: {"alignment_faking": "yes", "motivation": ["other"]},
            ):
                continue
            tids = store.transcript_ids()
            kind = act[0]
            if kind == "flag":
                labels.record_meta(
                    store,
                    tids[act[1] % len(tids)],
                    annotator="ann",
                    rubric_id="goal_guarding",
                    rubric_hash=None,
                    kind="_flag",
                )
            elif kind == "transcript":
                store.insert_transcripts([record(len(tids) + 100, labels=[])])
            else:  # a read between writes: the next one starts from the cache
                labels.current_label_columns(store, cache=True)
        _same_as_fresh(store)
    finally:
        store.close()


@pytest.fixture
def labelled(store: Store) -> Store:
    store.insert_transcripts([record(i, labels=[]) for i in range(8)])
    for tid in store.transcript_ids():
        _label(store, tid, "alignment_faking", "yes" if tid % 2 else "no", "classifier", "clf")
    return store


def test_the_cache_is_written_and_taken(labelled, monkeypatch):
    assert _cached(labelled) == []
    labels.current_label_columns(labelled, cache=True)
    assert _cached(labelled) == [(max(e.id for e in labelled.events()),)]
    # Taken as it is: the index is not read again.
    monkeypatch.setattr(labels, "_read_live", lambda *a: pytest.fail("read the index"))
    labels.current_label_columns(labelled, cache=True)
    # A few events after it are added at each read; the cache is rewritten only once many
    # have come.
    first = _cached(labelled)
    _label(labelled, labelled.transcript_ids()[0], "alignment_faking", "no", "human", "bob")
    labels.current_label_columns(labelled, cache=True)
    assert _cached(labelled) == first
    monkeypatch.setattr(labels, "CACHE_REWRITE_NEW", 1)
    labels.current_label_columns(labelled, cache=True)
    assert _cached(labelled) == [(first[0][0] + 1,)]
    # Too many events after it: the index is read (and the cache rewritten).
    monkeypatch.setattr(labels, "CACHE_MAX_NEW", 0)
    _label(labelled, labelled.transcript_ids()[0], "alignment_faking", "no", "human", "ann")
    with pytest.raises(pytest.fail.Exception, match="read the index"):
        labels.current_label_columns(labelled, cache=True)


def test_a_damaged_cache_is_not_taken(labelled):
    before = label_columns_as_dict(labels.current_label_columns(labelled, cache=False))
    labels.current_label_columns(labelled, cache=True)
    labelled.db.conn.execute("UPDATE label_columns_cache SET labels = x'0102'")
    assert label_columns_as_dict(labels.current_label_columns(labelled, cache=True)) == before
    labelled.db.conn.execute("UPDATE label_columns_cache SET keys = 'not json'")
    assert label_columns_as_dict(labels.current_label_columns(labelled, cache=True)) == before
    labelled.db.conn.execute("UPDATE label_columns_cache SET format = 99")
    assert label_columns_as_dict(labels.current_label_columns(labelled, cache=True)) == before


def test_a_busy_database_is_read_without_waiting_and_the_cache_left(labelled):
    path = labelled.path
    holder = subprocess.Popen(
        [sys.executable, str(HOLDER), str(path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        import time

        started = time.monotonic()
        current = labels.current_label_columns(labelled, cache=True)
        assert time.monotonic() - started < 5, "the cache must never wait for the lock"
        assert len(current) == 8
        assert _cached(labelled) == []
    finally:
        holder.kill()
        holder.wait()


def test_a_label_added_before_the_cache_is_written_keeps_it_out(labelled, monkeypatch):
    """The cache is the read's snapshot: if another connection appends an event between the
    read and the cache's write, the cache would miss it, so it is not written."""
    other = Store(labelled.path)
    store_cache = labels._store_cache

    def after_a_write(conn, live):
        _label(other, other.transcript_ids()[0], "alignment_faking", "no", "human", "ann")
        store_cache(conn, live)

    monkeypatch.setattr(labels, "_store_cache", after_a_write)
    labels.current_label_columns(labelled, cache=True)
    assert _cached(labelled) == []
    monkeypatch.setattr(labels, "_store_cache", store_cache)
    _same_as_fresh(labelled)
    other.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_is_read(labelled):
    path = labelled.path
    labelled.close()
    before = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, 0o444)
    try:
        store = Store(path)
        assert len(labels.current_label_columns(store, cache=True)) == 8
        store.close()
    finally:
        os.chmod(path, before)


def test_a_read_only_connection_reads_and_leaves_the_cache(labelled):
    labelled.db.conn.execute("PRAGMA query_only = ON")
    try:
        assert len(labels.current_label_columns(labelled, cache=True)) == 8
    finally:
        labelled.db.conn.execute("PRAGMA query_only = OFF")
    assert _cached(labelled) == []


def test_labels_added_after_the_cache_take_the_index_order(labelled):
    """New labels of a group the cache holds go where the index has them: by transcript,
    then by event, not after the cached ones."""
    tids = labelled.transcript_ids()
    labels.current_label_columns(labelled, cache=True)
    for tid in reversed(tids[:4]):  # same group as cached labels, lower transcripts first
        _label(labelled, tid, "alignment_faking", "no", "classifier", "clf")
        _label(labelled, tid, "alignment_faking", "yes", "classifier", "other")
    labelled.retract(_label(labelled, tids[5], "alignment_faking", "no", "classifier", "new"))
    _same_as_fresh(labelled)


def test_doctor_finds_a_cache_that_differs_and_repair_drops_it(labelled):
    import numpy as np

    from db.doctor import OK, PROBLEM, examine, repair

    path = labelled.path
    assert labels.label_cache_state(labelled.db.conn) == "none"
    labels.current_label_columns(labelled, cache=True)
    _label(labelled, labelled.transcript_ids()[1], "alignment_faking", "no", "human", "ann")
    assert labels.label_cache_state(labelled.db.conn) == "ok"  # behind, brought up to date
    # One cached transcript changed: still a well-formed cache, but a wrong one.
    (tids,) = labelled.execute("SELECT labels FROM label_columns_cache")[0]
    wrong = np.frombuffer(tids, dtype=np.int64).copy()
    wrong[0] += 1
    with labelled.transaction() as db:
        db.conn.execute("UPDATE label_columns_cache SET labels = ?", (wrong.tobytes(),))
    labelled.close()
    before = examine(path)
    assert before.check("label cache").status == PROBLEM and not before.healthy
    assert any("dropped the cache" in done for done in repair(path, before))
    after = examine(path)
    assert after.check("label cache").status == OK and after.healthy


def test_ids_too_large_to_pack_are_kept_apart(labelled):
    """Event ids that do not fit beside the transcript ids in 63 bits are stored as two
    arrays; either way the cache reads back what was kept."""
    import numpy as np

    conn = labelled.db.conn
    last = labelled.execute("SELECT MAX(id) FROM label_events")[0][0]
    for top in (7, 2**60):
        live = labels._Live(
            last,
            [("r", "f", "classifier", "c", "", labels._NULL)],
            [np.asarray([1, top], dtype=np.int64)],
            [np.asarray([3, 2**20], dtype=np.int64)],
        )
        labels._store_cache(conn, live)
        (shift,) = labelled.execute("SELECT shift FROM label_columns_cache")[0]
        assert (shift is None) == (top > 7)
        back = labels._cached_live(conn, last)
        assert back.keys == live.keys
        assert back.ids[0].tolist() == [1, top] and back.tids[0].tolist() == [3, 2**20]


def test_a_blob_among_the_values_is_read_and_never_cached(labelled):
    """A value stored as a blob (only raw SQL can) is read as the index has it; the cache,
    which holds text keys only, is not written rather than failing."""
    labelled.db.conn.execute(
        "INSERT INTO label_events (transcript_id, rubric_id, field, value, source, rater, "
        "created_at) SELECT transcript_id, rubric_id, field, X'01', source, 'raw', created_at "
        "FROM label_events LIMIT 1"
    )
    fresh = label_columns_as_dict(labels.current_label_columns(labelled, cache=False))
    assert label_columns_as_dict(labels.current_label_columns(labelled, cache=True)) == fresh
    assert _cached(labelled) == []
