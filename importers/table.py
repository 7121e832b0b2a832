"""Tables of transcripts, with or without labels: JSONL, JSON arrays, CSV, TSV and Parquet.

Columns are mapped with ``--map TARGET=COLUMN``. Transcript targets: ``scratchpad`` (reasoning
tags inside are split out, else the whole text is one block), ``completion`` (a full completion
to split into scratchpad and output), ``output``, ``user_input``, ``system_prompt``,
``turns`` (a JSON list of ``{"role", "content"}``), ``model``, ``condition``, ``dataset``,
``prompt_variant``, ``source_ref``. A column named like a target maps itself. Label targets:
``label.FIELD`` (the value), ``score.FIELD`` and ``note.FIELD``, where FIELD is a field of
``--rubric`` or of the one built-in rubric that has it. Values must be the field's categories;
``--value SOURCE=CATEGORY`` maps others. ``inclusion_probability`` (mapped only when named)
is the probability with which the reference set's sampling drew the row: it is stored beside
the row's labels as the meta label ``_inclusion_probability`` (same source and rater), where
``reviewer analyze --reference RATER`` finds it and weights the sample by it. Unmapped columns
are kept as metadata.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.models import TranscriptRecord
from importers.base import (
    LABEL_MAP_OPTIONS,
    Format,
    ImportOptions,
    ImportRequestError,
    ReadResult,
    RecordError,
    Rejected,
    Sniff,
    check_length,
    describe_json_error,
    normalize_condition,
    open_binary,
    type_name,
)
from importers.jsonstream import iter_records
from importers.mapping import (
    TEXT_TARGETS,
    LabelValueError,
    TableSpec,
    auto_map,
    blank,
    build_spec,
    labels_of,
)
from importers.reasoning import (
    has_reasoning_tags,
    join_blocks,
    reasoning_status,
    split_reasoning,
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
                yield Rejected(
                    f"a row should be a JSON object, found {type_name(item.value)}",
                    index=item.index,
                    line=item.line,
                    raw=item.value,
                )
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
                        index=index,
                        line=lines.line,
                        raw=values,
                    )
                else:
                    yield Row(index, dict(zip(header, values, strict=True)), lines.line)
                index += 1
        except _BadLine as bad:
            yield Rejected(
                f"invalid UTF-8 at byte {bad.exc.start} of the line ({bad.exc.reason}); "
                "nothing after this point can be read",
                index=index,
                line=bad.line,
                fatal=True,
            )
            return
        except csv.Error as exc:
            yield Rejected(
                f"malformed CSV: {exc}; nothing after this point can be read",
                index=index,
                line=lines.line,
                fatal=True,
            )
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
    spec = build_spec(options, FORMAT.label_map, FORMAT.name)
    checked = False
    for item in _rows(path, options):
        if isinstance(item, Rejected):
            yield item
            continue
        if not checked:
            header = isinstance(item, list)
            try:
                auto_map(spec, item if header else list(item.values), header=header)
            except ImportRequestError as exc:
                yield Rejected(str(exc), fatal=True, kind="file", line=1 if header else item.line)
                return
            checked = True
            if header:
                continue
        try:
            yield to_transcript(item, spec, path, options)
        except LabelValueError as exc:
            yield Rejected(
                str(exc), index=item.index, line=item.line, raw=item.values, kind="label_value"
            )
        except RecordError as exc:
            yield Rejected(str(exc), index=item.index, line=item.line, raw=item.values)
        except Exception as exc:  # noqa: BLE001 - untrusted input: any surprise is one bad row
            yield Rejected(
                f"unexpected content ({type(exc).__name__}: {exc})",
                index=item.index,
                line=item.line,
                raw=item.values,
            )


def _text(row: Row, spec: TableSpec, target: str) -> str | None:
    column = spec.columns.get(target)
    if column is None:
        return None
    if column not in row.values:
        raise RecordError(f"missing column {column!r} (mapped to {target})")
    value = row.values[column]
    if blank(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"column {column!r} ({target}) should be text, found {type_name(value)}")


def _turns(row: Row, spec: TableSpec) -> list[dict[str, Any]] | None:
    column = spec.columns.get("turns")
    if column is None or blank(row.values.get(column)):
        return None
    value = row.values[column]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(
                f"column {column!r} (turns) is not JSON: {describe_json_error(exc, value, 'cell')}"
            ) from None
    if not isinstance(value, list) or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
        for t in value
    ):
        raise RecordError(
            f"column {column!r} (turns) should be a list of {{role, content}} objects"
        )
    return [{"role": t["role"], "content": t["content"]} for t in value]


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

    bodies: list[str] = []
    split_output = None
    if scratchpad_text is not None:
        if has_reasoning_tags(scratchpad_text):
            split = split_reasoning(check_length(scratchpad_text, "the transcript text"))
            bodies += [split.scratchpad[a:b] for a, b in split.blocks]
            if "<OUTPUT>" in scratchpad_text:
                split_output = split.output
        else:
            bodies.append(scratchpad_text)
    if completion is not None:  # reasoning (tagged, or only closed) and the answer after it
        split = split_reasoning(check_length(completion, "the transcript text"))
        bodies += [split.scratchpad[a:b] for a, b in split.blocks]
        split_output = split.output
    bodies_text, blocks = join_blocks(bodies)
    source_text = completion if completion is not None else scratchpad_text
    final_output = output if output is not None else (split_output or "")
    if turns is None:
        turns = []
        if user_input:
            turns.append({"role": "user", "content": user_input})
        turns.append(
            {
                "role": "assistant",
                "content": source_text if source_text is not None else final_output,
            }
        )
    elif not bodies_text:
        assistant = [t["content"] for t in turns if t["role"] == "assistant"]
        if assistant:
            split = split_reasoning(check_length(assistant[-1], "the last assistant turn"))
            bodies_text, blocks = split.scratchpad, split.blocks
            if output is None:
                final_output = split.output

    meta = {k: v for k, v in row.values.items() if k not in spec.mapped_columns}
    meta.update(reasoning_status(bodies_text, 0))
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
        labels=labels_of(row.values, spec, options),
    )


def detect(sniff: Sniff) -> bool:
    if sniff.suffix in (".csv", ".tsv", ".parquet", ".pq"):
        return True
    return sniff.suffix in (".jsonl", ".ndjson") or sniff.shape == "array"


def label_sources(path: Path, options: ImportOptions) -> Iterator[dict]:
    quiet = ImportOptions(**{**options.__dict__, "on_progress": None})
    for item in _rows(path, quiet):
        if isinstance(item, Row):
            yield item.values


FORMAT = Format(
    name="table",
    description="JSONL, CSV, TSV or Parquet tables with a --map column mapping",
    suffixes=(".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson"),
    detect=detect,
    options=("model", "condition", "dataset", *LABEL_MAP_OPTIONS),
    label_map="columns",
    label_sources=label_sources,
    needs="--map naming the column that holds the transcript, unless one is named like a target",
)
