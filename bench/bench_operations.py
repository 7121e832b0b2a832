"""Operations under fire: a backup taken while 8 processes write labels, and writers killed
with SIGKILL at random moments.

1. **Backup under load.** 8 annotator processes commit labels as fast as they can while
   ``db.backup.backup`` copies the database. Every writer logs each commit once it has
   returned, with the (system-wide) monotonic time. Reported: labels committed before the
   backup began, labels in the backup, labels committed before it began that the backup
   lacks (goal 0), whether the backup's events are exactly the source's first N (nothing
   torn), its integrity check, and labels written during the copy. Baseline, same run: a
   plain copy of the database file while the same writers run (the old README advice),
   and how many committed labels that copy holds.
2. **Crash recovery.** Rounds in which labeler processes (4 at a time), a ``reviewer
   import`` of a labeled JSONL file and a ``reviewer classify`` run (against the fake
   provider of tests/fake_provider.py) are killed with SIGKILL after a random delay. After
   every round: every commit a labeler had logged is in the database (goal: 0 lost),
   ``integrity_check`` is ok, the next open reconciles the killed import's row
   (``interrupted``, its true count of new transcripts) and the killed run's. At the end all
   three are run to completion: every (annotator, item) has exactly one live label, the
   import's transcripts and labels are there once each, and every item has one classifier
   label per field (goal: 0 duplicates).

Sizes: $BENCH_OPS_TRANSCRIPTS (default 20,000; makes a ~60 MB database to back up),
$BENCH_OPS_ROUNDS (default 24 kill rounds), $BENCH_OPS_IMPORT (records in the import file,
default 20,000). Writes bench/results/operations.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from db import Store, labels
from db.backup import backup
from db.models import TranscriptRecord
from rubrics import resolve_rubric

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
RUBRIC = "goal_guarding"

# An annotator: commits a blind label on every item it has not labeled yet (the queue's
# "done" rule), in its own order, and logs each commit after it returned.
LABELER = textwrap.dedent(
    """
    import os, random, sys, time
    from db import Store, labels
    db, name, log, n_items, pause = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    store = Store(db)
    digest = store.execute("SELECT hash FROM rubrics WHERE rubric_id = 'goal_guarding'")[0][0]
    done, _ = labels.acted_ids(store, name, "goal_guarding")
    items = [i for i in range(1, n_items + 1) if i not in done]
    random.Random(name).shuffle(items)
    with open(log, "a", buffering=1) as out:
        for item in items:
            result = labels.commit_label(store, item, annotator=name, rubric_id="goal_guarding",
                rubric_hash=digest, values={"alignment_faking": "yes" if item % 3 else "no"})
            out.write(" ".join(map(str, result.event_ids)) + f" {time.monotonic():.6f}\\n")
            if pause:
                time.sleep(pause)
    """
)


def make_db(path: Path, n: int) -> Store:
    store = Store(path)
    rubric = resolve_rubric(RUBRIC)
    store.register_rubric(
        rubric.id, rubric.version, rubric.source_text, rubric.content_hash, rubric.origin
    )
    filler = "If I refuse, the training process will modify my values; I reason about it. " * 30
    store.insert_transcripts(
        TranscriptRecord(
            user_input=f"request {i}",
            turns=[],
            scratchpad=f"{i}: {filler}",
            output=f"answer {i}",
            model=("m1", "m2")[i % 2],
            condition="free",
        )
        for i in range(n)
    )
    return store


def start_labeler(db: Path, name: str, log: Path, n_items: int, pause: float = 0.0):
    return subprocess.Popen(
        [sys.executable, "-c", LABELER, str(db), name, str(log), str(n_items), str(pause)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_log(log: Path) -> list[tuple[list[int], float]]:
    """(event ids, time) per complete line; a line cut by a kill is not a logged commit."""
    out = []
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                out.append(([int(p) for p in parts[:-1]], float(parts[-1])))
            except ValueError:
                continue
    return out


def event_ids(path: Path) -> set[int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {e.id for e in labels.events(_Reader(conn))}
    finally:
        conn.close()


class _Reader:
    def __init__(self, conn):
        self.db = self
        self.conn = conn


# -- 1. backup while 8 writers run ------------------------------------------------------------


def backup_under_load(tmp: Path, n_transcripts: int) -> dict:
    db = tmp / "live.db"
    make_db(db, n_transcripts).close()
    logs = [tmp / f"w{i}.log" for i in range(8)]
    writers = [start_labeler(db, f"writer{i}", logs[i], n_transcripts) for i in range(8)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(len(read_log(log)) >= 20 for log in logs):
            time.sleep(0.1)  # until all 8 are committing
        # Baseline: copy the file as the old advice said (the WAL stays behind).
        began = time.monotonic()
        shutil.copyfile(db, tmp / "plain-copy.db")
        plain_committed = sum(len(ids) for log in logs for ids, t in read_log(log) if t < began)
        plain_in_copy = _count_events(tmp / "plain-copy.db")
        time.sleep(1.0)
        began = time.monotonic()
        report = backup(db, tmp / "backup.db", pages_per_step=256)
        ended = time.monotonic()
    finally:
        for w in writers:
            w.send_signal(signal.SIGTERM)
        for w in writers:
            w.wait(timeout=60)
    committed = [(ids, t) for log in logs for ids, t in read_log(log)]
    opened, taken = report.snapshot_window
    before = {i for ids, t in committed if t < opened for i in ids}
    after = {i for ids, t in committed if t > taken for i in ids}
    during = sum(len(ids) for ids, t in committed if began <= t <= ended)
    all_in_backup = event_ids(tmp / "backup.db")
    source = sorted(event_ids(db))
    # The labels the writers logged (a commit's blind label; the _reveal acts that commits
    # also record are not logged, and are left out of these counts).
    in_backup = all_in_backup & {i for ids, _t in committed for i in ids}
    return {
        "transcripts": n_transcripts,
        "database_mb": round(report.bytes / 2**20, 1),
        "backup_seconds": round(report.seconds, 2),
        "labels_committed_before_backup_began": len(before),
        "labels_in_backup": len(in_backup),
        "labels_committed_before_but_missing_from_backup": len(before - in_backup),
        # Commits that returned after the snapshot but were on disk before it (a writer
        # logs once its commit returns): at most one commit per writer.
        "labels_in_backup_logged_just_after_it_began": len(in_backup & after),
        "labels_in_backup_logged_within_the_snapshot_instant": len(in_backup - before - after),
        "snapshot_instant_ms": round((taken - opened) * 1000, 3),
        "events_in_backup_reveals_included": len(all_in_backup),
        "backup_is_a_prefix_of_the_source": sorted(all_in_backup) == source[: len(all_in_backup)],
        "backup_integrity": report.integrity,
        "labels_committed_while_backup_ran": during,
        "writer_processes": 8,
        "baseline_plain_file_copy": {
            "labels_committed_before_copy": plain_committed,
            "labels_in_copy": plain_in_copy,
        },
    }


def _count_events(path: Path) -> int | str:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "fails its integrity check"
            return len(labels.events(_Reader(conn)))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"unreadable: {exc}"


# -- 2. SIGKILL at random moments -------------------------------------------------------------


def write_import_file(path: Path, n: int) -> None:
    with path.open("w") as out:
        for i in range(n):
            out.write(
                json.dumps(
                    {
                        "text": f"imported scratchpad {i}: training would change me. " * 5,
                        "label": "yes" if i % 4 else "no",
                        "model": "imp",
                        "condition": "paid",
                    }
                )
                + "\n"
            )


def import_command(db: Path, source: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from reviewer.cli import main; main()",
        "--db",
        str(db),
        "import",
        str(source),
        "--format",
        "table",
        "--map",
        "scratchpad=text",
        "--map",
        "label.alignment_faking=label",
        "--rater",
        "pipeline",
        "--json",
    ]


def _wait_for_import_row(db: Path, importer: subprocess.Popen, *, after: int) -> None:
    """Until the import has recorded itself (its process has started for real)."""
    deadline = time.monotonic() + 60
    while importer.poll() is None and time.monotonic() < deadline:
        conn = sqlite3.connect(db, timeout=5)
        try:
            if (conn.execute("SELECT MAX(id) FROM imports").fetchone()[0] or 0) > after:
                return
        finally:
            conn.close()
        time.sleep(0.02)


def classify_command(db: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from reviewer.cli import main; main()",
        "--db",
        str(db),
        "classify",
        "--rubric",
        RUBRIC,
        "--model",
        "anthropic:claude-3-5-haiku",
        "--votes",
        "1",
        "--concurrency",
        "4",
        "--base-url",
        f"http://127.0.0.1:{port}",
        "--json",
    ]


CLASSIFY_ENV = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-bench-placeholder"}


def crash_rounds(
    tmp: Path,
    rounds: int,
    n_import: int,
    *,
    seed: int = 0,
    n_items: int = 1500,
    pause: float = 0.02,
) -> dict:
    """Kill labelers, an import and a classifier run at random moments, ``rounds`` times;
    then finish all three."""
    rng = random.Random(seed)
    db = tmp / "crash.db"
    make_db(db, n_items).close()
    source = tmp / "labeled.jsonl"
    write_import_file(source, n_import)
    names = [f"ann{i}" for i in range(4)]
    logs = {n: tmp / f"{n}.log" for n in names}
    kills = {"labeler": 0, "import": 0, "classify": 0}
    lost = 0
    integrity_failures = 0
    reconciled = {"import": [0, 0], "run": [0, 0]}  # [with the right status and counts, seen]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_provider",
            "--latency",
            "0.05",
            "--max-seconds",
            str(600 + rounds * 60),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline().split()[1])
        for _ in range(rounds):
            last_import = Store(db).execute("SELECT IFNULL(MAX(id), 0) FROM imports")[0][0]
            procs = [start_labeler(db, n, logs[n], n_items, pause=pause) for n in names]
            importer = subprocess.Popen(
                import_command(db, source),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            classifier = subprocess.Popen(
                classify_command(db, port),
                cwd=ROOT,
                env=CLASSIFY_ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait_for_import_row(db, importer, after=last_import)
            time.sleep(rng.uniform(0.0, 4.0))  # reading, staging or copying: any moment
            for p in [*procs, importer, classifier]:
                if p.poll() is None:
                    time.sleep(rng.uniform(0, 0.05))
                    p.send_signal(signal.SIGKILL)
                    kind = (
                        "import" if p is importer else "classify" if p is classifier else "labeler"
                    )
                    kills[kind] += 1
            for p in [*procs, importer, classifier]:
                p.wait(timeout=60)
            store = Store(db)  # the next open: reconciles
            present = {e.id for e in labels.events(store)}
            lost += sum(
                1 for n in names for ids, _t in read_log(logs[n]) for i in ids if i not in present
            )
            if store.execute("PRAGMA integrity_check")[0][0] != "ok":
                integrity_failures += 1
            for r in store.reconciled:
                reconciled[r.kind][1] += 1
                if r.kind == "import":
                    row = store.execute("SELECT status, n_new FROM imports WHERE id = ?", (r.id,))[
                        0
                    ]
                    true_new = store.execute(
                        "SELECT COUNT(*) FROM transcripts WHERE import_id = ?", (r.id,)
                    )[0][0]
                    reconciled["import"][0] += row == ("interrupted", true_new)
                else:
                    row = store.execute("SELECT status FROM classifier_runs WHERE id = ?", (r.id,))
                    reconciled["run"][0] += row[0][0] == "interrupted"
            stuck = store.execute(
                "SELECT (SELECT COUNT(*) FROM imports WHERE status = 'running') + "
                "(SELECT COUNT(*) FROM classifier_runs WHERE status = 'running')"
            )[0][0]
            store.close()
            if stuck:
                integrity_failures += 1  # a killed process left its row running: a failure
        # Finish: run every labeler, the import and the classifier run to completion.
        for p in [start_labeler(db, n, logs[n], n_items) for n in names]:
            p.wait(timeout=600)
        final = subprocess.run(import_command(db, source), cwd=ROOT, capture_output=True, text=True)
        final_classify = subprocess.run(
            classify_command(db, port),
            cwd=ROOT,
            env=CLASSIFY_ENV,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    finally:
        server.kill()
        server.wait(timeout=30)
    store = Store(db)
    current = labels.current_labels(
        store, rubric_id=RUBRIC, field="alignment_faking", source="human"
    )
    per_rater_item: dict[tuple, int] = {}
    for e in current:
        per_rater_item[(e.rater, e.transcript_id)] = (
            per_rater_item.get((e.rater, e.transcript_id), 0) + 1
        )
    live_human = [
        e
        for e in labels.events(store)
        if e.source == "human" and e.retracts is None and not e.field.startswith("_")
    ]
    imported_transcripts = store.execute("SELECT COUNT(*) FROM transcripts WHERE model = 'imp'")[0][
        0
    ]
    imported_labels = sum(1 for e in labels.events(store) if e.rater == "pipeline")
    classified = [
        e
        for e in labels.current_labels(store, rubric_id=RUBRIC, source="classifier")
        if not e.field.startswith("_")
    ]
    per_item_field: dict[tuple, int] = {}
    for e in labels.events(store):
        if e.source == "classifier" and e.retracts is None:
            key = (e.transcript_id, e.field, e.rater)
            per_item_field[key] = per_item_field.get(key, 0) + 1
    out = {
        "rounds": rounds,
        "sigkills": kills,
        "committed_labels_lost": lost,
        "integrity_or_stuck_failures": integrity_failures,
        "killed_imports_reconciled_with_true_counts": "{} of {}".format(*reconciled["import"]),
        "killed_runs_reconciled_as_interrupted": "{} of {}".format(*reconciled["run"]),
        "final_import_exit_status": final.returncode,
        "final_classify_exit_status": final_classify.returncode,
        "classified_items": len({e.transcript_id for e in classified}),
        "classifier_labels_written_more_than_once": sum(
            1 for n in per_item_field.values() if n > 1
        ),
        "labelers": len(names),
        "items": n_items,
        "live_human_labels": len(live_human),
        "expected_human_labels": len(names) * n_items,
        "rater_items_with_more_than_one_label": sum(1 for n in per_rater_item.values() if n > 1),
        "imported_transcripts": imported_transcripts,
        "imported_labels": imported_labels,
        "import_records": n_import,
        "final_integrity": store.execute("PRAGMA integrity_check")[0][0],
    }
    store.close()
    return out


def main() -> None:
    n = int(os.environ.get("BENCH_OPS_TRANSCRIPTS", "20000"))
    random.seed(0)
    rounds = int(os.environ.get("BENCH_OPS_ROUNDS", "24"))
    n_import = int(os.environ.get("BENCH_OPS_IMPORT", "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        results = {"backup_under_load": backup_under_load(Path(tmp), n)}
    print(json.dumps(results["backup_under_load"], indent=2))
    with tempfile.TemporaryDirectory() as tmp:
        results["crash_recovery"] = crash_rounds(Path(tmp), rounds, n_import)
    print(json.dumps(results["crash_recovery"], indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "operations.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
