"""``reviewer export`` against a plain SQL + json / csv / pyarrow loop over the same rows.

For each case (format, with or without text, pseudonymized) the real command runs as a
subprocess on a copy of a demo database, and so does the floor: a plain loop that reads the
same transcripts and live labels with two ordered SQL cursors, builds each row (transcript
columns, metadata decoded, one dict per label with the same provenance keys) and writes it
with ``json.dumps`` / ``csv.writer`` / ``pyarrow`` row groups, with none of the export's rules
(no gold, no escaping, no masking, no pseudonyms). Both run in the same session, one after
the other, so the ratio floor time / export time (1.0: as fast as the floor; the goal is at
least 0.7) holds on a loaded machine where the seconds do not. Peak RSS is each process's own
(``os.wait4``), and so is CPU time: on a shared machine the wall-clock ratio moves with
other jobs' load (both are printed; CPU time moves much less).

At two sizes (default: the shared 200k and 1M demo databases) it also prints the linearity
ratio, export time at the large size over the small one (the goal: within 5.5x for 5x the
rows), and whether peak memory grew with the size.

Environment:

- ``BENCH_EXPORT_DBS``: comma-separated database paths (default: the 200k and 1M demo
  databases, built once into the benchmarks' cache by ``bench/demo_cache.py``). Each is copied
  beside the results first (never written).
- ``BENCH_EXPORT_CASES``: comma-separated case names (default: all), e.g. ``jsonl-notext``.
- ``BENCH_EXPORT_REPEAT``: runs of each (default 1); the best of them is reported.
- ``BENCH_EXPORT_TMP``: where the copies and outputs go (default: bench/results/export-tmp).
- ``BENCH_EXPORT_NAME``: the results file's name (default ``export``).

Results: bench/results/export.json. Run with ``.venv/bin/python -m bench export``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_SIZES = (200_000, 1_000_000)

# name -> (format, export options, floor kind, with text)
CASES = {
    "jsonl": ("jsonl", [], "jsonl", True),
    "jsonl-notext": ("jsonl", ["--no-text"], "jsonl", False),
    "csv": ("csv", [], "csv", True),
    "csv-notext": ("csv", ["--no-text"], "csv", False),
    "parquet": ("parquet", [], "parquet", True),
    "parquet-notext": ("parquet", ["--no-text"], "parquet", False),
    "hf-notext": ("hf", ["--no-text"], "jsonl", False),
    "jsonl-pseudonymized": ("jsonl", ["--no-text", "--pseudonymize"], "jsonl", False),
}

# -- the floor: a plain loop over the same rows ------------------------------------------------

TRANSCRIPTS = (
    "SELECT t.id, t.uid, t.dataset, t.model, t.condition, t.prompt_variant, t.source_path, "
    "t.source_ref, t.metadata, t.created_at{text} FROM transcripts t{join} ORDER BY t.id"
)
TEXT = ", p.text, t.user_input, t.scratchpad, t.output"
JOIN = " LEFT JOIN prompts p ON p.hash = t.system_prompt_hash"
LABELS = (
    "SELECT e.transcript_id, e.id, e.rubric_id, e.rubric_hash, e.field, e.value, e.source, "
    "e.rater, e.phase, e.score, e.scores, e.evidence, e.note, e.seconds, e.run_id, e.created_at "
    "FROM live_label_events e WHERE substr(e.field, 1, 1) != '_' ORDER BY e.transcript_id, e.id"
)
KEYS = (
    "transcript_id",
    "uid",
    "dataset",
    "model",
    "condition",
    "prompt_variant",
    "source_path",
    "source_ref",
    "metadata",
    "created_at",
    "system_prompt",
    "user_input",
    "scratchpad",
    "output",
)
LABEL_KEYS = (
    "event_id",
    "rubric_id",
    "rubric_hash",
    "field",
    "value",
    "source",
    "rater",
    "phase",
    "score",
    "scores",
    "evidence",
    "note",
    "seconds",
    "run_id",
    "created_at",
)

FLOOR = r"""
import json, sqlite3, sys, time
start = time.perf_counter()
kind, db, out, with_text = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
TRANSCRIPTS, TEXT, JOIN, LABELS, KEYS, LABEL_KEYS = json.loads(sys.argv[5])
conn = sqlite3.connect(db)
labels_conn = sqlite3.connect(db)
sql = TRANSCRIPTS.format(text=TEXT if with_text else "", join=JOIN if with_text else "")
keys = KEYS if with_text else KEYS[:10]
def loads(text):
    return None if text is None else json.loads(text)
def items():
    cur = labels_conn.execute(LABELS)
    pending = cur.fetchone()
    for t in conn.execute(sql):
        row = dict(zip(keys, t))
        row["metadata"] = json.loads(row["metadata"] or "{}")
        labels = []
        while pending is not None and pending[0] == t[0]:
            e = dict(zip(LABEL_KEYS, pending[1:]))
            e["value"] = loads(e["value"]); e["scores"] = loads(e["scores"])
            e["evidence"] = loads(e["evidence"])
            labels.append(e)
            pending = cur.fetchone()
        row["labels"] = labels
        yield row
if kind == "jsonl":
    with open(out, "w", encoding="utf-8") as f:
        for row in items():
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
else:
    slots = [tuple(r) for r in conn.execute(
        "SELECT DISTINCT rubric_id, field, source, rater FROM live_label_events "
        "WHERE substr(field, 1, 1) != '_' ORDER BY 1, 2, 3, 4")]
    columns = list(keys) + [".".join(s) for s in slots] + [".".join(s) + ".score" for s in slots] + ["labels_json"]
    def flat(row):
        cells = {k: row[k] for k in keys}
        cells["metadata"] = json.dumps(row["metadata"], ensure_ascii=False)
        for e in row["labels"]:
            name = ".".join((e["rubric_id"], e["field"], e["source"], e["rater"]))
            cells[name] = e["value"] if isinstance(e["value"], str) else json.dumps(e["value"])
            cells[name + ".score"] = e["score"]
        cells["labels_json"] = json.dumps(row["labels"], ensure_ascii=False, separators=(",", ":"))
        return cells
    if kind == "csv":
        import csv
        with open(out, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for row in items():
                get = flat(row).get
                w.writerow([get(c) for c in columns])
    else:
        import pyarrow as pa, pyarrow.parquet as pq
        types = {c: pa.float64() if c.endswith(".score") else pa.string() for c in columns}
        types["transcript_id"] = pa.int64()
        schema = pa.schema([(c, types[c]) for c in columns])
        with pq.ParquetWriter(out, schema) as w:
            batch = []
            def flush():
                w.write_table(pa.Table.from_arrays(
                    [pa.array([r.get(c) for r in batch], type=types[c]) for c in columns],
                    schema=schema))
                batch.clear()
            for row in items():
                batch.append(flat(row))
                if len(batch) >= 2000:
                    flush()
            flush()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _run(args: list[str], env: dict | None = None) -> dict:
    """Run a process to its end: wall seconds, its own peak RSS (MB) and exit status."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
    return {
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def run_export(db: Path, case: str, out: Path) -> dict:
    fmt, options, _, _ = CASES[case]
    reviewer = str(Path(sys.executable).with_name("reviewer"))
    _remove(out)
    _remove(out.with_name(out.name + ".pseudonyms.json"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    result = _run(
        [reviewer, "--db", str(db), "export", "--format", fmt, "--out", str(out), *options], env
    )
    return result


def run_floor(db: Path, case: str, out: Path) -> dict:
    _, _, kind, with_text = CASES[case]
    _remove(out)
    queries = json.dumps([TRANSCRIPTS, TEXT, JOIN, LABELS, KEYS, LABEL_KEYS])
    return _run(
        [sys.executable, "-c", FLOOR, kind, str(db), str(out), "1" if with_text else "0", queries]
    )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _transcripts(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]


def main() -> None:
    from bench.demo_cache import bring_up_to_date

    given = os.environ.get("BENCH_EXPORT_DBS")
    if given:
        dbs = [Path(p) for p in given.split(",") if p]
    else:
        from bench.demo_cache import demo_database

        dbs = [demo_database(n)[0] for n in DEFAULT_SIZES]
    cases = [c for c in os.environ.get("BENCH_EXPORT_CASES", ",".join(CASES)).split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown BENCH_EXPORT_CASES {unknown}; choose from {list(CASES)}")
    repeat = int(os.environ.get("BENCH_EXPORT_REPEAT", "1"))
    tmp = Path(os.environ.get("BENCH_EXPORT_TMP", RESULTS / "export-tmp"))
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict = {"load_average": os.getloadavg(), "sizes": {}}
    for source in dbs:
        if not source.exists():
            print(f"skipping {source}: not found (BENCH_EXPORT_DBS names the databases)")
            continue
        db = tmp / source.name
        ready = db.with_suffix(".ready")
        stamp = f"{source} {source.stat().st_size} {source.stat().st_mtime_ns}"
        if not db.exists() or not ready.exists() or ready.read_text() != stamp:
            print(f"copying {source} to {db}", flush=True)
            shutil.copyfile(source, db)
            bring_up_to_date(db)
            ready.write_text(stamp)
        n = _transcripts(db)
        size: dict = {"db": str(source), "transcripts": n, "cases": {}}
        results["sizes"][str(n)] = size
        for case in cases:
            out = tmp / f"{case}.{CASES[case][0]}"
            ours, floor = [], []
            for _ in range(repeat):
                floor.append(run_floor(db, case, tmp / f"floor-{case}.out"))
                ours.append(run_export(db, case, out))
            best = min(ours, key=lambda r: r["seconds"])
            best_floor = min(floor, key=lambda r: r["seconds"])
            ratio = best_floor["seconds"] / best["seconds"]
            cpu_ratio = min(r["cpu_seconds"] for r in floor) / min(r["cpu_seconds"] for r in ours)
            size["cases"][case] = {
                "export": best,
                "floor": best_floor,
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
                "runs": {"export": ours, "floor": floor},
            }
            print(
                f"{n:>9,} {case:<20} export {best['seconds']:7.1f} s "
                f"{best['cpu_seconds']:6.1f} cpu-s {best['peak_rss_mb']:5.0f} MB   floor "
                f"{best_floor['seconds']:7.1f} s {best_floor['cpu_seconds']:6.1f} cpu-s "
                f"{best_floor['peak_rss_mb']:5.0f} MB   ratio {ratio:.2f} wall, "
                f"{cpu_ratio:.2f} cpu (goal >= 0.7)   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            _remove(out)
            _remove(tmp / f"floor-{case}.out")
    sizes = sorted(results["sizes"].values(), key=lambda s: s["transcripts"])
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        factor = large["transcripts"] / small["transcripts"]
        results["linearity"] = {}
        for case in cases:
            if case in small["cases"] and case in large["cases"]:
                a, b = small["cases"][case]["export"], large["cases"][case]["export"]
                growth = b["seconds"] / a["seconds"]
                cpu = b["cpu_seconds"] / a["cpu_seconds"]
                memory = b["peak_rss_mb"] / a["peak_rss_mb"]
                results["linearity"][case] = {"time": growth, "cpu": cpu, "memory": memory}
                print(
                    f"{case:<20} {factor:.0f}x the rows: {growth:.2f}x the time, "
                    f"{cpu:.2f}x the cpu "
                    f"(goal <= {1.1 * factor:.1f}x), {memory:.2f}x the peak memory "
                    f"({a['peak_rss_mb']:.0f} -> {b['peak_rss_mb']:.0f} MB)"
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = os.environ.get("BENCH_EXPORT_NAME", "export")
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
