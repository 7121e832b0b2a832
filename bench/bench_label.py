"""Labeler latency on a large demo database: keypress -> next transcript rendered, start-up, RSS.

The demo database is built once and reused by later runs, whatever the code does meanwhile: it
is kept in ``$REVIEWER_BENCH_CACHE`` (default ~/.cache/reviewer-bench) under a name made of
what fixes its content (``demo-<size>-seed<seed>-gen<generator version>.db``: size from
``$BENCH_LABEL_SIZE``, default 1,000,000, seed 0). A cached file is used only if its build
finished with that size and seed; otherwise it is rebuilt (in a ``.building`` file, renamed
when done). ``$BENCH_LABEL_FROM`` names a database built elsewhere with the same size and
seed to copy instead of building; ``$BENCH_LABEL_DB``
names the database to use directly. Each run labels with a fresh annotator name, so it walks
a fresh seeded order and adds only its own events (retracted at the end).

Baselines, measured in the same run on the same items: a bare ``store.transcript(id)`` read
(what any viewer must at least do per item) and, for start-up, opening the store plus that read.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

from bench.demo_cache import cached_db_path, demo_database

SIZE = int(os.environ.get("BENCH_LABEL_SIZE", "1000000"))
SEED = 0
DB = (
    Path(os.environ["BENCH_LABEL_DB"])
    if os.environ.get("BENCH_LABEL_DB")
    else cached_db_path(SIZE, SEED)
)
ITEMS = int(os.environ.get("BENCH_LABEL_ITEMS", "200"))
RESULTS = Path(__file__).parent / "results" / "label.json"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ensure_db() -> dict:
    """The benchmark's database: ``$BENCH_LABEL_DB`` as it is, else the cached demo build of
    this size and seed (copied from ``$BENCH_LABEL_FROM`` when that holds one, else built)."""
    from db import Store

    if os.environ.get("BENCH_LABEL_DB"):
        return {"built": False, "transcripts": Store(DB).transcript_count()}
    source = os.environ.get("BENCH_LABEL_FROM")
    _, info = demo_database(SIZE, SEED, copy_from=Path(source) if source else None)
    return info


async def _wait_rendered(app, view, item_id: int | None, timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        if view.rendered_item_id is not None and view.rendered_item_id != item_id:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("the next transcript was not rendered")
        await asyncio.sleep(0.0005)


async def measure(annotator: str) -> dict:
    from db import Store
    from reviewer.tui.app import create_app
    from reviewer.tui.widgets.transcript_view import TranscriptView

    rss_before = _rss_mb()
    t0 = time.perf_counter()
    store = Store(DB)
    app = create_app(store, annotator=annotator)
    async with app.run_test(size=(120, 40)) as pilot:
        view = None
        while view is None:
            try:
                view = app.label_screen.query_one(TranscriptView)
            except Exception:
                await asyncio.sleep(0.001)
        await _wait_rendered(app, view, None)
        startup = view.rendered_at - t0
        screen = app.label_screen
        advance, skip, shown, cpu = [], [], [], []
        for i in range(ITEMS):
            await app.workers.wait_for_complete()
            await pilot.pause()
            current = screen.bundle.id
            shown.append(current)
            if i % 2 == 0:
                # Label blind, see the reveal, then time the key that moves on.
                await pilot.press("y", "enter")
                while screen.mode != "REVEALED":
                    await asyncio.sleep(0.0005)
                await app.workers.wait_for_complete()
                await pilot.pause()
                start, start_cpu = time.perf_counter(), time.thread_time()
                await pilot.press("enter")
                await _wait_rendered(app, view, current)
                advance.append(view.rendered_at - start)
                cpu.append(view.rendered_cpu - start_cpu)
            else:
                start, start_cpu = time.perf_counter(), time.thread_time()
                await pilot.press("s")
                await _wait_rendered(app, view, current)
                skip.append(view.rendered_at - start)
                cpu.append(view.rendered_cpu - start_cpu)
        await pilot.press("q")
        await app.workers.wait_for_complete()
    rss_after = _rss_mb()
    peak = _peak_rss_mb()

    # Baseline: the bare read of the same transcripts, on a fresh connection.
    base_store = Store(DB)
    bare = []
    for tid in shown:
        s = time.perf_counter()
        base_store.transcript(tid)
        bare.append(time.perf_counter() - s)
    s = time.perf_counter()
    cold = Store(DB)
    cold.transcript(shown[0])
    open_and_read = time.perf_counter() - s
    both = advance + skip
    return {
        "items": len(both),
        "next_item_ms": {
            "p50": _pct(both, 0.5) * 1e3,
            "p95": _pct(both, 0.95) * 1e3,
            "max": max(both) * 1e3,
        },
        "after_reveal_enter_ms": {
            "p50": _pct(advance, 0.5) * 1e3,
            "p95": _pct(advance, 0.95) * 1e3,
        },
        "ui_thread_cpu_ms": {"p50": _pct(cpu, 0.5) * 1e3, "p95": _pct(cpu, 0.95) * 1e3},
        "load_average": os.getloadavg(),
        "skip_ms": {"p50": _pct(skip, 0.5) * 1e3, "p95": _pct(skip, 0.95) * 1e3},
        "baseline_transcript_read_ms": {
            "p50": _pct(bare, 0.5) * 1e3,
            "p95": _pct(bare, 0.95) * 1e3,
        },
        "startup_ms": startup * 1e3,
        "baseline_open_and_read_ms": open_and_read * 1e3,
        "rss_mb": {"before_app": rss_before, "after_app": rss_after, "peak": peak},
    }


_COLD_START = r"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from reviewer.tui.app import create_app
from reviewer.tui.widgets.transcript_view import TranscriptView
imported = time.perf_counter() - t0

async def run():
    app = create_app(sys.argv[1], annotator=sys.argv[2])
    async with app.run_test(size=(120, 40)):
        while True:
            views = app.screen.query(TranscriptView)
            if views and views.first().rendered_item_id is not None:
                break
            await asyncio.sleep(0.001)
        print(json.dumps({"imports_s": imported, "first_item_s": time.perf_counter() - t0}))

asyncio.run(run())
"""


def cold_start(annotator: str) -> dict:
    """Start-up in a fresh interpreter: imports, opening the database, first item on screen."""
    import subprocess

    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _COLD_START, str(DB), annotator],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    wall = time.perf_counter() - start
    child = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "process_wall_ms": wall * 1e3,
        "imports_ms": child["imports_s"] * 1e3,
        "first_item_after_interpreter_start_ms": child["first_item_s"] * 1e3,
    }


def withdraw_bench_labels(annotator: str) -> int:
    """Retract every live event this run's annotators made (``annotator`` and its cold-start
    twin), so that the database's statistics are not skewed by them (events are append-only:
    this adds retractions). Only this run's names: a database shared with other benchmarks
    keeps their annotators (``bench-ann-1`` of ``bench datapath`` once lost its labels here)."""
    from db import Store, labels

    store = Store(DB)
    return sum(
        labels.retract_raters(store, name, note="benchmark clean-up")
        for name in (annotator, annotator + "-cold")
    )


def main() -> None:
    info = ensure_db()
    annotator = f"bench-{os.getpid()}-{time.time_ns() % 10**9}"
    result = asyncio.run(measure(annotator))
    result["cold_start"] = cold_start(annotator + "-cold")
    result["withdrawn_bench_events"] = withdraw_bench_labels(annotator)
    result["database"] = {"path": str(DB), **info}
    n = result["next_item_ms"]
    b = result["baseline_transcript_read_ms"]
    how = f", {info['how']} in {info['build_seconds']}s" if info["built"] else ", reused"
    print(f"database: {DB} ({info['transcripts']:,} transcripts{how})")
    print(
        f"keypress -> next transcript rendered, {result['items']} items: "
        f"p50 {n['p50']:.1f} ms, p95 {n['p95']:.1f} ms, max {n['max']:.1f} ms (target p95 < 50 ms)"
    )
    c = result["ui_thread_cpu_ms"]
    print(
        f"  UI-thread CPU per keypress (independent of other load): p50 {c['p50']:.1f} ms, "
        f"p95 {c['p95']:.1f} ms; load average during the run {result['load_average'][0]:.1f}"
    )
    print(
        f"  enter after reveal p95 {result['after_reveal_enter_ms']['p95']:.1f} ms, "
        f"skip p95 {result['skip_ms']['p95']:.1f} ms"
    )
    print(
        f"  baseline bare store.transcript(): p50 {b['p50']:.2f} ms, p95 {b['p95']:.2f} ms; "
        f"ratio p50 {n['p50'] / b['p50']:.1f}x, p95 {n['p95'] / b['p95']:.1f}x"
    )
    print(
        f"start-up to first item rendered: {result['startup_ms']:.0f} ms (target < 1000 ms); "
        f"baseline open store + read one: {result['baseline_open_and_read_ms']:.1f} ms"
    )
    cs = result["cold_start"]
    print(
        f"cold start in a new process: first item after {cs['first_item_after_interpreter_start_ms']:.0f} ms "
        f"(of which imports {cs['imports_ms']:.0f} ms); whole process incl. exit {cs['process_wall_ms']:.0f} ms"
    )
    r = result["rss_mb"]
    print(
        f"memory: RSS {r['before_app']:.0f} MB before the app, {r['after_app']:.0f} MB after "
        f"{result['items']} items, peak {r['peak']:.0f} MB"
    )
    result["ratios"] = {
        "next_item_p50_vs_bare_read": n["p50"] / b["p50"],
        "next_item_p95_vs_bare_read": n["p95"] / b["p95"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
