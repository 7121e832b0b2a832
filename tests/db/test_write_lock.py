"""Writers wait for each other: a busy database makes a writer wait, never fail, and what
cannot be written after the wait is refused whole. Real processes, real database files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from db import Store, labels
from db.connection import DatabaseBusyError
from tests.factory import fill
from tests.locking import hold_lock

pytestmark = pytest.mark.slow  # real processes holding the write lock

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_write_waits_out_another_process_and_is_told_it_waits(store: Store) -> None:
    fill(store, 2)
    waits: list[float] = []
    store.on_busy = waits.append
    holder = hold_lock(store.path, 1.6)
    try:
        eid = labels.append(
            store,
            1,
            rubric_id="goal_guarding",
            field="alignment_faking",
            value="yes",
            source="human",
            rater="ann",
            phase="blind",
        )
    finally:
        holder.wait(timeout=30)
    assert labels.live_event(store, eid).value == "yes"
    assert waits and waits[0] >= 1.0


def test_a_write_that_cannot_wait_long_enough_writes_nothing(store: Store) -> None:
    fill(store, 2)
    before = len(labels.events(store))
    store.write_wait_seconds = 0.3
    holder = hold_lock(store.path, 2.0)
    try:
        with pytest.raises(DatabaseBusyError, match="nothing was written"):
            labels.commit_label(
                store,
                1,
                annotator="ann",
                rubric_id="goal_guarding",
                rubric_hash=None,
                values={"alignment_faking": "yes"},
            )
    finally:
        holder.wait(timeout=30)
    assert len(labels.events(store)) == before


WRITER = textwrap.dedent(
    """
    import sys
    from db import Store, labels
    store = Store(sys.argv[1])
    name, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        tid = 1 + i % 12
        labels.commit_label(store, tid, annotator=name, rubric_id="goal_guarding",
                            rubric_hash=None, values={"alignment_faking": "yes" if i % 2 else "no"})
        if i % 5 == 4:
            labels.undo_last_act(store, name)
        if i % 7 == 0:
            labels.record_meta(store, tid, annotator=name, rubric_id="goal_guarding",
                               rubric_hash=None, kind="_flag")
    print("ok")
    """
)


def test_annotators_writing_at_once_lose_nothing(store: Store) -> None:
    """Four processes commit, undo and flag as fast as they can on one database: every act
    lands (the deferred transactions of the first release lost about one in five)."""
    fill(store, 12)
    n = 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store.path), f"w{k}", str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in outs]
    for k in range(4):
        mine = labels.events(store, rater=f"w{k}")
        commits = [e for e in mine if e.field == "alignment_faking" and e.retracts is None]
        undos = [e for e in mine if e.retracts is not None]
        flags = [e for e in mine if e.field == "_flag" and e.retracts is None]
        assert len(commits) == n
        assert len(flags) == len(range(0, n, 7))
        assert len(undos) == n // 5  # every undo retracted exactly one act
    conn = store.db.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    doubled = conn.execute(
        "SELECT COUNT(*) FROM (SELECT retracts FROM label_events WHERE "
        "retracts IS NOT NULL GROUP BY retracts HAVING COUNT(*) > 1)"
    )
    assert doubled.fetchone()[0] == 0


def test_an_import_waits_for_another_writer_and_completes(tmp_path: Path) -> None:
    from tests.factory import openai_record, write_jsonl

    db = tmp_path / "busy.db"
    Store(db).close()
    source = write_jsonl(tmp_path / "chats.jsonl", [openai_record() for _ in range(1)])
    holder = hold_lock(db, 2.5)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from reviewer.cli import main; main()",
                "--db",
                str(db),
                "import",
                str(source),
                "--model",
                "gpt-x",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert Store(db).transcript_count() == 1
