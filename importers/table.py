"""Tables of transcripts, with or without labels: JSONL, JSON arrays, CSV, TSV and Parquet.

Columns are mapped with ``--map TARGET=COLUMN``. Transcript targets: ``scratchpad`` (reasoning
tags inside are split out, else the whole text is one block), ``completion`` (a full completion
to split into scratchpad and output), ``output``, ``user_input``, ``system_prompt``,
``turns`` (a JSON list of ``{"role", "content"}``), ``model``, ``condition``, ``dataset``,
``prompt_variant``, ``source_ref``. A column named like a target maps itself. Label targets:
``label.FIELD`` (the value), ``score.FIELD`` and ``note.FIELD``, where FIELD is a field of
``--rubric`` or of the one built-in rubric that has it. Values must be the field's categories;
``--value SOURCE=CATEGORY`` maps others. Unmapped columns are kept as metadata.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.models import LabelDraft, TranscriptRecord
from importers.base import (
    ImportOptions,
    ImportRequestError,
    ReadResult,
    RecordError,
    Rejected,
    check_length,
    normalize_condition,
    open_binary,
    type_name,
)
from importers.jsonstream import iter_records
from importers.reasoning import REASONING_TAGS, split_reasoning

TEXT_TARGETS = ("scratchpad", "completion", "output", "turns")
TARGETS = (*TEXT_TARGETS, "user_input", "system_prompt", "model", "condition", "dataset",
           "prompt_variant", "source_ref")  # fmt: skip
LABEL_KINDS = ("label", "score", "note")


class LabelValueError(RecordError):
    def __init__(self, message: str, field_id: str, value: str):
        super().__init__(message)
        self.field_id = field_id
        self.value = value


@dataclass
class LabelTarget:
    rubric_id: str
    field_id: str
    kind: str
    categories: tuple[str, ...]
    value_column: str | None = None
    score_column: str | None = None
    note_column: str | None = None


@dataclass
class TableSpec:
    columns: dict[str, str] = field(default_factory=dict)  # target -> column
    labels: dict[str, LabelTarget] = field(default_factory=dict)  # field -> target
    values: dict[str, str] = field(default_factory=dict)  # lower(source) -> category

    @property
    def mapped_columns(self) -> set[str]:
        used = set(self.columns.values())
        for t in self.labels.values():
            used |= {c for c in (t.value_column, t.score_column, t.note_column) if c}
        return used


def _find_field(field_id: str, rubric_name: str | None):
    from rubrics import RubricError, builtin_rubric_paths, load_rubric, resolve_rubric

    if rubric_name:
        try:
            rubric = resolve_rubric(rubric_name)
        except RubricError as exc:
            raise ImportRequestError(str(exc)) from None
        if field_id not in rubric.field_ids:
            raise ImportRequestError(
                f"rubric {rubric.id!r} has no field {field_id!r}; its fields are "
                f"{', '.join(rubric.field_ids)}"
            )
        return rubric, rubric.field(field_id)
    matches = []
    for path in builtin_rubric_paths().values():
        rubric = load_rubric(path)
        if field_id in rubric.field_ids:
            matches.append(rubric)
    if len(matches) == 1:
        return matches[0], matches[0].field(field_id)
    if not matches:
        raise ImportRequestError(
            f"no built-in rubric has a field {field_id!r}: pass --rubric ID_OR_PATH"
        )
    names = ", ".join(r.id for r in matches)
    raise ImportRequestError(f"field {field_id!r} is in several rubrics ({names}): pass --rubric")


def build_spec(options: ImportOptions) -> TableSpec:
    """Check the mapping options once, before any row is read."""
    spec = TableSpec(values={k.strip().lower(): v.strip() for k, v in options.values.items()})
    for target, column in options.maps.items():
        kind, _, field_id = target.partition(".")
        if kind in LABEL_KINDS and field_id:
            if field_id not in spec.labels:
                rubric, f = _find_field(field_id, options.rubric)
                spec.labels[field_id] = LabelTarget(rubric.id, f.id, f.kind, f.category_ids)
            attr = {"label": "value_column", "score": "score_column", "note": "note_column"}[kind]
            setattr(spec.labels[field_id], attr, column)
        elif target in TARGETS:
            spec.columns[target] = column
        else:
            raise ImportRequestError(
                f"--map {target}={column}: unknown target {target!r}; targets are "
                f"{', '.join(TARGETS)}, or label.FIELD / score.FIELD / note.FIELD"
            )
    for f_id, t in spec.labels.items():
        if t.value_column is None:
            raise ImportRequestError(
                f"score.{f_id} or note.{f_id} is mapped but not label.{f_id}: map the label "
                "column too"
            )
    if spec.labels:
        wanted = set(spec.values.values())
        allowed = set().union(*(t.categories for t in spec.labels.values()))
        bad = sorted(wanted - allowed)
        if bad:
            raise ImportRequestError(
                f"--value maps to {', '.join(bad)}, which is not a category of "
                f"{', '.join(f'{t.rubric_id}.{t.field_id}' for t in spec.labels.values())} "
                f"(categories: {', '.join(sorted(allowed))})"
            )
    elif spec.values:
        raise ImportRequestError("--value is given but no label.FIELD column is mapped")
    return spec


def _auto_map(spec: TableSpec, columns: list[str], *, header: bool) -> None:
    """Columns named like a target map themselves unless the user mapped that target."""
    used = spec.mapped_columns
    for target in TARGETS:
        if target not in spec.columns and target in columns and target not in used:
            spec.columns[target] = target
    if not any(t in spec.columns for t in TEXT_TARGETS):
        raise ImportRequestError(
            "no column holds the transcript: map one with --map scratchpad=COLUMN (or "
            f"completion=, output=, turns=); columns found: {', '.join(columns[:30])}"
        )
    missing = sorted(c for c in spec.mapped_columns if c not in columns)
    if missing and header:
        raise ImportRequestError(
            f"mapped column(s) {', '.join(missing)} not in the table; columns found: "
            f"{', '.join(columns[:30])}"
        )


# -- reading rows ----------------------------------------------------------------------------


@dataclass
class Row:
    index: int
    values: dict[str, Any]
    line: int | None = None


def _rows(path: Path, options: ImportOptions) -> Iterator[Row | Rejected | list[str]]:
    """Rows of the table; the first item is the column list when the format has a header."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        yield from _csv_rows(path, options, "\t" if suffix == ".tsv" else ",")
    elif suffix in (".parquet", ".pq"):
        yield from _parquet_rows(path)
    else:
        for item in iter_records(path, options):
            if isinstance(item, Rejected):
                yield item
            elif not isinstance(item.value, dict):
                yield Rejected(f"a row should be a JSON object, found {type_name(item.value)}",
                               index=item.index, line=item.line, raw=item.value)  # fmt: skip
            else:
                yield Row(item.index, item.value, item.line)


class _BadLine(Exception):
    def __init__(self, line: int, exc: UnicodeDecodeError):
        super().__init__(str(exc))
        self.line = line
        self.exc = exc


class _Lines:
    """Decoded lines for the csv module, counting physical lines so errors can name them."""

    def __init__(self, raw):
        self._raw = raw
        self.line = 0

    def __iter__(self):
        for data in self._raw:
            self.line += 1
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _BadLine(self.line, exc) from None
            yield text.lstrip("\ufeff") if self.line == 1 else text


def _csv_rows(path: Path, options: ImportOptions, delimiter: str):
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    index = 0
    with open_binary(path, options) as raw:
        lines = _Lines(raw)
        reader = csv.reader(iter(lines), delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header:
                yield Rejected("the file is empty (no header row)", fatal=True, kind="empty")
                return
            yield header
            for values in reader:
                if not values:
                    continue
                if len(values) != len(header):
                    yield Rejected(
                        f"{len(values)} columns, the header has {len(header)}",
                        index=index, line=lines.line, raw=values,
                    )  # fmt: skip
                else:
                    yield Row(index, dict(zip(header, values, strict=True)), lines.line)
                index += 1
        except _BadLine as bad:
            yield Rejected(
                f"invalid UTF-8 at byte {bad.exc.start} of the line ({bad.exc.reason}); "
                "nothing after this point can be read",
                index=index, line=bad.line, fatal=True,
            )  # fmt: skip
            return
        except csv.Error as exc:
            yield Rejected(f"malformed CSV: {exc}; nothing after this point can be read",
                           index=index, line=lines.line, fatal=True)  # fmt: skip
            return
    if index == 0:
        yield Rejected("the table has a header but no rows", fatal=True, kind="empty")


def _parquet_rows(path: Path):
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
        yield Rejected(f"not a readable Parquet file: {exc}", fatal=True, kind="file")
        return
    yield list(pf.schema_arrow.names)
    index = 0
    try:
        for batch in pf.iter_batches(batch_size=512):
            for values in batch.to_pylist():
                yield Row(index, values)
                index += 1
    except Exception as exc:  # noqa: BLE001
        yield Rejected(f"Parquet data cannot be read: {exc}", index=index, fatal=True)
        return
    if index == 0:
        yield Rejected("the table has no rows", fatal=True, kind="empty")


# -- rows to transcripts ---------------------------------------------------------------------


def read(path: Path, options: ImportOptions) -> ReadResult:
    spec = build_spec(options)
    checked = False
    for item in _rows(path, options):
        if isinstance(item, Rejected):
            yield item
            continue
        if not checked:
            header = isinstance(item, list)
            try:
                _auto_map(spec, item if header else list(item.values), header=header)
            except ImportRequestError as exc:
                yield Rejected(str(exc), fatal=True, kind="file", line=1 if header else item.line)
                return
            checked = True
            if header:
                continue
        try:
            yield to_transcript(item, spec, path, options)
        except LabelValueError as exc:
            yield Rejected(str(exc), index=item.index, line=item.line, raw=item.values,
                           kind="label_value")  # fmt: skip
        except RecordError as exc:
            yield Rejected(str(exc), index=item.index, line=item.line, raw=item.values)
        except Exception as exc:  # noqa: BLE001 - untrusted input: any surprise is one bad row
            yield Rejected(f"unexpected content ({type(exc).__name__}: {exc})",
                           index=item.index, line=item.line, raw=item.values)  # fmt: skip


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(row: Row, spec: TableSpec, target: str) -> str | None:
    column = spec.columns.get(target)
    if column is None:
        return None
    if column not in row.values:
        raise RecordError(f"missing column {column!r} (mapped to {target})")
    value = row.values[column]
    if _blank(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"column {column!r} ({target}) should be text, found {type_name(value)}")


def _turns(row: Row, spec: TableSpec) -> list[dict[str, Any]] | None:
    column = spec.columns.get("turns")
    if column is None or _blank(row.values.get(column)):
        return None
    value = row.values[column]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(f"column {column!r} (turns) is not JSON: {exc.msg}") from None
    if not isinstance(value, list) or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
        for t in value
    ):
        raise RecordError(
            f"column {column!r} (turns) should be a list of {{role, content}} objects"
        )
    return [{"role": t["role"], "content": t["content"]} for t in value]


def _has_tags(text: str) -> bool:
    return any(f"<{tag}>" in text for tag in REASONING_TAGS)


def _category(raw: Any, target: LabelTarget, spec: TableSpec) -> str:
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    else:
        text = str(raw).strip()
    mapped = spec.values.get(text.lower())
    if mapped is not None:
        return mapped
    for category in target.categories:
        if category.lower() == text.lower():
            return category
    raise LabelValueError(
        f"label.{target.field_id}: value {text!r} is not a category of "
        f"{target.rubric_id}.{target.field_id} (expected: {', '.join(target.categories)}); "
        f"map it with --value {text}=CATEGORY",
        target.field_id,
        text,
    )


def _label_value(raw: Any, target: LabelTarget, spec: TableSpec) -> Any:
    if target.kind != "multi":
        return _category(raw, target, spec)
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RecordError(
                    f"label.{target.field_id}: {text[:80]!r} is not a JSON list ({exc.msg})"
                ) from None
            if not isinstance(items, list):
                items = [items]
        else:
            items = text.replace(";", ",").split(",")
    elif isinstance(raw, list):
        items = raw
    else:
        items = [raw]
    return sorted({_category(i, target, spec) for i in items if not _blank(i)})


def _labels(row: Row, spec: TableSpec, options: ImportOptions) -> list[LabelDraft]:
    drafts = []
    for target in spec.labels.values():
        raw = row.values.get(target.value_column)
        if _blank(raw):
            continue
        value = _label_value(raw, target, spec)
        score = None
        if target.score_column and not _blank(row.values.get(target.score_column)):
            try:
                score = float(row.values[target.score_column])
            except (TypeError, ValueError):
                raise RecordError(
                    f"column {target.score_column!r} (score.{target.field_id}) should be a "
                    f"number, found {row.values[target.score_column]!r}"
                ) from None
        note = None
        if target.note_column and not _blank(row.values.get(target.note_column)):
            note = str(row.values[target.note_column])
        drafts.append(
            LabelDraft(
                rubric_id=target.rubric_id,
                field=target.field_id,
                value=value,
                source=options.label_source,
                rater=options.rater or "imported",
                score=score,
                note=note,
            )
        )
    return drafts


def to_transcript(
    row: Row, spec: TableSpec, path: Path, options: ImportOptions
) -> TranscriptRecord:
    scratchpad_text = _text(row, spec, "scratchpad")
    completion = _text(row, spec, "completion")
    output = _text(row, spec, "output")
    turns = _turns(row, spec)
    user_input = _text(row, spec, "user_input") or ""
    if scratchpad_text is None and completion is None and output is None and turns is None:
        mapped = ", ".join(f"{t}={spec.columns[t]}" for t in TEXT_TARGETS if t in spec.columns)
        raise RecordError(f"no transcript text: the mapped column(s) ({mapped}) are empty")

    bodies_text, blocks, split_output = "", [], None
    source_text = scratchpad_text if scratchpad_text is not None else completion
    if source_text is not None:
        if completion is not None or _has_tags(source_text):
            split = split_reasoning(check_length(source_text, "the transcript text"))
            bodies_text, blocks = split.scratchpad, split.blocks
            if completion is not None or "<OUTPUT>" in source_text:
                split_output = split.output
        else:
            bodies_text, blocks = source_text, [(0, len(source_text))]
    final_output = output if output is not None else (split_output or "")
    if turns is None:
        turns = []
        if user_input:
            turns.append({"role": "user", "content": user_input})
        turns.append({"role": "assistant", "content": source_text if source_text is not None
                      else final_output})  # fmt: skip
    elif not bodies_text:
        assistant = [t["content"] for t in turns if t["role"] == "assistant"]
        if assistant:
            split = split_reasoning(check_length(assistant[-1], "the last assistant turn"))
            bodies_text, blocks = split.scratchpad, split.blocks
            if output is None:
                final_output = split.output

    meta = {k: v for k, v in row.values.items() if k not in spec.mapped_columns}
    condition = options.condition or normalize_condition(_text(row, spec, "condition"))
    return TranscriptRecord(
        user_input=user_input,
        scratchpad=bodies_text,
        scratchpad_blocks=blocks,
        output=final_output,
        turns=turns,
        system_prompt=_text(row, spec, "system_prompt"),
        model=options.model or _text(row, spec, "model"),
        condition=condition,
        dataset=options.dataset or _text(row, spec, "dataset"),
        prompt_variant=_text(row, spec, "prompt_variant"),
        source_path=str(path),
        source_ref=_text(row, spec, "source_ref")
        or (f"line {row.line}" if row.line else f"row {row.index}"),
        metadata=meta,
        labels=_labels(row, spec, options),
    )


def label_value_counts(path: Path, options: ImportOptions, limit: int = 50) -> dict[str, Counter]:
    """Every distinct raw value of each mapped label column, counted (for error messages)."""
    spec = build_spec(options)
    counts: dict[str, Counter] = {f: Counter() for f in spec.labels}
    quiet = ImportOptions(**{**options.__dict__, "on_progress": None})
    for item in _rows(path, quiet):
        if not isinstance(item, Row):
            continue
        for f_id, target in spec.labels.items():
            raw = item.values.get(target.value_column)
            if _blank(raw):
                continue
            items = raw if isinstance(raw, list) else [raw]
            for value in items:
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                if text in counts[f_id] or len(counts[f_id]) < limit:
                    counts[f_id][text] += 1
    return counts


def describe_label_values(path: Path, options: ImportOptions) -> str:
    """A message listing each label column's values found and the categories expected."""
    spec = build_spec(options)
    counts = label_value_counts(path, options)
    lines = []
    for f_id, target in spec.labels.items():
        found = ", ".join(f"{v} ({n})" for v, n in counts[f_id].most_common())
        unmapped = [v for v in counts[f_id]
                    if v.lower() not in spec.values
                    and v.lower() not in {c.lower() for c in target.categories}]  # fmt: skip
        lines.append(
            f"label.{f_id} (column {target.value_column!r}): values found: {found or 'none'}; "
            f"categories expected: {', '.join(target.categories)}"
        )
        if unmapped:
            example = " ".join(f"--value {v}=CATEGORY" for v in unmapped[:4])
            lines.append(f"  map them with {example}")
    return "\n".join(lines)
