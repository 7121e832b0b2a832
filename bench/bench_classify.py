"""Classifier runner throughput against the fake provider with injected latency.

The fake server runs in its own process (so it does not share the GIL with the runner) and
answers every call after 100 ms. With 32 calls in flight the ideal is 32 / 0.1 = 320 calls/s;
the figure is the runner's calls/s as a fraction of that (target: at least 0.9). For scale,
the same number of calls made by a bare SDK loop (a semaphore and asyncio.gather, no cache,
no parsing, no database) is measured in the same run.

Two runner figures: the whole run (planning, SDK client set-up and the last stragglers
included) and the steady state, the rate between 10% and 90% of the calls done.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.1
CONCURRENCY = 32
ITEMS = 96
VOTES = 20  # Anthropic: one request per vote -> 1920 calls, 6 s at the ideal rate


def _start_server() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_provider",
            "--latency",
            str(LATENCY),
            "--max-seconds",
            "300",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


async def _bare_sdk(port: int, system: str, users: list[str]) -> float:
    import anthropic

    client = anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", max_retries=0)
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(user: str) -> None:
        async with sem:
            await client.messages.create(
                model="claude-3-5-haiku",
                max_tokens=200,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": user}],
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-bench-placeholder")
    import anthropic  # noqa: F401  (imported before timing: the import is a one-off cost)

    from db import Store
    from reviewer.classify.runner import Options, Runner
    from rubrics import resolve_rubric
    from rubrics.prompt import render_system, render_user
    from tests.classify.conftest import make_records

    proc, port = _start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.db")
            store.insert_transcripts(make_records(ITEMS, seed="bench"))
            rubric = resolve_rubric("goal_guarding")
            opts = Options(
                rubric=rubric,
                model_spec="anthropic:claude-3-5-haiku",
                votes=VOTES,
                temperature=1.0,
                threshold=0.4,
                max_tokens=200,
                concurrency=CONCURRENCY,
                base_url=f"http://127.0.0.1:{port}",
            )
            marks: list[tuple[float, int]] = []
            runner = Runner(
                store, opts, on_progress=lambda s: marks.append((time.perf_counter(), s.calls_made))
            )
            start = time.perf_counter()
            summary = asyncio.run(runner.run())
            runner_s = time.perf_counter() - start
            calls = summary["calls_made"]
            t10 = next(t for t, n in marks if n >= calls * 0.1)
            t90 = next(t for t, n in marks if n >= calls * 0.9)
            steady = 0.8 * calls / (t90 - t10)
            latencies = sorted(
                r[0]
                for r in store.execute(
                    "SELECT latency_s FROM classifier_calls WHERE latency_s IS NOT NULL"
                )
            )
            median_latency = latencies[len(latencies) // 2]
            mean_latency = sum(latencies) / len(latencies)
            assert calls == ITEMS * VOTES, summary
            start = time.perf_counter()
            again = asyncio.run(Runner(store, opts).run())
            rerun_s = time.perf_counter() - start
            assert again["calls_made"] == 0

            system = render_system(rubric)
            users = [render_user(rubric, store.transcript(t)) for t in store.transcript_ids()]
            bare_s = asyncio.run(_bare_sdk(port, system, users * VOTES))
            store.close()
    finally:
        proc.kill()
        proc.wait()

    ideal = CONCURRENCY / LATENCY
    rate = calls / runner_s
    bare_rate = calls / bare_s
    result = {
        "calls": calls,
        "concurrency": CONCURRENCY,
        "latency_s": LATENCY,
        "ideal_calls_per_s": ideal,
        "runner_calls_per_s": round(rate, 1),
        "runner_fraction_of_ideal": round(rate / ideal, 3),
        "runner_steady_calls_per_s": round(steady, 1),
        "runner_steady_fraction_of_ideal": round(steady / ideal, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "bare_sdk_calls_per_s": round(bare_rate, 1),
        "bare_sdk_fraction_of_ideal": round(bare_rate / ideal, 3),
        "runner_vs_bare_sdk": round(rate / bare_rate, 3),
        "rerun_all_cached_s": round(rerun_s, 3),
        "median_call_latency_s": round(median_latency, 4),
        "mean_call_latency_s": round(mean_latency, 4),
        "target_fraction": 0.9,
    }
    print(
        f"runner {rate:.1f} calls/s = {rate / ideal:.1%} of ideal {ideal:.0f}/s "
        f"(steady state {steady:.1f}/s = {steady / ideal:.1%}) "
        f"(bare SDK loop {bare_rate:.1f}/s = {bare_rate / ideal:.1%}; runner/bare "
        f"{rate / bare_rate:.2f}); call latency median {median_latency * 1000:.0f} ms, "
        f"mean {mean_latency * 1000:.0f} ms; "
        f"re-run from cache {rerun_s:.2f} s; load average {os.getloadavg()[0]:.2f}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "classify.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
