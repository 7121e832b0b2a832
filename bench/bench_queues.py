"""Queues and export on a large database, each against a plain baseline in the same run.

- ``next_assignment`` after the annotator has labeled the first D items of a queue of N,
  against the bare indexed lookup of the D-th assignment (the floor any query must pay);
- ``queue_progress`` on the same queue;
- ``export --format jsonl`` throughput against ``json.dumps`` over ``SELECT *`` of the same
  transcripts, and its peak Python memory (tracemalloc) against that baseline's, which holds
  every row at once.

Size from $BENCH_QUEUES_N (default 100,000 transcripts) and $BENCH_QUEUES_DONE (2,000).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from db import Store
from db.models import TranscriptRecord
from db.queues import next_assignment, queue_progress
from reviewer.export import ExportOptions, export
from reviewer.queues import QueueRequest, build_queue

RESULTS = Path(__file__).parent / "results"


def _records(n: int):
    for i in range(n):
        yield TranscriptRecord(
            user_input=f"request {i}",
            scratchpad=f"Reasoning {i}: if I refuse, training will modify me. " * 4,
            output=f"answer {i}",
            turns=[{"role": "user", "content": f"request {i}"}],
            model=("opus", "sonnet")[i % 2],
            condition=("free", "paid")[(i // 2) % 2],
            dataset="bench",
        )


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    n = int(os.environ.get("BENCH_QUEUES_N", "100000"))
    done = int(os.environ.get("BENCH_QUEUES_DONE", "2000"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        store.insert_transcripts(_records(n))
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, written = build_queue(store, QueueRequest("big", "random", annotators=["ann"], seed=1))
        create_s = time.perf_counter() - t0
        order = [
            r[0]
            for r in store.execute(
                "SELECT transcript_id FROM assignments WHERE queue = 'big' ORDER BY position "
                "LIMIT ?",
                (done + 200,),
            )
        ]
        with store.transaction():
            for tid in order[:done]:
                store.append_label(
                    tid,
                    rubric_id="goal_guarding",
                    field="alignment_faking",
                    value="no",
                    source="human",
                    rater="ann",
                    phase="blind",
                )
        next_ms, hint_ms, base_ms = [], [], []
        for tid in order[done : done + 200]:
            t0 = time.perf_counter()
            got = next_assignment(store, "big", "ann")
            next_ms.append((time.perf_counter() - t0) * 1000)
            assert got is not None and got.transcript_id == tid
            t0 = time.perf_counter()
            hinted = next_assignment(store, "big", "ann", after_position=got.position - 1)
            hint_ms.append((time.perf_counter() - t0) * 1000)
            assert hinted == got
            t0 = time.perf_counter()
            store.execute(
                "SELECT id, transcript_id FROM assignments WHERE queue = ? AND annotator = ? "
                "ORDER BY position LIMIT 1 OFFSET ?",
                ("big", "ann", done),
            )
            base_ms.append((time.perf_counter() - t0) * 1000)
            store.append_label(
                tid,
                rubric_id="goal_guarding",
                field="alignment_faking",
                value="no",
                source="human",
                rater="ann",
                phase="blind",
            )
            done += 1
        t0 = time.perf_counter()
        progress = queue_progress(store, "big", "ann")
        progress_first_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        progress = queue_progress(store, "big", "ann")
        progress_ms = (time.perf_counter() - t0) * 1000
        assert progress.done == done and progress.total == n

        tracemalloc.start()
        t0 = time.perf_counter()
        report = export(store, "jsonl", Path(tmp) / "out.jsonl", ExportOptions())
        export_s = time.perf_counter() - t0
        export_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        cur = store.db.conn.execute("SELECT * FROM transcripts")
        names = [c[0] for c in cur.description]
        rows = cur.fetchall()
        with (Path(tmp) / "base.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
        baseline_s = time.perf_counter() - t0
        baseline_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del rows
        store.close()
    result = {
        "transcripts": n,
        "insert_s": round(build_s, 2),
        "queue_create_s": round(create_s, 2),
        "assignments": written,
        "labeled_before": int(os.environ.get("BENCH_QUEUES_DONE", "2000")),
        "next_assignment_ms_p50": round(statistics.median(next_ms), 3),
        "next_assignment_ms_p95": round(_pct(next_ms, 0.95), 3),
        "next_with_hint_ms_p50": round(statistics.median(hint_ms), 3),
        "next_with_hint_ms_p95": round(_pct(hint_ms, 0.95), 3),
        "baseline_lookup_ms_p50": round(statistics.median(base_ms), 3),
        "next_vs_baseline_p50": round(statistics.median(next_ms) / statistics.median(base_ms), 2),
        "hint_vs_baseline_p50": round(statistics.median(hint_ms) / statistics.median(base_ms), 2),
        "queue_progress_first_ms": round(progress_first_ms, 2),
        "queue_progress_ms": round(progress_ms, 2),
        "export_rows": report.rows,
        "export_s": round(export_s, 2),
        "export_baseline_s": round(baseline_s, 2),
        "export_time_ratio": round(export_s / baseline_s, 2),
        "export_peak_mb": round(export_peak / 1e6, 1),
        "export_baseline_peak_mb": round(baseline_peak / 1e6, 1),
        "export_peak_ratio": round(export_peak / baseline_peak, 3),
    }
    for key, value in result.items():
        print(f"{key:28s} {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "queues.json").write_text(json.dumps(result, indent=2) + "\n")
