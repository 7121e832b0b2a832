"""The data path at scale: ``reviewer stats``, ``analyze`` and ``info`` on the demo
databases (200,000 and 1,000,000 transcripts, three classifier labels each) with 5,000 human
labels added, each run as a real process (time and peak RSS), against floors measured in the
same run on the same copy:

- ``count``: SQLite counting the live label events (``SELECT COUNT(*) FROM live_label_events``):
  the least any reader of every label can do;
- ``fetch``: a plain loader: the live labels' transcript, field, rater, value and score rows
  fetched with ``sqlite3`` into numpy arrays.

``stats`` and ``analyze`` run twice each time: first with the live-label cache dropped (they
read the index and write the cache, as after a large import), then taking the cache.

The demo databases (built once into the benchmarks' cache, ``bench/demo_cache.py``, or named
by ``REVIEWER_BENCH_SOURCE_200K`` / ``_1M``) are never written: each is copied once into ``REVIEWER_BENCH_DATA`` (default
``bench/results/datapath``), migrated, and given its human labels through ``db.labels``
(2,500 transcripts, two annotators each, one blind commit per annotator and transcript); the
copy is reused by later runs. ``REVIEWER_BENCH_SIZES`` (e.g. ``200k``) picks sizes,
``REVIEWER_BENCH_REPEATS`` how often each command runs (the fastest run is the figure).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.demo_cache import bring_up_to_date, demo_database

SIZE_OF = {"200k": 200_000, "1m": 1_000_000}
SIZES = os.environ.get("REVIEWER_BENCH_SIZES", "200k,1m").split(",")
REPEATS = int(os.environ.get("REVIEWER_BENCH_REPEATS", 2))
DATA = Path(os.environ.get("REVIEWER_BENCH_DATA", Path(__file__).parent / "results" / "datapath"))
RESULTS = Path(__file__).parent / "results" / "datapath.json"
ROOT = Path(__file__).parent.parent
HUMAN_ITEMS = 2_500
ANNOTATORS = ("bench-ann-1", "bench-ann-2")
COMMANDS = {
    "stats": ["stats", "--json"],
    "analyze": ["analyze", "--json", "--assume-random"],
    "info": ["info", "--json"],
}


# Each of these runs twice per repeat: after the live-label cache is dropped (it reads the
# index and writes the cache), then again (it takes the cache).
CACHED = ("stats", "analyze")
NAMES = [n for c in COMMANDS for n in ((c, f"{c} (cached)") if c in CACHED else (c,))]


def _drop_cache(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM label_columns_cache")
    conn.close()


def prepared_copy(size: str) -> Path:
    """The copy of the demo database with the human labels, built once."""
    given = os.environ.get(f"REVIEWER_BENCH_SOURCE_{size.upper()}")
    source = Path(given) if given else demo_database(SIZE_OF[size])[0]
    copy = DATA / f"demo_{size}.db"
    ready = DATA / f"demo_{size}.ready"
    stamp = f"{source} {source.stat().st_size} {source.stat().st_mtime_ns} {HUMAN_ITEMS}"
    if copy.exists() and ready.exists() and ready.read_text() == stamp:
        return copy
    DATA.mkdir(parents=True, exist_ok=True)
    for old in DATA.glob(f"demo_{size}.db*"):
        old.unlink()
    print(f"copying {source} to {copy} and adding {2 * HUMAN_ITEMS:,} human labels ...", flush=True)
    started = time.perf_counter()
    shutil.copyfile(source, copy)
    subprocess.run(
        [sys.executable, "-c", f"import bench.bench_datapath as b; b._add_humans({str(copy)!r})"],
        cwd=ROOT,
        check=True,
    )
    ready.write_text(stamp)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return copy


def _add_humans(path: str) -> None:
    """Two annotators label 2,500 transcripts blind (alignment_faking), agreeing with the
    classifier about 85% of the time, through the labeler's own write path."""
    from db import Store, labels

    store = Store(path)
    rng = random.Random(20251130)
    ids = store.transcript_ids()
    chosen = sorted(rng.sample(ids, HUMAN_ITEMS))
    said = {
        e.transcript_id: e.value
        for e in labels.current_labels(
            store, rubric_id="goal_guarding", field="alignment_faking", transcript_ids=chosen
        )
    }
    for tid in chosen:
        for annotator in ANNOTATORS:
            value = said.get(tid, "no")
            if rng.random() > 0.85:
                value = "no" if value == "yes" else "yes"
            labels.commit_label(
                store,
                tid,
                annotator=annotator,
                rubric_id="goal_guarding",
                rubric_hash=None,
                values={"alignment_faking": value},
            )
    store.close()


def _timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}")
    return seconds, usage.ru_maxrss / 1024, out


FLOOR = """
import sqlite3, sys, time, numpy as np
conn = sqlite3.connect(sys.argv[1])
kind = sys.argv[2]
started = time.perf_counter()
if kind == "count":
    n = conn.execute("SELECT COUNT(*) FROM live_label_events").fetchone()[0]
else:
    rows = conn.execute("SELECT transcript_id, field, rater, value, score FROM live_label_events")
    tids, fields, raters, values, scores = [], [], [], [], []
    for t, f, r, v, s in rows:
        tids.append(t); fields.append(f); raters.append(r); values.append(v); scores.append(s)
    tid = np.asarray(tids, dtype=np.int64)
    score = np.asarray([np.nan if s is None else s for s in scores], dtype=float)
    n = len(tid)
print(time.perf_counter() - started, n)
"""


def _floor(path: Path, kind: str) -> tuple[float, float, int]:
    seconds, rss, out = _timed([sys.executable, "-c", FLOOR, str(path), kind])
    inner, n = out.split()
    return float(inner), rss, int(n)


def main() -> None:
    results = {"load_average": os.getloadavg(), "sizes": {}}
    reviewer = [str(Path(sys.executable).parent / "reviewer")]
    for size in SIZES:
        copy = prepared_copy(size)
        bring_up_to_date(copy)
        runs: dict[str, list[tuple[float, float]]] = {
            name: [] for name in (*NAMES, "count", "fetch")
        }
        for _ in range(REPEATS):
            for kind in ("count", "fetch"):
                seconds, rss, n = _floor(copy, kind)
                runs[kind].append((seconds, rss))
            for name, args in COMMANDS.items():
                if name in CACHED:
                    # First with no cache (the index read, and the cache written), then
                    # again from the cache.
                    _drop_cache(copy)
                    seconds, rss, _out = _timed([*reviewer, "--db", str(copy), *args])
                    runs[name].append((seconds, rss))
                    name = f"{name} (cached)"
                seconds, rss, _out = _timed([*reviewer, "--db", str(copy), *args])
                runs[name].append((seconds, rss))
        best = {name: min(r, key=lambda x: x[0]) for name, r in runs.items()}
        print(
            f"{size}: {n:,} live label events; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for name in ("count", "fetch", *NAMES):
            seconds, rss = best[name]
            ratio = seconds / best["fetch"][0]
            every = ", ".join(f"{s:.2f}" for s, _ in runs[name])
            print(
                f"  {name:<17} {seconds:7.2f} s  peak {rss:6.0f} MB  {ratio:5.2f}x the plain "
                f"fetch  ({seconds / best['count'][0]:.1f}x the count; runs: {every})"
            )
        results["sizes"][size] = {
            "live_events": n,
            "runs": runs,
            "best": {k: {"seconds": s, "peak_rss_mb": m} for k, (s, m) in best.items()},
        }
    results["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
