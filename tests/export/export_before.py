"""The export module as it was before the streaming rewrite, kept (reformatted only) as the
oracle the fast path is compared with (tests/export/test_export_fast_path.py). Not used by the
program.

Export transcripts with their gold labels and every live label's provenance.

One row per transcript. ``jsonl`` and ``hf`` keep the nested shape (gold per rubric and
field, then a list of labels with source, rater, phase, rubric version and hash, classifier
run, score, evidence and timestamps); ``csv`` and ``parquet`` flatten it into one column per
rubric field and per (field, source, rater, phase), and keep the full provenance as JSON in
``labels_json``. A multi-label value is written as JSON list text (``["other"]``, ``[]`` for
none chosen) so that it differs from a missing label (an empty cell). Rows are written page by page, so memory does not grow with the database.

Nothing secret is written: classifier run parameters pass through ``scrub_secrets`` (no
credential is stored in the first place, and a test holds both ends to it).

Safe to share: source paths are reduced to file names (an absolute path names a person's
home and folders); with ``Pseudonyms`` every annotator name becomes a pseudonym, the same
one in every export that uses the same mapping file, which the owner keeps; CSV cells that a
spreadsheet would run as a formula are escaped; a value that is not valid JSON (NaN, text
another tool wrote, a lone surrogate) is written as text, never a crash.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from db import Store
from db import dataset as ds
from db.labels import GoldPolicy, error_reasons, gold_for_item, resolve_rubric
from db.models import LabelEvent

FORMATS = ("jsonl", "csv", "parquet", "hf")
TEXT_COLUMNS = ("system_prompt", "user_input", "scratchpad", "output")
BASE_COLUMNS = (
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
)
NOTE_FIELDS = ("_flag", "_comment")
_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|password|passwd|authorization|auth[_-]?token|access[_-]?token|"
    r"bearer|credential|^token$|^key$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(r"^(sk-|sk_|Bearer\s)", re.IGNORECASE)


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says what to do."""


def scrub_secrets(value: Any) -> Any:
    """A copy with credential-looking keys and values (and URL passwords) removed."""
    if isinstance(value, dict):
        return {
            k: scrub_secrets(v)
            for k, v in value.items()
            if not (isinstance(k, str) and _SECRET_KEY.search(k))
        }
    if isinstance(value, list | tuple):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str):
        if _SECRET_VALUE.match(value):
            return "[removed]"
        if "://" in value and "@" in value:
            parts = urlsplit(value)
            if parts.password or parts.username:
                host = parts.hostname or ""
                if parts.port:
                    host += f":{parts.port}"
                return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return value


@dataclass
class ExportOptions:
    rubric_ids: Sequence[str] | None = None  # None: every rubric with labels
    gold_only: bool = False
    include_text: bool = True
    policy: GoldPolicy = field(default_factory=GoldPolicy)
    pseudonyms: Pseudonyms | None = None  # None: annotator names as they are
    # Strings never written (the API keys the command found configured): each is masked
    # as *** wherever it occurs, text, labels, notes, evidence and the card included.
    redact: Sequence[str] = ()


# Label sources whose raters are people (a classifier's rater is its run's name).
PEOPLE_SOURCES = ("human", "adjudication", "imported")


class Pseudonyms:
    """A stable mapping from annotator names to pseudonyms (``rater-3f9a2c``).

    Random, not numbered in name order, so a pseudonym says nothing about the name; stable
    because the mapping is kept in a file that every later export reads and extends. The
    file turns pseudonyms back into names: the owner keeps it, and does not share it.
    """

    def __init__(self, mapping: dict[str, str] | None = None):
        self.mapping = dict(mapping or {})
        self.added: list[str] = []

    @classmethod
    def load(cls, path: Path) -> Pseudonyms:
        """The mapping in ``path``, or an empty one when the file does not exist yet."""
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            mapping = data["pseudonyms"]
            if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
            ):
                raise ValueError("'pseudonyms' must map names to pseudonyms")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExportError(
                f"{path}: not a pseudonym map ({exc}); give another "
                "--pseudonym-map or move this file away"
            ) from None
        if len(set(mapping.values())) != len(mapping):
            raise ExportError(f"{path}: two names share a pseudonym; fix or replace the file")
        return cls(mapping)

    def of(self, name: str) -> str:
        if name not in self.mapping:
            taken = set(self.mapping.values())
            pseudonym = f"rater-{secrets.token_hex(3)}"
            while pseudonym in taken:
                pseudonym = f"rater-{secrets.token_hex(3)}"
            self.mapping[name] = pseudonym
            self.added.append(name)
        return self.mapping[name]

    def rater(self, source: str, rater: str) -> str:
        return self.of(rater) if source in PEOPLE_SOURCES else rater

    def save(self, path: Path) -> None:
        """Write the mapping (readable by its owner only)."""
        text = json.dumps(
            {
                "about": "reviewer export pseudonyms: name -> pseudonym. Private: "
                "it undoes the pseudonymization. Keep it to reuse the same "
                "pseudonyms (--pseudonym-map).",
                "pseudonyms": self.mapping,
            },
            ensure_ascii=False,
            indent=2,
            sort_keys=True,
        )
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(text + "\n")
        os.replace(partial, path)


def default_pseudonym_map(out: Path) -> Path:
    """Beside the export (never inside an hf folder that is shared whole)."""
    return out.with_name(out.name + ".pseudonyms.json")


def shareable_path(path: str | None) -> str | None:
    """An absolute source path reduced to its file name; a relative one kept as it is."""
    if not path:
        return path
    if os.path.isabs(path) or re.match(r"^[A-Za-z]:[\\/]", path) or path.startswith("~"):
        return re.split(r"[\\/]", path.rstrip("/\\"))[-1]
    return path


@dataclass
class ExportReport:
    path: Path
    fmt: str
    rows: int = 0
    skipped_no_gold: int = 0
    rubric_fields: dict[str, list[str]] = field(default_factory=dict)
    gold_status: Counter = field(default_factory=Counter)  # (rubric, field, status)
    gold_values: Counter = field(default_factory=Counter)  # (rubric, field, value)
    labels_by_source: Counter = field(default_factory=Counter)
    raters: Counter = field(default_factory=Counter)  # (source, rater)
    files: list[Path] = field(default_factory=list)


class Exporter:
    """Builds export rows for one database and set of options."""

    page = 500  # transcripts read (and held) at a time

    def __init__(self, store: Store, options: ExportOptions):
        self.store = store
        self.options = options
        self.rubric_fields = self._rubric_fields()
        self.runs = {
            rid: {"id": rid, "name": r["name"], "provider": r["provider"], "model": r["model"]}
            for rid, r in ds.classifier_runs(store).items()
        }
        self.versions = ds.rubric_version_map(store)

    def _rubric_fields(self) -> dict[str, list[str]]:
        chosen = self.options.rubric_ids
        rubric_ids = list(chosen) if chosen else ds.labeled_rubric_ids(self.store)
        fields: dict[str, list[str]] = {}
        labeled = set(ds.labeled_rubric_ids(self.store))
        for name in rubric_ids:
            rubric_id, defined = name, []
            try:
                rubric = resolve_rubric(self.store, name)
                rubric_id, defined = rubric.id, list(rubric.field_ids)  # a .toml path -> its id
            except ValueError:
                if name not in labeled:
                    raise ExportError(
                        f"unknown rubric {name!r}: give a built-in id, a .toml path, or a "
                        "rubric that has labels in this database (rubrics with labels: "
                        f"{', '.join(sorted(labeled)) or 'none'})"
                    ) from None
            seen = ds.label_fields(self.store, rubric_id)
            fields[rubric_id] = defined + [f for f in seen if f not in defined]
        return fields

    def provenance(self, e: LabelEvent) -> dict[str, Any]:
        version = self.versions.get(e.rubric_hash or "", (None, None))[1]
        return {
            "event_id": e.id,
            "rubric_id": e.rubric_id,
            "rubric_version": version,
            "rubric_hash": e.rubric_hash,
            "field": e.field,
            "value": e.value,
            "source": e.source,
            "rater": e.rater,
            "phase": e.phase,
            "score": e.score,
            "scores": e.scores,
            "evidence": e.evidence,
            "note": e.note,
            "seconds": e.seconds,
            "run_id": e.run_id,
            "run": self.runs.get(e.run_id) if e.run_id is not None else None,
            "created_at": e.created_at,
        }

    def rows(self, report: ExportReport) -> Iterator[dict[str, Any]]:
        """Nested export rows in transcript id order (``--gold-only`` rows only if asked)."""
        rubric_ids = list(self.rubric_fields)
        for page in ds.iter_transcripts(
            self.store, include_text=self.options.include_text, page=self.page
        ):
            ids = [t["id"] for t in page]
            events = ds.labels_for(self.store, ids, rubric_ids=rubric_ids, include_meta=True)
            errors: dict[int, list[dict[str, Any]]] = {}
            for e in error_reasons(self.store, transcript_ids=ids):
                if e.rubric_id in self.rubric_fields:
                    errors.setdefault(e.transcript_id, []).append(error_reason_row(e))
            for t in page:
                row = self._row(t, events.get(t["id"], []), errors.get(t["id"], []))
                if self.options.gold_only and not _any_gold(row):
                    report.skipped_no_gold += 1
                    continue
                self._count(row, report)
                yield row

    def _row(
        self, t: dict[str, Any], events: list[LabelEvent], errors: list[dict[str, Any]]
    ) -> dict[str, Any]:
        labels = [e for e in events if not e.field.startswith("_")]
        row: dict[str, Any] = {"transcript_id": t["id"]}
        row.update({c: t[c] for c in BASE_COLUMNS[1:]})
        if self.options.include_text:
            row.update({c: t[c] for c in TEXT_COLUMNS})
        row["gold"] = {
            rid: {
                f: g.as_dict()
                for f, g in gold_for_item(
                    [e for e in labels if e.rubric_id == rid], fields, self.options.policy
                ).items()
            }
            for rid, fields in self.rubric_fields.items()
        }
        row["labels"] = [self.provenance(e) for e in labels]
        row["notes"] = [
            {
                "kind": e.field[1:],
                "value": e.value,
                "note": e.note,
                "rater": e.rater,
                "event_id": e.id,
                "created_at": e.created_at,
            }
            for e in events
            if e.field in NOTE_FIELDS
        ]
        row["error_reasons"] = errors
        row["source_path"] = shareable_path(row["source_path"])
        if self.options.pseudonyms is not None:
            _pseudonymize(row, self.options.pseudonyms)
        return redact(row, self.options.redact)

    def _count(self, row: dict[str, Any], report: ExportReport) -> None:
        report.rows += 1
        for rid, fields in row["gold"].items():
            for f, g in fields.items():
                report.gold_status[(rid, f, g["status"])] += 1
                if g["value"] is not None:
                    report.gold_values[(rid, f, _flat(g["value"]))] += 1
        for lab in row["labels"]:
            report.labels_by_source[lab["source"]] += 1
            report.raters[(lab["source"], lab["rater"])] += 1


def error_reason_row(e: LabelEvent) -> dict[str, Any]:
    """An auditor's reasons why a classifier erred on one field of the item."""
    value = e.value if isinstance(e.value, dict) else {}
    return {
        "rubric_id": e.rubric_id,
        "field": value.get("field"),
        "classifier": value.get("classifier"),
        "classifier_value": value.get("said"),
        "reference_value": value.get("reference"),
        "codes": value.get("codes", []),
        "text": e.note,
        "auditor": e.rater,
        "event_id": e.id,
        "created_at": e.created_at,
    }


def _pseudonymize(row: dict[str, Any], names: Pseudonyms) -> None:
    """Every annotator name in a nested row replaced by its pseudonym, in place."""
    for lab in row["labels"]:
        lab["rater"] = names.rater(lab["source"], lab["rater"])
    for note in row["notes"]:
        note["rater"] = names.of(note["rater"])
    for reason in row["error_reasons"]:
        reason["auditor"] = names.of(reason["auditor"])
    for fields in row["gold"].values():
        for gold in fields.values():
            renamed = {}
            for key in gold["raters"]:  # an imported rater's key is 'imported:NAME'
                imported = key.startswith("imported:")
                name = key.removeprefix("imported:") if imported else key
                renamed[key] = f"imported:{names.of(name)}" if imported else names.of(name)
            gold["raters"] = [renamed[k] for k in gold["raters"]]
            if gold["reason"] and renamed:  # 'humans disagree: ann=yes, bob=no'
                pattern = "|".join(re.escape(k) for k in sorted(renamed, key=len, reverse=True))
                gold["reason"] = re.sub(
                    rf"(?<=[:,] )({pattern})(?==)",
                    lambda m, r=renamed: r[m.group(1)],
                    gold["reason"],
                )


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """A copy of a nested row with every occurrence of each secret masked as ``***``."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value


def _any_gold(row: dict[str, Any]) -> bool:
    return any(g["value"] is not None for fields in row["gold"].values() for g in fields.values())


def _flat(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _cell_value(value: Any) -> Any:
    """A label value for one flat cell. Multi-label answers are JSON list text, so an empty
    answer (``[]``: none chosen) stays distinct from no label at all (an empty cell)."""
    if isinstance(value, list | tuple):
        return _dumps(list(value))
    return _flat(value)


def _dumps(value: Any) -> str:
    """JSON text of any stored value: NaN and infinities (not JSON) become strings, and
    anything else json cannot write becomes its text."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(_json_safe(value), ensure_ascii=False, separators=(",", ":"), default=str)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # 'NaN', 'Infinity', '-Infinity'
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ' before a formula character."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _text_safe(value: str) -> str:
    """Text that can be encoded: a lone surrogate becomes its escape (\\ud800)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


# -- flat layout (csv, parquet) ------------------------------------------------------------


def slot_name(rubric_id: str, field_id: str, source: str, rater: str, phase: str) -> str:
    name = f"{rubric_id}.{field_id}.{source}:{rater}"
    return f"{name}:{phase}" if phase else name


@dataclass(frozen=True)
class FlatLayout:
    columns: list[str]
    score_columns: set[str]


def flat_layout(exporter: Exporter) -> FlatLayout:
    columns = list(BASE_COLUMNS)
    if exporter.options.include_text:
        columns += TEXT_COLUMNS
    for rid, fields in exporter.rubric_fields.items():
        for f in fields:
            columns += [
                f"{rid}.{f}.gold",
                f"{rid}.{f}.gold_status",
                f"{rid}.{f}.gold_reason",
                f"{rid}.{f}.gold_raters",
            ]
    scores = set()
    names = exporter.options.pseudonyms
    for rid, f, source, rater, phase in ds.label_slots(exporter.store, exporter.rubric_fields):
        if names is not None:
            rater = names.rater(source, rater)
        name = slot_name(rid, f, source, rater, phase)
        columns.append(name)
        if source == "classifier":
            columns.append(name + ".score")
            scores.add(name + ".score")
    columns += ["labels_json", "notes_json", "error_reasons_json"]
    secrets = exporter.options.redact
    return FlatLayout(redact(columns, secrets), {redact(c, secrets) for c in scores})


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    nested = ("gold", "labels", "notes", "error_reasons")
    flat: dict[str, Any] = {k: v for k, v in row.items() if k not in nested}
    flat["metadata"] = _dumps(row["metadata"])
    for rid, fields in row["gold"].items():
        for f, g in fields.items():
            flat[f"{rid}.{f}.gold"] = _cell_value(g["value"])
            flat[f"{rid}.{f}.gold_status"] = g["status"]
            flat[f"{rid}.{f}.gold_reason"] = g["reason"]
            flat[f"{rid}.{f}.gold_raters"] = ";".join(g["raters"])
    for lab in row["labels"]:
        name = slot_name(
            lab["rubric_id"], lab["field"], lab["source"], lab["rater"], lab["phase"] or ""
        )
        flat[name] = _cell_value(lab["value"])
        if lab["source"] == "classifier":
            flat[name + ".score"] = lab["score"]
    flat["labels_json"] = _dumps(row["labels"])
    flat["notes_json"] = _dumps(row["notes"])
    flat["error_reasons_json"] = _dumps(row.get("error_reasons", []))
    return flat


# -- writers -------------------------------------------------------------------------------


def _write_jsonl(rows: Iterator[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", errors="backslashreplace") as out:
        for row in rows:
            out.write(_dumps(row))
            out.write("\n")


def _write_csv(rows: Iterator[dict[str, Any]], path: Path, layout: FlatLayout) -> None:
    with path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=layout.columns, extrasaction="ignore")
        writer.writerow({c: csv_safe(c) for c in layout.columns})
        for row in rows:
            writer.writerow({k: csv_safe(v) for k, v in flatten(row).items()})


def _write_parquet(
    rows: Iterator[dict[str, Any]], path: Path, layout: FlatLayout, batch: int = 2000
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(name: str):
        if name == "transcript_id":
            return pa.int64()
        return pa.float64() if name in layout.score_columns else pa.string()

    schema = pa.schema([(c, kind(c)) for c in layout.columns])
    with pq.ParquetWriter(str(path), schema) as writer:
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            columns = {
                c: [None if r.get(c) is None else _cell(r[c], c, layout) for r in pending]
                for c in layout.columns
            }
            writer.write_table(pa.table(columns, schema=schema))
            pending.clear()

        for row in rows:
            pending.append(flatten(row))
            if len(pending) >= batch:
                flush()
        flush()  # always once, so an export with no rows is still a readable file


def _cell(value: Any, column: str, layout: FlatLayout) -> Any:
    if column == "transcript_id" or column in layout.score_columns:
        return value
    return _text_safe(value if isinstance(value, str) else str(value))


def export(
    store: Store,
    fmt: str,
    out: str | Path,
    options: ExportOptions | None = None,
    *,
    overwrite: bool = False,
) -> ExportReport:
    """Write the export and return what was written. The file appears only when complete."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    options = options or ExportOptions()
    out = Path(out)
    if fmt == "hf" and out.exists() and not out.is_dir():
        raise ExportError(
            f"{out} is a file, but --format hf writes a folder (data.jsonl and README.md): "
            "give --out a folder path"
        )
    if fmt != "hf" and out.is_dir():
        raise ExportError(
            f"{out} is a folder, but --format {fmt} writes one file: give --out a file path, "
            f"e.g. {out / ('labels.' + fmt)}"
        )
    if out.exists() and not overwrite:
        raise ExportError(f"{out} exists: choose another --out or pass --overwrite")
    exporter = Exporter(store, options)
    report = ExportReport(path=out, fmt=fmt, rubric_fields=exporter.rubric_fields)
    rows = exporter.rows(report)
    if fmt == "hf":
        out.mkdir(parents=True, exist_ok=True)
        data = out / "data.jsonl"
        _atomic(data, lambda p: _write_jsonl(rows, p))
        card = out / "README.md"
        card_text = redact(dataset_card(exporter, report), options.redact)
        _atomic(
            card, lambda p: p.write_text(card_text, encoding="utf-8", errors="backslashreplace")
        )
        report.files = [data, card]
        return report
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        _atomic(out, lambda p: _write_jsonl(rows, p))
    elif fmt == "csv":
        layout = flat_layout(exporter)
        _atomic(out, lambda p: _write_csv(rows, p, layout))
    else:
        layout = flat_layout(exporter)
        _atomic(out, lambda p: _write_parquet(rows, p, layout))
    report.files = [out]
    return report


def _atomic(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def dataset_card(exporter: Exporter, report: ExportReport) -> str:
    """A Hugging Face dataset card (README.md with YAML front matter) for an hf export."""
    from reviewer import __version__

    policy = exporter.options.policy
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data.jsonl",
        "task_categories:",
        "- text-classification",
        "tags:",
        "- alignment-faking",
        "- scratchpad",
        "- human-labels",
        "---",
        "",
        "# Alignment-faking scratchpad labels",
        "",
        f"Exported by reviewer {__version__}: {report.rows} transcripts"
        + (" (only those with a gold label)" if exporter.options.gold_only else "")
        + (", with text" if exporter.options.include_text else ", without text")
        + ". Contains descriptions of harmful requests and model reasoning about them: "
        "research data.",
        "",
        "## Gold labels",
        "",
        "A field's gold label is the newest adjudicated label if there is one; otherwise the "
        f"blind human label when at least {policy.min_humans} humans gave one and all agree"
        + (" (imported labels counted as human)" if policy.imported_as_human else "")
        + ". Anything else is `null` with `status: unresolved` and a `reason`.",
        "",
        "## Fields",
        "",
    ]
    for rid, fields in exporter.rubric_fields.items():
        try:
            rubric = resolve_rubric(exporter.store, rid)
        except ValueError:
            rubric = None
        for f in fields:
            question = ""
            categories = ""
            if rubric is not None and f in rubric.field_ids:
                spec = rubric.field(f)
                question = f" ({spec.kind}): {spec.question}"
                categories = ", ".join(f"`{c.id}`" for c in spec.categories)
            lines.append(
                f"- `{rid}.{f}`{question}" + (f" Categories: {categories}." if categories else "")
            )
    lines += ["", "## Label counts", "", "| rubric.field | gold status | items |", "|---|---|---|"]
    for (rid, f, status), n in sorted(report.gold_status.items()):
        lines.append(f"| {rid}.{f} | {status} | {n} |")
    lines += ["", "| rubric.field | gold value | items |", "|---|---|---|"]
    for (rid, f, value), n in sorted(report.gold_values.items(), key=lambda kv: str(kv[0])):
        lines.append(f"| {rid}.{f} | {value} | {n} |")
    lines += [
        "",
        "## Provenance",
        "",
        "Every row lists each live label with its source, rater, "
        "phase (blind / revealed / adjudicated), rubric version and content hash, "
        "classifier run, score, evidence spans and timestamp.",
        "",
        "| source | rater | labels |",
        "|---|---|---|",
    ]
    for (source, rater), n in sorted(report.raters.items()):
        lines.append(f"| {source} | {rater} | {n} |")
    lines += agreement_card_lines(exporter)
    versions = sorted(
        {(rid, v, h) for h, (rid, v) in exporter.versions.items() if rid in exporter.rubric_fields}
    )
    if versions:
        lines += ["", "Rubric versions:", ""]
        lines += [f"- `{rid}` v{v}: `{h}`" for rid, v, h in versions]
    runs = ds.classifier_runs(exporter.store)
    if runs:
        lines += ["", "Classifier runs:", ""]
        for run in runs.values():
            params = _dumps(scrub_secrets(run["params"]))
            lines.append(
                f"- run {run['id']} `{run['name']}`: {run['provider']}:{run['model']}, "
                f"status {run['status']}, params `{params}`"
            )
    lines.append("")
    return "\n".join(lines)


def agreement_card_lines(exporter: Exporter, *, resamples: int = 1000, seed: int = 0) -> list[str]:
    """The agreement summary of ``reviewer report`` (and ``reviewer stats``, whose defaults it
    uses) for the card: humans with each other and each classifier with the humans, per field,
    on every labelled item of the database. Annotators appear under their pseudonyms when the
    export is pseudonymized."""
    from reviewer.agreement import analyse_field
    from reviewer.agreement.store_fields import store_field_specs
    from reviewer.agreement.summary import agreement_summary, summary_markdown

    names = exporter.options.pseudonyms

    def rename(name: str) -> str:
        if names is None:
            return name
        source, colon, rest = name.partition(":")
        return names.of(rest) if colon and source == "human" else names.of(name)

    rows = []
    for rid in exporter.rubric_fields:
        specs = [s for s in store_field_specs(exporter.store, rid) if s.ratings.n_raters]
        fields = [analyse_field(s, n_resamples=resamples, seed=seed) for s in specs]
        rows += agreement_summary(fields, rid)
    commands = ", ".join(f"`reviewer stats --rubric {rid}`" for rid in exporter.rubric_fields)
    return [
        "",
        "## Agreement",
        "",
        f"On every labelled item of the source database, blind human labels; {commands} "
        f"on it prints the full report ({resamples} bootstrap resamples, seed {seed}).",
        "",
        *summary_markdown(rows, rename),
    ]
