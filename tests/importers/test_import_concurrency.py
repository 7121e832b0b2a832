"""An import never holds the write lock long: others writing at the same time lose nothing.

And an import stopped during its copy leaves whole chunks only; running it again completes it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import db.staging
from bench.bench_import import make_record
from db import Store
from importers.run import Progress, import_file
from tests.factory import hughes_results_path

pytestmark = pytest.mark.slow  # concurrent writers and interrupted imports

N_RECORDS = 300
LABELS_PER_RECORD = 5  # bench records carry all four classifiers and a compliance verdict


@pytest.fixture
def results_file(tmp_path) -> Path:
    rng = random.Random(7)
    path = hughes_results_path(tmp_path / "in")
    path.write_text(json.dumps([make_record(rng, i) for i in range(N_RECORDS)], indent=4))
    return path


@pytest.fixture
def small_chunks(monkeypatch):
    """Many short copy transactions, so that a test of a few hundred records sees many."""
    monkeypatch.setattr(db.staging, "FIRST_CHUNK_ROWS", 10)
    monkeypatch.setattr(db.staging, "MAX_CHUNK_ROWS", 25)
    monkeypatch.setattr(db.staging, "CHUNK_SECONDS", 0.05)


def _seed_transcript(store: Store, tmp_path: Path) -> int:
    path = hughes_results_path(tmp_path / "seed", model="seed-model")
    path.write_text(json.dumps([make_record(random.Random(1), 10_000)]))
    assert import_file(store, path).status == "done"
    return store.transcript_ids()[0]


def _leftover_staging(db_path: Path) -> list[Path]:
    return sorted(db_path.parent.glob(db_path.name + ".import-*"))


def test_a_second_writer_loses_nothing_while_a_large_import_runs(
    store, tmp_path, results_file, small_chunks
):
    transcript_id = _seed_transcript(store, tmp_path)
    done = threading.Event()
    written: list[float] = []  # commit times of the writer's label events
    failures: list[BaseException] = []

    def writer() -> None:
        # Another process's view: its own connection, and a short patience of 2 s.
        other = Store(store.path)
        other.db.conn.execute("PRAGMA busy_timeout = 2000")
        i = 0
        try:
            while not done.is_set() or i < 3:
                other.append_label(
                    transcript_id,
                    rubric_id="goal_guarding",
                    field="_comment",
                    value=f"note {i}",
                    source="human",
                    rater="annotator",
                )
                written.append(time.perf_counter())
                i += 1
                time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)
        finally:
            other.close()

    chunks: list[float] = []

    class Chunks(Progress):
        def copied(self, records_done: int, records_total: int) -> None:
            chunks.append(time.perf_counter())

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = import_file(store, results_file, progress=Chunks())
    finally:
        done.set()
        thread.join(timeout=30)
    assert not failures, failures
    assert (result.status, result.n_new, result.n_labels) == (
        "done",
        N_RECORDS,
        N_RECORDS * LABELS_PER_RECORD,
    )
    # Every write the annotator made is in the database, once.
    notes = store.events(rater="annotator")
    assert [e.value for e in notes] == [f"note {i}" for i in range(len(written))]
    # And they were not merely queued behind the import: some landed between its chunks.
    assert len(chunks) >= 5
    during = [t for t in written if chunks[0] < t < chunks[-1]]
    assert len(during) >= 3, (len(during), len(chunks))
    assert store.transcript_count() == N_RECORDS + 1
    assert _leftover_staging(store.path) == []


@pytest.mark.parametrize(
    ("stop", "status"), [(KeyboardInterrupt, "interrupted"), (OSError, "failed")]
)
def test_an_import_stopped_mid_copy_is_completed_by_running_it_again(
    store, results_file, small_chunks, monkeypatch, stop, status
):
    original = db.staging._copy_chunk
    calls = []

    def stop_at_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise stop("stopped")
        return original(*args, **kwargs)

    monkeypatch.setattr(db.staging, "_copy_chunk", stop_at_the_third_chunk)
    monkeypatch.setattr(db.staging, "PAUSE_SECONDS", 0.0)  # nobody else is writing here
    with pytest.raises(stop):
        import_file(store, results_file)
    partial = store.transcript_count()
    first = store.imports()[-1]
    assert first["status"] == status and first["n_new"] == partial
    assert 0 < partial < N_RECORDS
    # Whole chunks only: every transcript in has all its labels.
    assert len(store.events()) == partial * LABELS_PER_RECORD
    assert _leftover_staging(store.path) == []

    monkeypatch.setattr(db.staging, "_copy_chunk", original)
    again = import_file(store, results_file)
    assert (again.status, again.n_new, again.n_duplicate) == (
        "done",
        N_RECORDS - partial,
        partial,
    )
    assert store.transcript_count() == N_RECORDS
    assert len(store.events()) == N_RECORDS * LABELS_PER_RECORD
    per_transcript = store.execute(
        "SELECT COUNT(*) FROM label_events GROUP BY transcript_id HAVING COUNT(*) != ?",
        (LABELS_PER_RECORD,),
    )
    assert per_transcript == []
    assert (
        len(store.search("free tier", limit=10_000))
        == store.execute(
            "SELECT COUNT(*) FROM transcripts WHERE scratchpad LIKE '%free tier%' "
            "OR output LIKE '%free tier%'"
        )[0][0]
    )


def test_staging_files_of_killed_imports_are_removed_and_live_ones_kept(store):
    # A pid no process has now: a child that has exited and been reaped.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = store.path.with_name(f"{store.path.name}.import-7-{child.pid}.staging")
    live = store.path.with_name(f"{store.path.name}.import-8-{os.getppid()}.staging")
    other_db = store.path.with_name(f"other.db.import-9-{child.pid}.staging")
    for path in (dead, live, other_db):
        path.write_bytes(b"left over")
    assert db.staging.remove_stale_staging(store.path) == [dead]
    assert not dead.exists() and live.exists() and other_db.exists()


def _rows(store: Store) -> dict[str, list[tuple]]:
    return {
        "transcripts": store.execute(
            "SELECT uid, dataset, model, condition, prompt_variant, system_prompt_hash, "
            "user_input, scratchpad, scratchpad_blocks, output, turns, source_path, "
            "source_ref, metadata FROM transcripts ORDER BY id"
        ),
        "labels": store.execute(
            "SELECT t.uid, e.rubric_hash, e.rubric_id, e.field, e.value, e.source, e.rater, "
            "e.phase, e.score, e.scores, e.evidence, e.note FROM label_events e "
            "JOIN transcripts t ON t.id = e.transcript_id ORDER BY e.id"
        ),
        "prompts": store.execute("SELECT hash, text FROM prompts ORDER BY hash"),
    }


def _staged_and_direct(tmp_path: Path, files: list[tuple[Path, str, object]]):
    """The same files through import_file (staging) and Store.insert_transcripts."""
    from importers.base import reader_for
    from importers.run import _rubric_versions

    staged, direct = Store(tmp_path / "staged.db"), Store(tmp_path / "direct.db")
    for path, fmt, options in files:
        assert import_file(staged, path, fmt=fmt, options=options).status == "done"
        rubrics = _rubric_versions(fmt, options)
        for r in rubrics:
            direct.register_rubric(r.id, r.version, r.source_text, r.content_hash, r.origin)
        direct.insert_transcripts(
            list(reader_for(fmt)(path, options)),
            rubric_hashes={r.id: r.content_hash for r in rubrics},
        )
    return _rows(staged), _rows(direct)


def test_staged_rows_are_what_the_store_would_write(tmp_path, results_file):
    """The staging path encodes records itself; it must store exactly what
    Store.insert_transcripts stores for the same records (uid, JSON columns, labels)."""
    from importers.base import ImportOptions

    staged, direct = _staged_and_direct(tmp_path, [(results_file, "hughes", ImportOptions())])
    assert staged == direct
    assert len(staged["labels"]) == N_RECORDS * LABELS_PER_RECORD


def test_labels_on_known_transcripts_and_repeated_records_follow_the_store(tmp_path):
    """A second rater's file over known transcripts adds its labels; a record repeated in a
    file (even at its very end) adds the labels the first did not carry; nothing twice."""
    from importers.base import ImportOptions

    first = tmp_path / "ann.csv"
    first.write_text("text,label\nA,yes\nB,no\n", encoding="utf-8")
    second = tmp_path / "bob.csv"
    second.write_text("text,label\nB,yes\nA,no\nB,yes\nB,no\n", encoding="utf-8")
    maps = {"scratchpad": "text", "label.alignment_faking": "label"}
    ann, bob = ImportOptions(maps=maps, rater="ann"), ImportOptions(maps=maps, rater="bob")
    files = [(first, "table", ann), (second, "table", bob), (second, "table", bob)]
    staged, direct = _staged_and_direct(tmp_path, files)
    assert staged == direct
    text = {row[0]: row[7] for row in staged["transcripts"]}  # uid -> scratchpad
    labels = [(text[row[0]], row[6], row[4]) for row in staged["labels"]]
    assert labels == [
        ("A", "ann", '"yes"'),
        ("B", "ann", '"no"'),
        ("B", "bob", '"yes"'),
        ("A", "bob", '"no"'),
        ("B", "bob", '"no"'),
    ]
