"""Hostile files, many of them: every import format fed generated malformed inputs.

For each format, ``$BENCH_FUZZ_COUNT`` inputs (default 10,000) from the generators of
tests/hostile_inputs.py (the property tests use the same ones): values replaced by numbers
of thousands of digits, nesting thousands deep, lone surrogates, wrong types, invalid UTF-8,
truncations, random byte damage, and for ``.eval`` zips corrupt, encrypted and bomb-sized
members. Each is imported by ``importers.run.import_file`` (half with format detection, a
third with ``--skip-bad``) in worker processes (``$BENCH_FUZZ_WORKERS``, default 2) whose
address space is capped with ``resource.setrlimit`` (``$BENCH_FUZZ_MEMORY_MB``, default
1,500), so an input that would take gigabytes fails with MemoryError and is counted.

Reported per format, goal 0 for each: **unhandled** (an exception out of the import, or an
"internal error"), **crashes** (the worker died: a segfault, a kill by the memory cap),
**hangs** (no answer in ``$BENCH_FUZZ_TIMEOUT`` seconds, default 60), **partial writes** (a
failed import that changed the database, or a done one whose stored count differs from what
it reported); and the slowest input with its seed (rebuild it with
``GENERATORS[fmt](random.Random(f"{fmt}:{seed}"))``). Writes bench/results/fuzz.json.
"""

from __future__ import annotations

import json
import os
import random
import resource
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _cap_memory(megabytes: int) -> None:
    limit = megabytes << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(fmt: str, first: int, count: int) -> None:
    """Import inputs first..first+count-1 of ``fmt``, saying 'S seed' before each and
    'R seed seconds size problem' after."""
    from db import Store
    from tests.hostile_inputs import GENERATORS, check_import

    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{fmt}-"))
    store = Store(folder / "fuzz.db")
    for seed in range(first, first + count):
        print(f"S {seed}", flush=True)
        try:
            case = GENERATORS[fmt](random.Random(f"{fmt}:{seed}"))
        except Exception as exc:  # noqa: BLE001 - a fault of the generator, not the importer
            print(f"R {seed} 0 0 {json.dumps(f'generator: {exc!r}'[:300])}", flush=True)
            continue
        path = folder / case.name
        path.write_bytes(case.data)
        started = time.perf_counter()
        try:
            problem = check_import(
                store, path, case, fmt=None if seed % 2 == 0 else fmt, skip_bad=seed % 3 == 0
            )
        except BaseException as exc:  # noqa: BLE001 - MemoryError under the cap, say
            problem = f"unhandled: {type(exc).__name__}: {str(exc)[:200]}"
        seconds = time.perf_counter() - started
        print(f"R {seed} {seconds:.4f} {len(case.data)} {json.dumps(problem)}", flush=True)
    store.close()


def _spawn(fmt: str, first: int, count: int, memory_mb: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.bench_fuzz", "--worker", fmt, str(first), str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: _cap_memory(memory_mb),
    )


def _run_share(
    fmt: str, first: int, count: int, memory_mb: int, timeout: float, stats: dict
) -> None:
    """Inputs first..first+count-1 through one worker, restarted after a crash or hang."""
    end = first + count
    next_seed = first
    while next_seed < end:
        proc = _spawn(fmt, next_seed, end - next_seed, memory_mb)
        current = None
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                proc.kill()
                proc.wait()
                stats["hangs"].append(current)
                next_seed = (current if current is not None else next_seed) + 1
                break
            line = proc.stdout.readline()
            if not line:
                code = proc.wait()
                if current is not None:
                    stats["crashes"].append({"seed": current, "exit": code})
                    next_seed = current + 1
                else:
                    next_seed = end if code == 0 else next_seed + 1
                break
            kind, rest = line.split(" ", 1)
            if kind == "S":
                current = int(rest)
                continue
            seed, seconds, size, problem = rest.split(" ", 3)
            problem = json.loads(problem)
            current, next_seed = None, int(seed) + 1
            stats["inputs"] += 1
            if float(seconds) > stats["slowest"]["seconds"]:
                stats["slowest"] = {
                    "seed": int(seed),
                    "seconds": float(seconds),
                    "bytes": int(size),
                }
            if problem.startswith("unhandled"):
                stats["unhandled"].append({"seed": int(seed), "problem": problem})
            elif problem.startswith("generator"):
                stats["generator_errors"].append({"seed": int(seed), "problem": problem})
            elif problem.startswith("partial"):
                stats["partial_writes"].append({"seed": int(seed), "problem": problem})


def main() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.hostile_inputs import GENERATORS

    count = int(os.environ.get("BENCH_FUZZ_COUNT", "10000"))
    workers = int(os.environ.get("BENCH_FUZZ_WORKERS", "2"))
    memory_mb = int(os.environ.get("BENCH_FUZZ_MEMORY_MB", "1500"))
    timeout = float(os.environ.get("BENCH_FUZZ_TIMEOUT", "60"))
    wanted = os.environ.get("BENCH_FUZZ_FORMATS")
    formats = wanted.split(",") if wanted else sorted(GENERATORS)
    report: dict = {
        "count_per_format": count,
        "workers": workers,
        "memory_cap_mb": memory_mb,
        "formats": {},
    }
    for fmt in formats:
        stats = {
            "inputs": 0,
            "unhandled": [],
            "crashes": [],
            "hangs": [],
            "partial_writes": [],
            "generator_errors": [],
            "slowest": {"seed": None, "seconds": 0.0},
        }
        started = time.perf_counter()
        share = -(-count // workers)
        with ThreadPoolExecutor(workers) as pool:
            for w in range(workers):
                first = w * share
                n = min(share, count - first)
                if n > 0:
                    pool.submit(_run_share, fmt, first, n, memory_mb, timeout, stats)
        stats["seconds"] = round(time.perf_counter() - started, 1)
        report["formats"][fmt] = stats
        print(
            f"{fmt:8} inputs {stats['inputs']:6,}  unhandled {len(stats['unhandled'])}  "
            f"crashes {len(stats['crashes'])}  hangs {len(stats['hangs'])}  partial writes "
            f"{len(stats['partial_writes'])}  slowest {stats['slowest']['seconds']:.2f} s "
            f"(seed {stats['slowest']['seed']}, {stats['slowest'].get('bytes', 0):,} bytes)  "
            f"in {stats['seconds']} s",
            flush=True,
        )
        for kind in ("unhandled", "crashes", "hangs", "partial_writes", "generator_errors"):
            for example in stats[kind][:3]:
                print(f"    {kind}: {example}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS / 'fuzz.json'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
