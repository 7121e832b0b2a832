"""How fast the demo database builds, against baselines measured in the same run.

- generate: the generator alone, no database (the floor for any build);
- plain: the same records written with bare ``sqlite3.executemany`` into one unindexed table
  (what a store without uid index, FTS or label events would cost);
- encode: the generator's rows as the build writes them (``DemoGenerator.encoded``);
- build: ``build_demo`` into an open store (FTS indexed once per chunk), the safe path a build
  into an existing database takes;
- build_new_file: ``build_demo_file``, what ``reviewer demo`` does for a new file (built
  beside it without journal or row triggers, moved into place when complete);
- build_row_fts: ``build_demo`` with the per-row FTS trigger left in place.

Size: $DEMO_BENCH_SIZE, default 20,000 transcripts (a few seconds each; the machine is shared).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    from db import Store
    from reviewer import demo
    from reviewer.demo import DemoGenerator, build_demo, build_demo_file

    size = int(os.environ.get("DEMO_BENCH_SIZE", "20000"))
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        timings["generate"] = _timed(lambda: sum(1 for _ in DemoGenerator(0).records(size)))
        encoder = DemoGenerator(0).encoded
        timings["encode"] = _timed(lambda: sum(1 for _ in range(size) if encoder()))

        def plain() -> None:
            conn = sqlite3.connect(Path(tmp) / "plain.db", isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE t (model, condition, scratchpad, output, turns, metadata)")
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO t VALUES (?,?,?,?,?,?)",
                (
                    (
                        r.model,
                        r.condition,
                        r.scratchpad,
                        r.output,
                        json.dumps(r.turns),
                        json.dumps(r.metadata),
                    )
                    for r in DemoGenerator(0).records(size)
                ),
            )
            conn.execute("COMMIT")
            conn.close()

        timings["plain"] = _timed(plain)

        store = Store(Path(tmp) / "build.db")
        timings["build"] = _timed(lambda: build_demo(store, size=size, seed=0))
        store.close()

        timings["build_new_file"] = _timed(
            lambda: build_demo_file(Path(tmp) / "new.db", size=size, seed=0)
        )

        store = Store(Path(tmp) / "row_fts.db")
        original = demo.fts_indexed_in_bulk
        demo.fts_indexed_in_bulk = lambda _store: nullcontext()
        try:
            timings["build_row_fts"] = _timed(lambda: build_demo(store, size=size, seed=0))
        finally:
            demo.fts_indexed_in_bulk = original
        store.close()

    result = {
        "size": size,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "transcripts_per_second": round(size / timings["build"]),
        "build_over_plain": round(timings["build"] / timings["plain"], 2),
        "build_over_generate": round(timings["build"] / timings["generate"], 2),
        "new_file_over_build": round(timings["build_new_file"] / timings["build"], 2),
        "new_file_over_encode": round(timings["build_new_file"] / timings["encode"], 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "row_fts_over_bulk_fts": round(timings["build_row_fts"] / timings["build"], 2),
    }
    for key, value in result.items():
        print(f"  {key}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "demo.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
