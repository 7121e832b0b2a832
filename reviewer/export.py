"""Export transcripts with their gold labels and every live label's provenance.

One row per transcript. ``jsonl`` and ``hf`` keep the nested shape (gold per rubric and
field, then a list of labels with source, rater, phase, rubric version and hash, classifier
run, score, evidence and timestamps); ``csv`` and ``parquet`` flatten it into one column per
rubric field and per (field, source, rater, phase), and keep the full provenance as JSON in
``labels_json``. A multi-label value is written as JSON list text (``["other"]``, ``[]`` for
none chosen) so that it differs from a missing label (an empty cell).

Rows stream: one keyset page of transcripts at a time, with the current labels and error
reasons of its id range (one range of an index each), written as they are made (parquet in
row groups), so time grows with the rows and memory does not.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from db import Store, labels
from db import dataset as ds
from db.labels import GoldPolicy, gold_for_item, resolve_rubric
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


# Called with the number of transcripts read so far.
Progress = Callable[[int], None]
_NO_VERSION = (None, None)


class _Decoder:
    """Stored JSON text decoded as db.labels decodes it, each distinct text once: label
    values and scores repeat across a database (a few dozen distinct values in 600,000
    labels). Decoded values are shared between rows, which only read them. Bounded."""

    limit = 20_000

    def __init__(self):
        self.values: dict[str, Any] = {}

    def __call__(self, text: str | None) -> Any:
        if text is None:
            return None
        try:
            return self.values[text]
        except KeyError:
            if len(self.values) >= self.limit:
                self.values.clear()
            value = self.values[text] = labels.decode_json(text)
            return value
        except TypeError:  # not text (a number another tool stored): decode it each time
            return labels.decode_json(text)


class Exporter:
    """Builds export rows for one database and set of options."""

    page = 2000  # transcripts read (and held) at a time

    def __init__(self, store: Store, options: ExportOptions):
        self.store = store
        self.options = options
        # Every live (rubric, field, source, rater, phase) in one read of the labels: the
        # rubrics and fields to export and the flat layout's columns all come from it.
        self.slots = labels.live_label_slots(store)
        self.rubric_fields = self._rubric_fields()
        self.runs = {
            rid: {"id": rid, "name": r["name"], "provider": r["provider"], "model": r["model"]}
            for rid, r in ds.classifier_runs(store).items()
        }
        self.versions = ds.rubric_version_map(store)
        # The gold of an item with no label gold reads (none, or only classifiers'), made
        # once by the rule and shared by every such row; its counts, made once too.
        self.plain_gold = {
            rid: {f: g.as_dict() for f, g in gold_for_item([], fields, options.policy).items()}
            for rid, fields in self.rubric_fields.items()
        }
        self._plain_status = Counter(
            (rid, f, g["status"])
            for rid, fields in self.plain_gold.items()
            for f, g in fields.items()
        )
        self._plain_values = Counter(
            (rid, f, _flat(g["value"]))
            for rid, fields in self.plain_gold.items()
            for f, g in fields.items()
            if g["value"] is not None
        )
        self._plain_cells: dict[str, Any] | None = None
        self._plain_rows = 0  # rows with the plain gold, not yet in the report's counts

    def _rubric_fields(self) -> dict[str, list[str]]:
        chosen = self.options.rubric_ids
        labeled = sorted({s[0] for s in self.slots})
        rubric_ids = list(chosen) if chosen else labeled
        fields: dict[str, list[str]] = {}
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
                        f"{', '.join(labeled) or 'none'})"
                    ) from None
            seen = sorted({s[1] for s in self.slots if s[0] == rubric_id})
            fields[rubric_id] = defined + [f for f in seen if f not in defined]
        return fields

    def rows(
        self, report: ExportReport, progress: Progress | None = None
    ) -> Iterator[dict[str, Any]]:
        """Nested export rows in transcript id order (``--gold-only`` rows only if asked)."""
        for row, _ in self.items(report, progress):
            yield row

    def items(
        self, report: ExportReport, progress: Progress | None = None, *, text: bool = False
    ) -> Iterator[tuple[dict[str, Any], str | None]]:
        """(nested row, its JSON text or None) in transcript id order. The text comes with
        ``text=True`` (the jsonl writer's line), and whenever it was made anyway.

        Streams: one keyset page of transcripts at a time, and the current labels and error
        reasons of that page's id range, each read as one range of an index and decoded
        once per distinct stored text. The gold of an item none of whose labels gold reads
        (only classifier labels) is the gold of an item with no labels, made once."""
        options = self.options
        rubric_ids = list(self.rubric_fields)
        include_text = options.include_text
        width = len(ds.TRANSCRIPT_ROW_COLUMNS)
        text_columns = ds.TEXT_ROW_COLUMNS
        decode = _Decoder()
        metadata = ds.decode_metadata
        paths: dict[Any, Any] = {}
        plain_gold = self.plain_gold
        gold_sources = labels.GOLD_SOURCES
        names = options.pseudonyms
        secrets = [s for s in options.redact if s]
        # A secret that JSON writes as itself is in a row's JSON text exactly when some string
        # of the row holds it: rows without it need no redaction pass.
        look_in_text = all(_dumps(s)[1:-1] == s for s in secrets)
        versions, runs = self.versions, self.runs
        done = 0
        last = -1
        while True:
            page = ds.transcript_rows(self.store, last, self.page, include_text=include_text)
            if not page:
                break
            first, last = page[0][0], page[-1][0]
            events: dict[int, list[tuple]] = {}
            for e in labels.current_label_rows(self.store, first, last, rubric_ids=rubric_ids):
                events.setdefault(e[1], []).append(e)
            errors: dict[int, list[dict[str, Any]]] = {}
            for e in labels.error_reason_rows(self.store, first, last, rubric_ids=rubric_ids):
                errors.setdefault(e[1], []).append(error_reason_row(labels.event_from_row(e)))
            for t in page:
                tid = t[0]
                path = t[6]
                if path not in paths:
                    paths[path] = shareable_path(path)
                row: dict[str, Any] = {
                    "transcript_id": tid,
                    "uid": t[1],
                    "dataset": t[2],
                    "model": t[3],
                    "condition": t[4],
                    "prompt_variant": t[5],
                    "source_path": paths[path],
                    "source_ref": t[7],
                    "metadata": metadata(t[8]),
                    "created_at": t[9],
                }
                if include_text:
                    for name, value in zip(text_columns, t[width:], strict=True):
                        row[name] = value
                item_events = events.get(tid, ())
                provenance = []
                notes = []
                gold_rubrics = set()
                for e in item_events:
                    field_id = e[4]
                    if field_id[0] == "_":
                        if field_id in NOTE_FIELDS:
                            notes.append(
                                {
                                    "kind": field_id[1:],
                                    "value": decode(e[5]),
                                    "note": e[12],
                                    "rater": e[7],
                                    "event_id": e[0],
                                    "created_at": e[16],
                                }
                            )
                        continue
                    if e[6] in gold_sources:
                        gold_rubrics.add(e[2])
                    run_id = e[15]
                    provenance.append(
                        {
                            "event_id": e[0],
                            "rubric_id": e[2],
                            "rubric_version": versions.get(e[3] or "", _NO_VERSION)[1],
                            "rubric_hash": e[3],
                            "field": field_id,
                            "value": decode(e[5]),
                            "source": e[6],
                            "rater": e[7],
                            "phase": e[8],
                            "score": e[9],
                            "scores": decode(e[10]),
                            "evidence": decode(e[11]),
                            "note": e[12],
                            "seconds": e[13],
                            "run_id": run_id,
                            "run": runs.get(run_id) if run_id is not None else None,
                            "created_at": e[16],
                        }
                    )
                if gold_rubrics or names is not None:
                    row["gold"] = self._gold(item_events, plain_gold, gold_rubrics, names)
                else:
                    row["gold"] = plain_gold
                row["labels"] = provenance
                row["notes"] = notes
                row["error_reasons"] = errors.get(tid, [])
                if names is not None:
                    _pseudonymize(row, names)
                line = None
                if secrets:
                    if look_in_text:
                        line = _dumps(row)
                        if any(s in line for s in secrets):
                            row = redact(row, secrets)
                            line = _dumps(row)
                    else:
                        row = redact(row, secrets)
                if options.gold_only and not _any_gold(row):
                    report.skipped_no_gold += 1
                else:
                    self._count(row, report)
                    if text and line is None:
                        line = _dumps(row)
                    yield row, line
            done += len(page)
            if progress is not None:
                progress(done)
        self._count_plain(report)

    def _count_plain(self, report: ExportReport) -> None:
        n, self._plain_rows = self._plain_rows, 0
        if n:
            report.gold_status.update({k: v * n for k, v in self._plain_status.items()})
            report.gold_values.update({k: v * n for k, v in self._plain_values.items()})

    def _gold(self, item_events, plain_gold, gold_rubrics, names) -> dict[str, Any]:
        """Gold per rubric and field by the rule of db.labels (``gold_for_item``), from the
        item's live labels; a rubric none of whose labels gold reads has the plain gold."""
        gold: dict[str, Any] = {}
        policy = self.options.policy
        for rid, fields in self.rubric_fields.items():
            if rid not in gold_rubrics:
                if names is None:
                    gold[rid] = plain_gold[rid]
                else:  # pseudonymizing rewrites it in place: a copy of its own
                    gold[rid] = {
                        f: dict(g, raters=list(g["raters"])) for f, g in plain_gold[rid].items()
                    }
                continue
            events = [
                labels.event_from_row(e) for e in item_events if e[2] == rid and e[4][0] != "_"
            ]
            gold[rid] = {f: g.as_dict() for f, g in gold_for_item(events, fields, policy).items()}
        return gold

    def _count(self, row: dict[str, Any], report: ExportReport) -> None:
        report.rows += 1
        if row["gold"] is self.plain_gold:
            self._plain_rows += 1
        else:
            self._count_gold(row["gold"], report)
        raters = report.raters
        for lab in row["labels"]:
            report.labels_by_source[lab["source"]] += 1
            raters[(lab["source"], lab["rater"])] += 1

    def _count_gold(self, gold: dict[str, Any], report: ExportReport) -> None:
        for rid, fields in gold.items():
            for f, g in fields.items():
                report.gold_status[(rid, f, g["status"])] += 1
                if g["value"] is not None:
                    report.gold_values[(rid, f, _flat(g["value"]))] += 1

    def flatten(self, row: dict[str, Any]) -> dict[str, Any]:
        """``flatten(row)``; the cells of the shared plain gold made once."""
        if row["gold"] is not self.plain_gold:
            return flatten(row)
        if self._plain_cells is None:
            self._plain_cells = _gold_cells(self.plain_gold)
        return flatten(row, self._plain_cells)


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


def _strict_encoder():
    """``json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)``, same
    text, one C encoder kept (json.dumps builds one per call, which costs more than a row)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if make is None:
        return plain.encode
    encoder = make(
        None, plain.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return json.encoder.encode_basestring(value)
        return "".join(encoder(value, 0))

    return encode


_strict_dumps = _strict_encoder()


def _dumps(value: Any) -> str:
    """JSON text of any stored value: NaN and infinities (not JSON) become strings, and
    anything else json cannot write becomes its text."""
    try:
        return _strict_dumps(value)
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
    chosen = exporter.rubric_fields
    for rid, f, source, rater, phase in (s for s in exporter.slots if s[0] in chosen):
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


def _gold_cells(gold: dict[str, Any]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for rid, fields in gold.items():
        for f, g in fields.items():
            cells[f"{rid}.{f}.gold"] = _cell_value(g["value"])
            cells[f"{rid}.{f}.gold_status"] = g["status"]
            cells[f"{rid}.{f}.gold_reason"] = g["reason"]
            cells[f"{rid}.{f}.gold_raters"] = ";".join(g["raters"])
    return cells


_NESTED = ("gold", "labels", "notes", "error_reasons")


def flatten(row: dict[str, Any], gold_cells: dict[str, Any] | None = None) -> dict[str, Any]:
    """One flat row (csv, parquet) of a nested one; ``gold_cells``: its gold's cells, if
    made already."""
    flat: dict[str, Any] = {k: v for k, v in row.items() if k not in _NESTED}
    flat["metadata"] = _dumps(row["metadata"])
    flat.update(_gold_cells(row["gold"]) if gold_cells is None else gold_cells)
    labels = row["labels"]
    for lab in labels:
        phase = lab["phase"]
        name = f"{lab['rubric_id']}.{lab['field']}.{lab['source']}:{lab['rater']}"
        if phase:
            name = f"{name}:{phase}"
        value = lab["value"]
        flat[name] = value if value is None or value.__class__ is str else _cell_value(value)
        if lab["source"] == "classifier":
            flat[name + ".score"] = lab["score"]
    flat["labels_json"] = _dumps(labels)
    flat["notes_json"] = _dumps(row["notes"])
    flat["error_reasons_json"] = _dumps(row.get("error_reasons", []))
    return flat


# -- writers -------------------------------------------------------------------------------


def _write_jsonl(items: Iterator[tuple[dict[str, Any], str | None]], path: Path) -> None:
    with path.open("w", encoding="utf-8", errors="backslashreplace") as out:
        write = out.write
        for row, line in items:
            write(line if line is not None else _dumps(row))
            write("\n")


def _write_csv(
    rows: Iterator[dict[str, Any]], path: Path, layout: FlatLayout, flat=flatten
) -> None:
    columns = layout.columns
    start = _FORMULA_START
    with path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as out:
        writer = csv.writer(out)  # the dialect csv.DictWriter uses; a missing cell is empty
        writer.writerow([csv_safe(c) for c in columns])
        for row in rows:
            get = flat(row).get
            writer.writerow(
                [
                    "'" + v if v.__class__ is str and v.startswith(start) else v
                    for v in map(get, columns)
                ]
            )


def _write_parquet(
    rows: Iterator[dict[str, Any]],
    path: Path,
    layout: FlatLayout,
    flat=flatten,
    batch: int = 2000,
) -> None:
    """Row groups of ``batch`` rows, written as they fill (memory holds one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(name: str):
        if name == "transcript_id":
            return pa.int64()
        return pa.float64() if name in layout.score_columns else pa.string()

    schema = pa.schema([(c, kind(c)) for c in layout.columns])
    plain = {str, type(None)}
    text_columns = [c != "transcript_id" and c not in layout.score_columns for c in layout.columns]
    with pq.ParquetWriter(str(path), schema) as writer:
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            arrays = []
            for c, is_text, f in zip(layout.columns, text_columns, schema, strict=True):
                column = [r.get(c) for r in pending]
                if is_text:
                    array = None
                    if set(map(type, column)) <= plain:
                        try:
                            array = pa.array(column, type=f.type)
                        except UnicodeEncodeError:  # a lone surrogate: each cell made safe
                            array = None
                    if array is None:
                        column = [None if v is None else _cell(v, c, layout) for v in column]
                        array = pa.array(column, type=f.type)
                else:
                    array = pa.array(column, type=f.type)
                arrays.append(array)
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            pending.clear()

        for row in rows:
            pending.append(flat(row))
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
    progress: Callable[[int, int], None] | None = None,
    card_progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Write the export and return what was written. The file appears only when complete.
    ``progress(transcripts read, transcripts in the database)`` is called as pages are read;
    for ``hf``, ``card_progress(rubrics done, rubrics)`` as the card's agreement table is
    computed (seconds at a million transcripts)."""
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
    if progress is not None:
        progress = _progress_of(progress, store)
    if fmt in ("jsonl", "hf"):
        items = exporter.items(report, progress, text=True)
    else:
        rows = exporter.rows(report, progress)
    if fmt == "hf":
        out.mkdir(parents=True, exist_ok=True)
        data = out / "data.jsonl"
        _atomic(data, lambda p: _write_jsonl(items, p))
        card = out / "README.md"
        card_text = redact(dataset_card(exporter, report, card_progress), options.redact)
        _atomic(
            card, lambda p: p.write_text(card_text, encoding="utf-8", errors="backslashreplace")
        )
        report.files = [data, card]
        return report
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        _atomic(out, lambda p: _write_jsonl(items, p))
    elif fmt == "csv":
        layout = flat_layout(exporter)
        _atomic(out, lambda p: _write_csv(rows, p, layout, exporter.flatten))
    else:
        layout = flat_layout(exporter)
        _atomic(out, lambda p: _write_parquet(rows, p, layout, exporter.flatten))
    report.files = [out]
    return report


def _progress_of(progress: Callable[[int, int], None], store: Store) -> Progress:
    """``progress(done, total)`` told the number of transcripts to read up front."""
    total = store.transcript_count()
    progress(0, total)
    return lambda done: progress(done, total)


def _atomic(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def dataset_card(
    exporter: Exporter,
    report: ExportReport,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """A Hugging Face dataset card (README.md with YAML front matter) for an hf export;
    ``progress`` as ``agreement_card_lines`` tells it."""
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
    lines += agreement_card_lines(exporter, progress=progress)
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


def agreement_card_lines(
    exporter: Exporter,
    *,
    resamples: int = 1000,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """The agreement summary of ``reviewer report`` (and ``reviewer stats``, whose defaults it
    uses) for the card: humans with each other and each classifier with the humans, per field,
    on every labelled item of the database. Annotators appear under their pseudonyms when the
    export is pseudonymized. ``progress(rubrics done, rubrics)`` is told before the first
    rubric and after each (never when there is none)."""
    from reviewer.agreement import analyse_field
    from reviewer.agreement.store_fields import store_field_pattern_specs
    from reviewer.agreement.summary import agreement_summary, summary_markdown

    names = exporter.options.pseudonyms

    def rename(name: str) -> str:
        if names is None:
            return name
        source, colon, rest = name.partition(":")
        return names.of(rest) if colon and source == "human" else names.of(name)

    rows = []
    rubric_ids = list(exporter.rubric_fields)
    if not rubric_ids:  # nothing to compute, nothing to tell
        progress = None
    if progress is not None:
        progress(0, len(rubric_ids))
    for done, rid in enumerate(rubric_ids, start=1):
        # Rating patterns counted a slice at a time: the card's memory does not grow with
        # the database, and its numbers are those of `reviewer stats`.
        specs = [s for s in store_field_pattern_specs(exporter.store, rid) if s.ratings.n_raters]
        fields = [analyse_field(s, n_resamples=resamples, seed=seed) for s in specs]
        rows += agreement_summary(fields, rid)
        if progress is not None:
            progress(done, len(rubric_ids))
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
