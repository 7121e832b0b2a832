"""``--map``: where each target comes from, and turning label values into rubric categories.

``--map TARGET=SOURCE`` pairs are checked once, before any record is read (``build_spec``).
For tables a source is a column, and the header (or first row) is then checked against the
mapping (``auto_map``). Formats with their own structure (Inspect logs, chat records) map only
labels, and a source is a dotted path into each record (``metadata.gold_af_label``,
``scores.judge.value``); a table's source may be a dotted path into a JSON cell too. Each
record's label values are checked against the rubric field's categories, through the
``--value`` map (``labels_of``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from db.models import INCLUSION_FIELD, LabelDraft
from importers.base import ImportOptions, ImportRequestError, RecordError, describe_json_error

TEXT_TARGETS = ("scratchpad", "completion", "output", "turns")
TARGETS = (
    *TEXT_TARGETS,
    "user_input",
    "system_prompt",
    "model",
    "condition",
    "dataset",
    "prompt_variant",
    "source_ref",
)
LABEL_KINDS = ("label", "score", "note")
# Mapped only when named: the probability that the reference set's sampling drew the row.
DESIGN_TARGETS = ("inclusion_probability",)


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


def find_field(field_id: str, rubric_name: str | None):
    from rubrics import RubricError, builtin_rubric_paths, load_rubric, resolve_rubric

    if rubric_name:
        try:
            rubric = resolve_rubric(rubric_name)
        except RubricError as exc:
            raise ImportRequestError(f"--rubric {rubric_name}: {exc}") from None
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
        fields = "; ".join(
            f"{r.id}: {', '.join(r.field_ids)}"
            for r in (load_rubric(p) for p in builtin_rubric_paths().values())
        )
        raise ImportRequestError(
            f"no built-in rubric has a field {field_id!r}; the built-in rubrics' fields are "
            f"{fields}. Map label.FIELD with one of them, or pass --rubric ID_OR_PATH naming "
            "a rubric that has this field"
        )
    names = ", ".join(r.id for r in matches)
    raise ImportRequestError(f"field {field_id!r} is in several rubrics ({names}): pass --rubric")


def build_spec(
    options: ImportOptions, label_map: str | None = "columns", fmt: str = "table"
) -> TableSpec:
    """Check the mapping options once, before any record is read.

    ``label_map`` "paths" (formats that are not tables) allows label targets only."""
    if options.label_source == "adjudication" and not (options.rater or "").strip():
        raise ImportRequestError("--label-source adjudication needs --rater WHO (the adjudicator)")
    spec = TableSpec(values={k.strip().lower(): v.strip() for k, v in options.values.items()})
    shared_note = None
    for target, column in options.maps.items():
        kind, _, field_id = target.partition(".")
        if target == "note":  # one note column for every mapped label (e.g. a decision's reason)
            shared_note = column
            continue
        if label_map != "columns" and not (kind in LABEL_KINDS and field_id):
            raise ImportRequestError(
                f"--map {target}={column}: the {fmt} format maps only labels "
                "(label.FIELD, score.FIELD, note.FIELD) from a path into each record, e.g. "
                "label.alignment_faking=metadata.gold_af_label; the transcript comes from the "
                "file's own structure"
            )
        if kind in LABEL_KINDS and field_id:
            if field_id not in spec.labels:
                try:
                    rubric, f = find_field(field_id, options.rubric)
                except ImportRequestError as exc:
                    if str(exc).startswith("--rubric"):
                        raise
                    raise ImportRequestError(f"--map {target}={column}: {exc}") from None
                spec.labels[field_id] = LabelTarget(rubric.id, f.id, f.kind, f.category_ids)
            attr = {"label": "value_column", "score": "score_column", "note": "note_column"}[kind]
            setattr(spec.labels[field_id], attr, column)
        elif target in TARGETS or target in DESIGN_TARGETS:
            spec.columns[target] = column
        else:
            raise ImportRequestError(
                f"--map {target}={column}: unknown target {target!r}; targets are "
                f"{', '.join((*TARGETS, *DESIGN_TARGETS))}, or label.FIELD / score.FIELD / "
                "note.FIELD / note"
            )
    if shared_note is not None and not spec.labels:
        raise ImportRequestError(f"--map note={shared_note}: map a label.FIELD column too")
    for f_id, t in spec.labels.items():
        t.note_column = t.note_column or shared_note
        if options.label_source == "adjudication" and t.note_column is None:
            raise ImportRequestError(
                f"an adjudication needs its reason: map the column holding it with "
                f"--map note=COLUMN (or note.{f_id}=COLUMN)"
            )
        if t.value_column is None:
            raise ImportRequestError(
                f"score.{f_id} or note.{f_id} is mapped but not label.{f_id}: map the label "
                "column too"
            )
    if "inclusion_probability" in spec.columns and not spec.labels:
        raise ImportRequestError(
            f"--map inclusion_probability={spec.columns['inclusion_probability']}: an inclusion "
            "probability belongs to a reference set's labels; map the label column too with "
            "--map label.FIELD=COLUMN"
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
        raise ImportRequestError(
            "--value is given but no label.FIELD source is mapped: map it with "
            "--map label.FIELD=COLUMN (a column, or a path such as metadata.KEY)"
        )
    return spec


def auto_map(spec: TableSpec, columns: list[str], *, header: bool) -> None:
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


def blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def category(raw: Any, target: LabelTarget, spec: TableSpec) -> str:
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


def label_value(raw: Any, target: LabelTarget, spec: TableSpec) -> Any:
    if target.kind != "multi":
        return category(raw, target, spec)
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                why = describe_json_error(exc, text, "cell")
                raise RecordError(
                    f"label.{target.field_id}: {text[:80]!r} is not a JSON list ({why})"
                ) from None
            if not isinstance(items, list):
                items = [items]
        else:
            items = text.replace(";", ",").split(",")
    elif isinstance(raw, list):
        items = raw
    else:
        items = [raw]
    return sorted({category(i, target, spec) for i in items if not blank(i)})


_MISSING = object()


def lookup(values: Any, source: str | None) -> Any:
    """The value of ``source`` in a record: the key itself when the record has it, else a
    dotted path through nested objects (and list indexes); None when it is not there."""
    if source is None or not isinstance(values, dict):
        return None
    if source in values:
        return values[source]
    current: Any = values
    for part in source.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is _MISSING:
            return None
    return current


def labels_of(values: dict[str, Any], spec: TableSpec, options: ImportOptions) -> list[LabelDraft]:
    drafts = []
    for target in spec.labels.values():
        raw = lookup(values, target.value_column)
        if blank(raw):
            continue
        value = label_value(raw, target, spec)
        score = None
        raw_score = lookup(values, target.score_column)
        if target.score_column and not blank(raw_score):
            try:
                score = float(raw_score)
            except (TypeError, ValueError):
                raise RecordError(
                    f"{target.score_column!r} (score.{target.field_id}) should be a "
                    f"number, found {raw_score!r}"
                ) from None
        note = None
        raw_note = lookup(values, target.note_column)
        if target.note_column and not blank(raw_note):
            note = str(raw_note)
        if note is None and options.label_source == "adjudication":
            raise RecordError(
                f"the adjudication of {target.field_id} has no reason: "
                f"{target.note_column!r} is empty"
            )
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
    column = spec.columns.get("inclusion_probability")
    if column is not None and drafts:
        probability = _probability(values.get(column), column)
        for rubric_id in sorted({d.rubric_id for d in drafts}):
            drafts.append(
                LabelDraft(
                    rubric_id=rubric_id,
                    field=INCLUSION_FIELD,
                    value=probability,
                    source=options.label_source,
                    rater=options.rater or "imported",
                )
            )
    return drafts


def label_value_counts(sources, spec: TableSpec, limit: int = 50) -> dict[str, Counter]:
    """Every distinct raw value of each mapped label source, counted (for error messages)."""
    counts: dict[str, Counter] = {f: Counter() for f in spec.labels}
    for values in sources:
        for f_id, target in spec.labels.items():
            raw = lookup(values, target.value_column)
            if blank(raw):
                continue
            items = raw if isinstance(raw, list) else [raw]
            for value in items:
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                if text in counts[f_id] or len(counts[f_id]) < limit:
                    counts[f_id][text] += 1
    return counts


def describe_label_values(path, options: ImportOptions, fmt) -> str:
    """A message listing each label source's values found and the categories expected.

    ``fmt`` is the file's :class:`~importers.base.Format`; its ``label_sources`` reads the
    records again."""
    spec = build_spec(options, fmt.label_map, fmt.name)
    counts = label_value_counts(fmt.label_sources(path, options), spec)
    noun = "column" if fmt.label_map == "columns" else "path"
    lines = []
    for f_id, target in spec.labels.items():
        found = ", ".join(f"{v} ({n})" for v, n in counts[f_id].most_common())
        unmapped = [
            v
            for v in counts[f_id]
            if v.lower() not in spec.values
            and v.lower() not in {c.lower() for c in target.categories}
        ]
        lines.append(
            f"label.{f_id} ({noun} {target.value_column!r}): values found: {found or 'none'}; "
            f"categories expected: {', '.join(target.categories)}"
        )
        if unmapped:
            example = " ".join(f"--value {v}=CATEGORY" for v in unmapped[:4])
            lines.append(f"  map them with {example}")
    return "\n".join(lines)


def _probability(raw: Any, column: str) -> float:
    """An inclusion probability: a number in (0, 1]; a labelled row without one is an error,
    since the estimate would silently treat the sample as drawn otherwise."""
    if blank(raw):
        raise RecordError(
            f"column {column!r} (inclusion_probability) is empty on a labelled row: every "
            "reference label needs the probability its row was drawn with"
        )
    try:
        p = float(raw)
    except (TypeError, ValueError):
        raise RecordError(
            f"column {column!r} (inclusion_probability) should be a number, found {raw!r}"
        ) from None
    if not (0 < p <= 1) or math.isnan(p):
        raise RecordError(
            f"column {column!r} (inclusion_probability) should be above 0 and at most 1, "
            f"found {raw!r}"
        )
    return p
