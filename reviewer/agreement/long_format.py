"""Read a long-format ratings CSV (``item,rater,value`` plus optional ``field`` and ``score``)
into one RatingSet per field, with errors that name the file and line."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reviewer.agreement.ratings import LEVELS, RatingSet

REQUIRED = ("item", "rater", "value")
OPTIONAL = ("field", "score")
DEFAULT_FIELD = "label"


class RatingsFileError(ValueError):
    """A problem with the ratings file; the message names the file and line."""


@dataclass
class FieldRatings:
    field: str
    ratings: RatingSet
    scored_raters: list[str] = field(default_factory=list)


def _as_number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return (
        int(number)
        if number.is_integer() and "." not in text and "e" not in text.lower()
        else number
    )


def read_ratings_csv(
    path: str | Path, *, level: str = "nominal", categories: list[str] | None = None
) -> list[FieldRatings]:
    """Parse the file; every field becomes one RatingSet (items x raters, in file order).

    ``categories`` fixes the category set and its order (needed for ordinal labels that are
    words, e.g. refused,partial,full); otherwise numbers sort numerically, words by name.
    """
    path = Path(path)
    if level not in LEVELS:
        raise RatingsFileError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RatingsFileError(f"{path}: cannot read ratings file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RatingsFileError(
            f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        ) from None
    handle = io.StringIO(text, newline="")
    cells: dict[str, dict[tuple[str, str], tuple[str, int]]] = {}
    scores: dict[str, dict[tuple[str, str], float]] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise RatingsFileError(
                f"{path}:1: the file is empty; expected a header row item,rater,value"
            ) from None
        except csv.Error as exc:
            raise RatingsFileError(f"{path}:1: not a readable CSV file ({exc})") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise RatingsFileError(
                f"{path}:1: missing column(s) {', '.join(missing)}; the header must name "
                f"item, rater and value (optionally field and score), got {header!r}"
            )
        col = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise RatingsFileError(
                        f"{path}:{line}: {len(row)} columns, but the header has {len(header)}"
                    )
                item = row[col["item"]].strip()
                rater = row[col["rater"]].strip()
                if not item or not rater:
                    what = "item" if not item else "rater"
                    raise RatingsFileError(f"{path}:{line}: the {what} column is empty")
                fname = row[col["field"]].strip() if "field" in col else DEFAULT_FIELD
                fname = fname or DEFAULT_FIELD
                value = row[col["value"]].strip()
                key = (item, rater)
                field_cells = cells.setdefault(fname, {})
                if key in field_cells and field_cells[key][0] != value:
                    raise RatingsFileError(
                        f"{path}:{line}: rater {rater!r} already gave item {item!r} the value "
                        f"{field_cells[key][0]!r} on line {field_cells[key][1]}"
                        + (f" (field {fname!r})" if "field" in col else "")
                        + "; keep one label per item, rater and field"
                    )
                field_cells[key] = (value, line)
                if "score" in col and row[col["score"]].strip():
                    text = row[col["score"]].strip()
                    number = _as_number(text)
                    if number is None:
                        raise RatingsFileError(f"{path}:{line}: score {text!r} is not a number")
                    scores.setdefault(fname, {})[key] = float(number)
        except csv.Error as exc:
            raise RatingsFileError(f"{path}:{line}: malformed CSV ({exc})") from None
    if not cells:
        raise RatingsFileError(f"{path}: no ratings after the header")
    return [
        _field(path, fname, field_cells, scores.get(fname, {}), level, categories)
        for fname, field_cells in cells.items()
    ]


def _field(
    path: Path, fname: str, field_cells, field_scores, level: str, categories: list[str] | None
) -> FieldRatings:
    items: dict[str, int] = {}
    raters: dict[str, int] = {}
    for item, rater in field_cells:
        items.setdefault(item, len(items))
        raters.setdefault(rater, len(raters))
    texts = [v for v, _ in field_cells.values() if v]
    numbers = [_as_number(t) for t in texts]
    numeric = bool(texts) and all(n is not None for n in numbers)
    if level in ("interval", "ratio") and not numeric:
        bad_value, bad_line = next(
            (v, ln) for v, ln in field_cells.values() if v and _as_number(v) is None
        )
        raise RatingsFileError(
            f"{path}:{bad_line}: value {bad_value!r} is not a number, but --level {level} "
            "needs numeric values"
        )
    if categories is not None:
        allowed = set(categories)
        for value, line in field_cells.values():
            if value and value not in allowed:
                raise RatingsFileError(
                    f"{path}:{line}: value {value!r} is not one of --categories "
                    f"{','.join(categories)}"
                )
        numeric = False
    convert = _as_number if numeric else (lambda t: t)
    matrix: list[list[Any]] = [[None] * len(raters) for _ in items]
    for (item, rater), (value, _) in field_cells.items():
        matrix[items[item]][raters[rater]] = convert(value) if value else None
    rs = RatingSet.from_matrix(
        matrix,
        list(raters),
        categories=categories,
        items=list(items),
        level=level,
        keep_items=True,
    )
    scored = []
    for rater in raters:
        vals = [field_scores.get((item, rater)) for item in items]
        if any(v is not None for v in vals):
            rs.scores[rater] = np.array([np.nan if v is None else v for v in vals])
            scored.append(rater)
    return FieldRatings(fname, rs, scored)
