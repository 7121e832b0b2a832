"""The walls of the design (../shared/architecture.json): which parts may import which.

Every import between two parts, at module level or inside a function, must be an arrow the
design allows, and none may be one it forbids. The same walls are import-linter contracts in
pyproject.toml (run by ``make test``); this test also reads the design's own file, so a wall
added there is checked here at once.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_DATA

ARCHITECTURE = SHARED_DATA.parent / "architecture.json"


def _design() -> dict:
    if not ARCHITECTURE.is_file():
        pytest.skip(f"the design's architecture.json not found at {ARCHITECTURE}")
    return json.loads(ARCHITECTURE.read_text(encoding="utf-8"))


def _part_of(path: str, parts: dict) -> str | None:
    best = None
    for name, spec in parts.items():
        for prefix in spec["is"]:
            if (path == prefix or (prefix.endswith("/") and path.startswith(prefix))) and (
                best is None or len(prefix) > len(best[1])
            ):
                best = (name, prefix)
    return None if best is None else best[0]


def _module_path(module: str) -> str | None:
    """``reviewer.tui.app`` -> ``reviewer/tui/app.py`` (or the package's folder)."""
    rel = Path(*module.split("."))
    if (ROOT / rel).is_dir():
        return rel.as_posix() + "/"
    if (ROOT / rel.with_suffix(".py")).is_file():
        return rel.with_suffix(".py").as_posix()
    return None


def _imports(source: Path) -> list[tuple[str, int]]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return found


# Top-level folders that are not the project's code (tests, benchmarks, tools' output).
NOT_CODE = {".venv", ".git", "tests", "bench", "build"}


def _project_sources() -> list[Path]:
    """Every .py file under ROOT outside NOT_CODE, without walking into .venv at all."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        if Path(folder) == ROOT:
            subfolders[:] = [d for d in subfolders if d not in NOT_CODE]
        found += [Path(folder, f) for f in files if f.endswith(".py")]
    return sorted(found)


@functools.cache
def _edges_cached(parts_json: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(_edges(json.loads(parts_json)))


def _edges(parts: dict) -> list[tuple[str, str, str]]:
    """(from part, to part, where) for every import that crosses between two parts."""
    edges = []
    for source in _project_sources():
        rel = source.relative_to(ROOT).as_posix()
        here = _part_of(rel, parts)
        if here is None:
            continue
        for module, line in _imports(source):
            target = _module_path(module)
            there = None if target is None else _part_of(target, parts)
            if there is not None and there != here:
                edges.append((here, there, f"{rel}:{line} imports {module}"))
    return edges


def test_every_import_between_parts_is_an_allowed_arrow() -> None:
    design = _design()
    allowed = {tuple(a) for a in design["arrows"]}
    wrong = sorted(
        {
            w
            for a, b, w in _edges_cached(json.dumps(design["parts"], sort_keys=True))
            if (a, b) not in allowed
        }
    )
    assert wrong == [], "imports the design does not allow:\n" + "\n".join(wrong)


def test_no_import_crosses_a_wall_the_design_forbids() -> None:
    design = _design()
    never = {(a, b): why for a, b, why in design["never"]}
    wrong = sorted(
        {
            f"{w} ({never[(a, b)]})"
            for a, b, w in _edges_cached(json.dumps(design["parts"], sort_keys=True))
            if (a, b) in never
        }
    )
    assert wrong == []


def _python_sources(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).glob("**/*.py"))]


def test_only_db_runs_sql() -> None:
    """SQL statements appear in db/ only (the rest of the project calls the store)."""
    statement = re.compile(r"""["'](SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|BEGIN|PRAGMA)\s""")
    wrong = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _python_sources("reviewer", "importers", "rubrics")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if statement.search(line)
    ]
    assert wrong == []


def test_label_events_are_written_and_filtered_in_one_module() -> None:
    """Only db/labels.py names label_events (db/schema.py creates it); no copy of the live
    predicate (``retracts IS NULL`` / ``r.retracts = e.id``) lives anywhere else."""
    names = re.compile(
        r"(FROM|INTO|JOIN|UPDATE|TABLE|ON)\s+(main\.)?label_events\b|retracts\s+IS\s+NULL|\.retracts\s*=",
        re.IGNORECASE,
    )
    wrong = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _python_sources("reviewer", "importers", "rubrics", "db", "bench")
        if p.relative_to(ROOT).as_posix() not in ("db/labels.py", "db/schema.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if names.search(line)
    ]
    assert wrong == []
