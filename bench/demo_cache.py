"""Demo databases for the benchmarks, built once and reused.

A database is kept in ``$REVIEWER_BENCH_CACHE`` (default ~/.cache/reviewer-bench) under a name
made of what fixes its content: ``demo-<size>-seed<seed>-gen<generator version>.db``. A cached
file is used only if its build finished with that size and seed; otherwise it is rebuilt in a
``.building`` file, renamed when done. ``copy_from`` names a database built elsewhere with the
same size and seed, copied (with SQLite's backup, so a write-ahead log is included) instead of
building.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("REVIEWER_BENCH_CACHE", Path.home() / ".cache" / "reviewer-bench"))


def cached_db_path(size: int, seed: int = 0) -> Path:
    """Where the demo database of this size and seed is kept: named by what fixes its
    content, not by the code that built it."""
    from reviewer.demo import GENERATOR_VERSION

    return CACHE / f"demo-{size}-seed{seed}-gen{GENERATOR_VERSION}.db"


def demo_build_of(path: Path) -> dict | None:
    """The size, seed and transcript count of a finished demo build in ``path``, read
    without writing to it; None if it holds no finished demo build."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT status, options FROM imports WHERE format = 'demo' ORDER BY id"
            ).fetchall()
            count = conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if len(rows) != 1 or rows[0][0] != "done":
        return None
    options = json.loads(rows[0][1])
    return {"size": options.get("size"), "seed": options.get("seed"), "transcripts": count}


def usable(path: Path, size: int, seed: int = 0) -> bool:
    build = demo_build_of(path)
    return (
        build is not None
        and build["size"] == size == build["transcripts"]
        and build["seed"] == seed
    )


def demo_database(size: int, seed: int = 0, *, copy_from: Path | None = None) -> tuple[Path, dict]:
    """The cached demo database of ``size`` transcripts and how it came to be there."""
    path = cached_db_path(size, seed)
    if usable(path, size, seed):
        return path, {"built": False, "transcripts": size}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    for stale in path.parent.glob(tmp.name + "*"):
        stale.unlink()
    start = time.perf_counter()
    if copy_from is not None and usable(copy_from, size, seed):
        with sqlite3.connect(f"file:{copy_from}?mode=ro", uri=True) as src:
            dst = sqlite3.connect(tmp)
            src.backup(dst)
            dst.close()
        how = "copied"
    else:
        from reviewer.demo import build_demo_file

        print(f"building a {size:,}-transcript demo database in {path} (once) ...", flush=True)
        build_demo_file(tmp, size=size, seed=seed)
        how = "built"
    tmp.rename(path)
    return path, {
        "built": True,
        "how": how,
        "build_seconds": round(time.perf_counter() - start, 1),
        "transcripts": size,
    }


def bring_up_to_date(path: Path) -> None:
    """Open a benchmark's copy once with the real ``reviewer`` (in its own process, untimed),
    so that a copy made by an older version is migrated here and not inside a timed run."""
    subprocess.run(
        [str(Path(sys.executable).parent / "reviewer"), "--db", str(path), "info"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
