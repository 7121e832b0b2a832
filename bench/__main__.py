"""Run every benchmark module in bench/ (``make bench``); each writes bench/results/NAME.json."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    wanted = set(argv)
    here = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")]
    if wanted:
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    if not names:
        print("no benchmarks found", file=sys.stderr)
        return 1
    for name in sorted(names):
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
