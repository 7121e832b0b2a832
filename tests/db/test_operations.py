"""Operations on a shared database: imports and runs left running by a killed process are
reconciled at the next open, a backup taken while others write holds exactly what was
committed when it began, and ``reviewer doctor`` finds (and repairs) what it says it does.
Real processes, real files, SIGKILL."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store, labels
from db.backup import BackupError, backup
from db.doctor import examine, repair
from reviewer.cli import cli
from tests.factory import add_transcripts, register_rubric

pytestmark = pytest.mark.slow  # real processes killed at random

ROOT = Path(__file__).resolve().parent.parent.parent

# A process that starts an import (and a classifier run), commits some transcripts and a
# label under it, says so, then waits to be killed.
STUCK = textwrap.dedent(
    """
    import sys, time
    from db import Store, labels
    from db import classifier as cdb
    from db.models import TranscriptRecord
    store = Store(sys.argv[1])
    import_id = store.begin_import("batch.jsonl", "chat", sha256=None, size_bytes=1,
                                   importer_version="t")
    store.insert_transcripts([TranscriptRecord(user_input="u", turns=[], scratchpad=f"s{i}",
                                               output=f"o{i}", model="m")
                              for i in range(7)], import_id=import_id)
    rubric_hash = store.register_rubric("goal_guarding", "1", "x", "h1")
    run_id = cdb.create_run(store, name="run", provider="p", model="m", rubric_hash="h1",
                            params={"key": "k"}, prompt_hash="p", base_url=None,
                            mode="online", max_cost_usd=None)
    labels.write_classifier_labels(store, [dict(transcript_id=1, rubric_id="goal_guarding",
        field="alignment_faking", value="yes", rater="run", run_id=run_id)])
    print(import_id, run_id, flush=True)
    time.sleep(120)
    """
)


def start_stuck(db: Path) -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    import_id, run_id = map(int, proc.stdout.readline().split())
    return proc, import_id, run_id


def row(store: Store, table: str, row_id: int) -> dict:
    cur = store.db.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    return dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))


def test_a_killed_import_and_run_are_reconciled_at_the_next_open(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proc, import_id, run_id = start_stuck(db)
    try:
        alive = Store(db)  # its process still runs: left alone
        assert alive.reconciled == []
        assert row(alive, "imports", import_id)["status"] == "running"
        alive.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = Store(db)
    kinds = {(r.kind, r.id): r for r in store.reconciled}
    assert set(kinds) == {("import", import_id), ("run", run_id)}
    imported = row(store, "imports", import_id)
    assert imported["status"] == "interrupted"
    assert imported["n_new"] == 7  # the true count, not the 0 it started with
    assert kinds[("import", import_id)].n_labels == 0
    assert "7 new transcript(s)" in json.loads(imported["errors"])[-1]["reason"]
    run = row(store, "classifier_runs", run_id)
    assert run["status"] == "interrupted" and "labels on 1 transcript(s)" in run["note"]
    # ... and `info` shows them as such.
    result = CliRunner().invoke(cli, ["--db", str(db), "info", "--json"])
    unfinished = {(u["kind"], u["status"]) for u in json.loads(result.output)["unfinished"]}
    assert unfinished == {("import", "interrupted"), ("run", "interrupted")}
    assert "Not finished" in CliRunner().invoke(cli, ["--db", str(db), "info"]).output
    # Reconciled once: the next open finds nothing to do.
    assert Store(db).reconciled == []


def test_a_reused_pid_is_not_taken_for_the_original_process(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    import_id = store.begin_import("f", "chat", sha256=None, size_bytes=1, importer_version="t")
    # Our own pid, but a start time that is not ours: the process that began it has ended.
    store.db.conn.execute("UPDATE imports SET pid_started = '1' WHERE id = ?", (import_id,))
    store.close()
    assert [r.id for r in Store(tmp_path / "p.db").reconciled] == [import_id]


# -- backup ---------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from db import Store, labels
    store = Store(sys.argv[1])
    for i in range(int(sys.argv[2])):
        labels.append(store, 1 + i % 20, rubric_id="goal_guarding", field="alignment_faking",
                      value="yes", source="human", rater=sys.argv[3], phase="blind")
    """
)


def test_a_backup_while_writers_run_holds_what_was_committed_when_it_began(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    store = Store(db)
    add_transcripts(store, per_stratum=5)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), "1500", f"w{i}"], cwd=ROOT)
        for i in range(4)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(labels.events(store)) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)  # until the writers are well under way
        report = backup(db, tmp_path / "copy.db", pages_per_step=1)
    finally:
        for w in writers:
            w.wait(timeout=120)
    assert report.integrity == "ok"
    copy = Store(tmp_path / "copy.db")
    in_copy = len(labels.events(copy))
    assert in_copy == report.row_counts["label_events"]
    # Every event in the copy is the source's event with that id: a prefix, nothing torn.
    source_events = {e.id: e for e in labels.events(store)}
    assert len(source_events) == 6000
    assert 300 <= in_copy < 6000, "the copy should have been taken mid-way"
    assert all(source_events[e.id] == e for e in labels.events(copy))
    assert sorted(e.id for e in labels.events(copy)) == sorted(source_events)[:in_copy]


def test_backup_refuses_what_it_should(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    add_transcripts(store, per_stratum=1)
    (tmp_path / "taken.db").write_text("keep me")
    with pytest.raises(BackupError, match="exists: choose another path or pass --overwrite"):
        backup(store.path, tmp_path / "taken.db")
    assert (tmp_path / "taken.db").read_text() == "keep me"
    with pytest.raises(BackupError, match="the database itself"):
        backup(store.path, store.path, overwrite=True)
    with pytest.raises(BackupError, match="does not exist"):
        backup(store.path, tmp_path / "no" / "such" / "x.db")
    with pytest.raises(BackupError, match="no database at"):
        backup(tmp_path / "missing.db", tmp_path / "x.db")
    (tmp_path / "notdb.db").write_bytes(b"plain text, not sqlite" * 100)
    with pytest.raises(BackupError, match="not a reviewer database"):
        backup(tmp_path / "notdb.db", tmp_path / "y.db")
    result = CliRunner().invoke(
        cli, ["--db", str(store.path), "backup", str(tmp_path / "taken.db"), "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert sqlite3.connect(tmp_path / "taken.db").execute("PRAGMA journal_mode").fetchone() == (
        "delete",
    )
    assert not list(tmp_path.glob(".*partial*"))


# -- doctor ---------------------------------------------------------------------------------


def test_doctor_finds_and_repairs_a_dropped_guard_and_a_stale_index(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    store = Store(db)
    add_transcripts(store, per_stratum=2)
    register_rubric(store)
    labels.append(
        store,
        1,
        rubric_id="goal_guarding",
        field="alignment_faking",
        value="yes",
        source="human",
        rater="ann",
        phase="blind",
    )
    store.close()
    runner = CliRunner()
    healthy = runner.invoke(cli, ["--db", str(db), "doctor"])
    assert healthy.exit_code == 0 and "healthy" in healthy.output
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("DROP TRIGGER label_events_no_replace")
    raw.execute("DROP TRIGGER label_events_no_update")
    raw.execute("UPDATE transcripts SET scratchpad = 'changed behind the index' WHERE id = 2")
    # With the guard gone, REPLACE would overwrite an event: the hole doctor must notice.
    raw.execute(
        "REPLACE INTO label_events(id, transcript_id, rubric_id, field, value, source, "
        "rater, created_at) VALUES (1, 1, 'goal_guarding', 'alignment_faking', '\"no\"',"
        " 'human', 'ann', 'x')"
    )
    raw.close()
    sick = runner.invoke(cli, ["--db", str(db), "doctor", "--json"])
    assert sick.exit_code == 1
    report = json.loads(sick.output)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status["triggers and view"] == "problem"
    assert status["full-text index"] == "problem"
    assert not report["healthy"]
    assert set(examine(db).check("triggers and view").facts["missing"]) == {
        "label_events_no_replace",
        "label_events_no_update",
    }
    fixed = runner.invoke(cli, ["--db", str(db), "doctor", "--repair", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.output)["healthy"]
    conn = Store(db).db.conn
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(
            "REPLACE INTO label_events(id, transcript_id, rubric_id, field, source, "
            "rater, created_at) VALUES (1, 1, 'g', 'f', 'human', 'ann', 'x')"
        )
    assert Store(db).search("behind the index") == [2]


def test_doctor_reports_orphans_and_stale_runs_and_a_non_database(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    proc, import_id, _run_id = start_stuck(db)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("DELETE FROM transcripts WHERE id = 1")  # the label on it is now an orphan
    raw.close()
    exam = examine(db)  # examining reconciles nothing: it reports the database as it is
    assert exam.check("unfinished imports").status == "problem"
    assert exam.check("unfinished imports").facts == {"gone": 1}
    assert exam.check("orphans").facts["label_events_without_transcript"] == 1
    assert exam.check("foreign keys").status == "problem"
    done = repair(db, exam)
    assert any(f"import {import_id} interrupted" in d for d in done)
    after = examine(db)
    assert after.check("unfinished imports").status == "warning"  # interrupted: run again
    assert after.check("orphans").status == "problem"  # never deleted, only reported
    assert not after.healthy
    (tmp_path / "x.db").write_text("not a database at all, just words" * 50)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "doctor"])
    assert result.exit_code == 1 and "not a SQLite database" in result.output


# -- crash recovery (the long version: .venv/bin/python -m bench operations) ----------------


def test_labelers_an_import_and_a_run_killed_at_random_lose_nothing_and_rerun_cleanly(
    tmp_path: Path,
) -> None:
    from bench.bench_operations import crash_rounds

    result = crash_rounds(tmp_path, rounds=3, n_import=600, seed=1, n_items=200, pause=0.01)
    assert result["sigkills"]["labeler"] + result["sigkills"]["import"] >= 3
    assert result["committed_labels_lost"] == 0
    assert result["integrity_or_stuck_failures"] == 0
    done, checked = map(int, result["killed_imports_reconciled_with_true_counts"].split(" of "))
    assert done == checked
    assert result["final_import_exit_status"] == 0
    assert result["live_human_labels"] == result["expected_human_labels"] == 4 * 200
    assert result["rater_items_with_more_than_one_label"] == 0
    assert result["imported_transcripts"] == result["imported_labels"] == 600
    done, checked = map(int, result["killed_runs_reconciled_as_interrupted"].split(" of "))
    assert done == checked
    assert result["final_classify_exit_status"] == 0
    assert result["classified_items"] == 200 + 600
    assert result["classifier_labels_written_more_than_once"] == 0
    assert result["final_integrity"] == "ok"
