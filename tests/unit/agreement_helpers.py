"""Shared helpers for the agreement tests: reference cases and rating matrices."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from reviewer.agreement import FieldSpec, RatingSet, analyse_field

REFERENCE_FILE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "agreement"
    / ("reference_cases.json")
)


def reference_cases() -> list[dict[str, Any]]:
    if not REFERENCE_FILE.exists():
        return []
    return json.loads(REFERENCE_FILE.read_text())["cases"]


def case_level(case: dict[str, Any]) -> str:
    """'ordinal (linear weights)' -> 'ordinal'."""
    return case["level"].split()[0]


def items_by_raters(rows: list[list[Any]]) -> list[list[Any]]:
    """Reference data are rater rows; the engine wants item rows."""
    return [list(col) for col in zip(*rows, strict=True)]


def overall(matrix, *, level="nominal", categories=None, resamples=0, raters=None) -> dict:
    rs = RatingSet.from_matrix(matrix, raters, categories=categories, level=level)
    return analyse_field(FieldSpec("f", rs), n_resamples=resamples)["overall"]


def write_long_csv(path: Path, rater_rows: list[list[Any]], extra: dict | None = None) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "rater", "value"])
        for g, row in enumerate(rater_rows):
            for i, value in enumerate(row):
                if value is not None:
                    writer.writerow([f"item{i}", f"rater{g}", value])
    return path
