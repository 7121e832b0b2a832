"""Many writers on one database: does every label land, and how long does an annotator wait?

Real processes on one SQLite file, all at once for ``BENCH_CONCURRENCY_SECONDS`` (default 60):

- 8 annotators labeling as fast as they can through the labeler's own code path (the seeded
  queue, ``commit_label``, ``undo_last_act``, ``record_meta``): commit every item, flag every
  7th, skip every 11th, undo every 5th act;
- one ``reviewer import`` of a 15,000-record hughes file (staged, then copied in short
  transactions);
- one ``reviewer classify`` run against the fake provider on 127.0.0.1 (its own process).

Each annotator reports the writes it attempted, those that returned, those that raised, the
events it expects stored, and the wait of each write. Then the database is checked: the events
each annotator expects are all there (none lost), none is there twice (``duplicate_counts``),
the import and the classifier run finished with every item, ``integrity_check`` is ok.

Baseline in the same run: one annotator alone on the same database for 5 s, so the p99 wait
under load is reported as a ratio to the p99 wait with nobody else writing.
Results: bench/results/concurrency.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ANNOTATORS = 8
IMPORT_RECORDS = 15_000
DEMO_SIZE = 20_000

ANNOTATOR = textwrap.dedent(
    """
    import json, sys, time
    from db import Store
    from db.labeling import LabelQueue
    from db.labels import commit_label, record_meta, undo_last_act

    db, name, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    store = Store(db)
    queue = LabelQueue(store, name, "goal_guarding", seed=seed)
    waits, attempted, failed, errors = [], 0, 0, []
    expected = {"labels": 0, "acts": 0, "retractions": 0}
    position, acts = 0, 0
    end = time.monotonic() + seconds

    def write(fn):
        global attempted, failed
        attempted += 1
        began = time.perf_counter()
        try:
            return fn()
        except Exception as exc:
            failed += 1
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return None
        finally:
            waits.append(time.perf_counter() - began)

    while time.monotonic() < end:
        entry = queue.next_entry(position)
        if entry is None:
            break
        tid, position = entry.transcript_id, entry.position + 1
        acts += 1
        if acts % 11 == 0:
            if write(lambda: record_meta(store, tid, annotator=name, rubric_id="goal_guarding",
                                         rubric_hash=None, kind="_skip")) is not None:
                expected["acts"] += 1
                queue.mark_skipped(tid)
            continue
        value = "yes" if (tid + acts) % 3 == 0 else "no"
        result = write(lambda: commit_label(
            store, tid, annotator=name, rubric_id="goal_guarding", rubric_hash=None,
            values={"alignment_faking": value, "motivation": []}))
        if result is not None:
            expected["labels"] += len(result.event_ids)
            expected["acts"] += int(result.revealed)
            queue.mark_labeled(tid)
        if acts % 7 == 0:
            if write(lambda: record_meta(store, tid, annotator=name, rubric_id="goal_guarding",
                                         rubric_hash=None, kind="_flag")) is not None:
                expected["acts"] += 1
        if acts % 5 == 0:
            undone = write(lambda: undo_last_act(store, name))
            if undone is not None:
                expected["retractions"] += len(undone.retracted)
    print(json.dumps({"name": name, "attempted": attempted, "failed": failed,
                      "errors": errors[:5], "expected": expected, "waits": waits}))
    """
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _annotator(db: Path, name: str, seconds: float, seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", ANNOTATOR, str(db), name, str(seconds), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _import_file(path: Path) -> None:
    from bench.bench_import import make_record

    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(IMPORT_RECORDS):
            f.write(("" if i == 0 else ",\n") + json.dumps(make_record(rng, i), indent=4))
        f.write("\n]\n")


def _reviewer(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from reviewer.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from db import Store, labels
    from reviewer.demo import build_demo

    seconds = float(os.environ.get("BENCH_CONCURRENCY_SECONDS", "60"))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "concurrency.db"
        store = Store(db)
        build_demo(store, size=DEMO_SIZE, seed=3)
        source = Path(tmp) / "results_seed0.json"
        _import_file(source)

        solo = _annotator(db, "solo", 5.0, 99)
        solo_out = json.loads(solo.communicate()[0].strip().splitlines()[-1])
        solo_p99 = _percentile(solo_out["waits"], 0.99)

        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fake_provider",
                "--latency",
                "0.05",
                "--max-seconds",
                str(int(seconds) + 300),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(server.stdout.readline().split()[1])
        env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-bench-placeholder"}
        started = time.monotonic()
        try:
            people = [_annotator(db, f"ann{k}", seconds, k) for k in range(ANNOTATORS)]
            importer = _reviewer(
                "--db",
                str(db),
                "import",
                str(source),
                "--format",
                "hughes",
                "--model",
                "bench-model",
                "--json",
            )
            classifier = _reviewer(
                "--db",
                str(db),
                "classify",
                "--rubric",
                "goal_guarding",
                "--model",
                "anthropic:claude-3-5-haiku",
                "--votes",
                "1",
                "--concurrency",
                "8",
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--limit",
                "8000",
                "--json",
                env=env,
            )
            reports = []
            for proc in people:
                out, err = proc.communicate(timeout=seconds + 600)
                if proc.returncode != 0:
                    raise SystemExit(f"an annotator process failed:\n{err[-2000:]}")
                reports.append(json.loads(out.strip().splitlines()[-1]))
            imp_out, imp_err = importer.communicate(timeout=1800)
            cls_out, cls_err = classifier.communicate(timeout=1800)
            wall = time.monotonic() - started
        finally:
            server.kill()

        per = {}
        lost = extra = 0
        for r in reports:
            stored = labels.rater_event_counts(store, r["name"])
            per[r["name"]] = {
                "attempted": r["attempted"],
                "failed": r["failed"],
                "expected": r["expected"],
                "stored": stored,
            }
            for key, want in r["expected"].items():
                lost += max(0, want - stored[key])
                extra += max(0, stored[key] - want)
        waits = [w for r in reports for w in r["waits"]]
        imported = json.loads(imp_out) if importer.returncode == 0 else None
        classified = json.loads(cls_out) if classifier.returncode == 0 else None
        result = {
            "seconds": seconds,
            "wall_seconds": round(wall, 1),
            "annotators": ANNOTATORS,
            "writes_attempted": sum(r["attempted"] for r in reports),
            "writes_failed": sum(r["failed"] for r in reports),
            "events_expected": sum(sum(r["expected"].values()) for r in reports),
            "events_lost": lost,
            "events_unexpected": extra,
            "duplicates": labels.duplicate_counts(store),
            "integrity_check": store.db.conn.execute("PRAGMA integrity_check").fetchone()[0],
            "wait_p50_ms": round(_percentile(waits, 0.5) * 1e3, 2),
            "wait_p99_ms": round(_percentile(waits, 0.99) * 1e3, 2),
            "wait_max_ms": round(max(waits, default=0) * 1e3, 2),
            "solo_wait_p99_ms": round(solo_p99 * 1e3, 2),
            "p99_ratio_to_solo": round(_percentile(waits, 0.99) / solo_p99, 1)
            if solo_p99
            else None,
            "import": {
                "exit": importer.returncode,
                "result": imported["files"][0] if imported else imp_err[-1500:],
            },
            "classify": {
                "exit": classifier.returncode,
                "result": classified if classified else cls_err[-1500:],
            },
            "errors_seen": sorted({e for r in reports for e in r["errors"]})[:10],
            "per_annotator": per,
        }
        store.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "concurrency.json").write_text(json.dumps(result, indent=2, default=str))
    imp = result["import"]["result"]
    cls = result["classify"]["result"]
    print(
        f"{ANNOTATORS} annotators + import of {IMPORT_RECORDS:,} records + classify, "
        f"{seconds:.0f} s of labeling ({result['wall_seconds']} s in all)"
    )
    print(
        f"writes attempted {result['writes_attempted']:,}, failed {result['writes_failed']}; "
        f"events expected {result['events_expected']:,}, lost {lost}, unexpected {extra}; "
        f"duplicates {result['duplicates']}; integrity {result['integrity_check']}"
    )
    print(
        f"annotator wait per write: p50 {result['wait_p50_ms']} ms, p99 "
        f"{result['wait_p99_ms']} ms, max {result['wait_max_ms']} ms; alone p99 "
        f"{result['solo_wait_p99_ms']} ms (x{result['p99_ratio_to_solo']})"
    )
    if isinstance(imp, dict):
        print(
            f"import: exit {result['import']['exit']}, {imp.get('status')}, "
            f"{imp.get('n_new')} new, {imp.get('n_labels')} labels"
        )
    else:
        print(f"import: exit {result['import']['exit']}: {imp}")
    if isinstance(cls, dict):
        print(
            f"classify: exit {result['classify']['exit']}, {cls.get('status')}, "
            f"{cls.get('items_labeled_total')} of {cls.get('items')} items labeled, {cls.get('calls_made')} calls"
        )
    else:
        print(f"classify: exit {result['classify']['exit']}: {cls}")


if __name__ == "__main__":
    main()
