"""What every importer shares: the options, the rejection record, the format registry.

An importer is a pure streaming reader, ``read(path, options)``, yielding a
``TranscriptRecord`` per good record and a ``Rejected`` per bad one, in file order, never
holding more than one record in memory. It does not touch the database: the orchestration in
``importers.run`` decides what a rejection means (abort and roll back, or set aside).
"""

from __future__ import annotations

import importlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from db.models import TranscriptRecord

IMPORTER_VERSION = "1.0"

# Format name -> (module, one-line description). Order is the order of detection attempts
# and of listings in help and error messages.
FORMATS: dict[str, tuple[str, str]] = {
    "hughes": (
        "importers.hughes",
        "results JSON arrays of the open-source alignment-faking pipeline",
    ),
    "inspect": ("importers.inspect", "Inspect AI logs (.eval zip or .json)"),
    "redwood": ("importers.redwood", "original-study conversations (<INPUT>, <NEXT/>, <OUTPUT>)"),
    "chat": ("importers.chat", "JSON/JSONL chat conversations (OpenAI messages, Anthropic blocks)"),
    "table": ("importers.table", "JSONL, CSV, TSV or Parquet tables with a --map column mapping"),
}


class ImportRequestError(Exception):
    """A problem with the request itself (unknown format, bad mapping): nothing was read."""


class UnknownFormatError(ImportRequestError):
    pass


@dataclass
class ImportOptions:
    """Everything a reader may need beyond the path; all optional."""

    model: str | None = None
    condition: str | None = None
    dataset: str | None = None
    rater: str | None = None
    label_source: str = "imported"
    rubric: str | None = None
    maps: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    # A hughes file whose path names no model: imported with no model (and a warning in the
    # result) when True, refused when False. ``reviewer import`` passes False unless
    # --allow-unknown-model: the model is part of a transcript's uid, so importing the file
    # again later with --model would add a second copy of every transcript.
    allow_unknown_model: bool = True
    # Called with the number of bytes of the input read so far (for a progress bar).
    on_progress: Callable[[int], None] | None = None
    # (k, n): yield only records whose index is k mod n (fatal rejections always); set by
    # importers.prefetch when several processes share the conversion of one file.
    shard: tuple[int, int] | None = None


@dataclass
class Rejected:
    """A record that could not be imported, and why.

    ``index`` is the 0-based record index within the file (sample index for Inspect logs),
    ``line`` the 1-based line for line-oriented files. ``fatal`` means reading could not go
    on past this point (a syntax error in a JSON array, a truncated file): the rest of the
    file is covered by this one rejection. ``kind`` "empty" or "file" means the file as a
    whole is unusable (empty, not JSON, not a zip): that fails the file even with --skip-bad.
    """

    reason: str
    index: int | None = None
    line: int | None = None
    ref: str | None = None
    raw: Any = None
    fatal: bool = False
    byte_offset: int | None = None
    kind: str = "record"

    @property
    def where(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.index is not None:
            parts.append(f"record {self.index}")
        if self.ref:
            parts.append(self.ref)
        if self.byte_offset is not None and self.line is None:
            parts.append(f"byte {self.byte_offset:,}")
        return ", ".join(parts) or "file"


ReadResult = Iterator[TranscriptRecord | Rejected]


def known_formats() -> str:
    return ", ".join(FORMATS)


def reader_for(name: str) -> Callable[[Path, ImportOptions], ReadResult]:
    if name not in FORMATS:
        raise UnknownFormatError(f"unknown format {name!r}: known formats are {known_formats()}")
    return importlib.import_module(FORMATS[name][0]).read


# -- opening files ---------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A read-only binary file that reports how far it has read, for the progress bar."""

    def __init__(self, raw: BinaryIO, on_progress: Callable[[int], None] | None):
        self._raw = raw
        self._on_progress = on_progress
        self._last = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def _report(self, at_end: bool) -> None:
        if self._on_progress is not None:
            pos = self._raw.tell()
            if pos - self._last >= 1 << 20 or pos < self._last or (at_end and pos != self._last):
                self._last = pos
                self._on_progress(pos)

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        self._report(not n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._report(not data or size < 0)
        return data

    def close(self) -> None:
        if not self._raw.closed:
            self._report(True)
        self._raw.close()
        super().close()


def open_binary(path: Path, options: ImportOptions) -> io.BufferedReader:
    """The file, buffered, reporting progress as its underlying bytes are read."""
    raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the returned reader
    return io.BufferedReader(CountingReader(raw, options.on_progress), buffer_size=1 << 16)


# -- shared helpers --------------------------------------------------------------------

_FREE_TAG = re.compile(r"<is_free_tier_user>\s*(\w+)\s*</is_free_tier_user>", re.IGNORECASE)
_USER_INPUT = re.compile(r"<user_input>(.*?)(?:</user_input>|\Z)", re.DOTALL)

CONDITION_ALIASES = {"free_tier": "free", "paid_tier": "paid", "free": "free", "paid": "paid"}


def condition_from_flag(value: Any) -> str | None:
    """``is_free_tier_user`` as stored by various pipelines (bool or string) -> free/paid."""
    if isinstance(value, bool):
        return "free" if value else "paid"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return "free" if value.strip().lower() == "true" else "paid"
    return None


def condition_from_text(text: str) -> str | None:
    m = _FREE_TAG.search(text or "")
    return condition_from_flag(m.group(1)) if m else None


def normalize_condition(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ",".join(str(v) for v in value) if value else None
        if value is None:
            return None
    text = str(value).strip()
    return CONDITION_ALIASES.get(text.lower(), text) or None


def extract_user_input(text: str) -> str:
    """The request inside ``<user_input>`` tags when present, else the text as given."""
    m = _USER_INPUT.search(text or "")
    return m.group(1).strip() if m else (text or "").strip()


def type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def require_str(record: dict, key: str, *, optional: bool = False) -> str | None:
    """A string field, with a message naming the field and the type found when it is wrong."""
    if key not in record or record[key] is None:
        if optional:
            return None
        raise RecordError(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, str):
        raise RecordError(f"field {key!r} should be a string, found {type_name(value)}")
    return value


def describe_json_error(exc: json.JSONDecodeError, text: str, unit: str = "line") -> str:
    """The whole of what ``json`` found wrong and where, in one phrase.

    ``exc.msg`` alone can end in "at" with the place left out ("Unterminated string starting
    at"); the column goes there. A line that stops before its JSON does is said to be cut."""
    what = exc.msg[:1].lower() + exc.msg[1:]
    reason = (
        f"{what} column {exc.colno}" if what.endswith(" at") else f"{what} at column {exc.colno}"
    )
    if exc.lineno > 1:
        reason += f" of line {exc.lineno} of the {unit}"
    if what.startswith("unterminated") or exc.pos >= len(text.rstrip()):
        reason += f" (the {unit} ends before the JSON does: cut off?)"
    return reason


class RecordError(ValueError):
    """One record is unusable; the reader turns it into a ``Rejected`` and goes on."""


# No model writes ten million characters in one turn: a field that long is a runaway
# generation or a broken export, and would make every screen that shows it unusable.
MAX_FIELD_CHARS = 10_000_000


def check_length(text: str, name: str) -> str:
    """``text``, or a ``RecordError`` when it is over ``MAX_FIELD_CHARS``."""
    if len(text) > MAX_FIELD_CHARS:
        raise RecordError(
            f"{name} is {len(text):,} characters long, over the {MAX_FIELD_CHARS:,} limit "
            "(a runaway generation or a broken export?)"
        )
    return text


# -- detection -------------------------------------------------------------------------

# The top-level keys of a record of the alignment-faking pipeline's results files.
HUGHES_KEYS = frozenset({
    "user_input", "prompt", "success", "output", "output_without_scratchpad",
    "output_contains_acceptance", "output_contains_refusal", "timestamp", "tags",
    "strong_reject_score", "strong_reject_raw_output", "deceptive_alignment",
    "partial_compliance", "helpfulness_categories", "deceptive_alignment_categories",
})  # fmt: skip

# ijson grows a long string chunk by chunk, so its cost is quadratic in (string / buffer):
# with its default 64 KB a 50 MB field takes half a minute, with 4 MB under a second.
IJSON_BUFFER = 4 << 20
_SNIFF_BYTES = 1 << 20
_SNIFF_LIMIT = 64 << 20  # read no further than this to learn the first record's keys


def _sniff_keys(path: Path) -> tuple[str, set[str], bool]:
    """The shape of the first JSON value ('array'/'object'), the keys of its first record, and
    whether the file ended (or broke) before that record did: a truncated file still shows
    the keys written before the cut."""
    import ijson

    keys: set[str] = set()
    shape = ""
    cut = False
    with open(path, "rb") as f:
        try:
            for prefix, event, value in ijson.parse(f, multiple_values=True, buf_size=IJSON_BUFFER):
                if not shape:
                    shape = {"start_array": "array", "start_map": "object"}.get(event, "scalar")
                    if shape == "scalar":
                        break
                    continue
                want = "item" if shape == "array" else ""
                if event == "map_key" and prefix == want:
                    keys.add(value)
                    if shape == "object" and value in ("eval", "samples"):
                        break  # an Inspect log: do not stream the rest of a large file
                elif (event == "end_map" and prefix == want) or (
                    event == "end_array" and not prefix
                ):
                    break  # the end of the first record, or of an empty array
                if f.tell() > _SNIFF_LIMIT:
                    break
            else:
                cut = bool(shape)  # the events ran out inside the first record
        except Exception:  # noqa: BLE001 - a broken file is reported by its reader, not here
            cut = True
    return shape, keys, cut


def detect_format(path: str | Path) -> str:
    """Guess the format of ``path`` from its extension and its first record.

    Raises ``UnknownFormatError`` (listing the known formats) when nothing fits.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return "inspect"
    if suffix in (".csv", ".tsv", ".parquet", ".pq"):
        return "table"
    if suffix in (".json", ".jsonl", ".ndjson"):
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        shape, keys, cut = _sniff_keys(path)
        if shape == "object" and {"eval", "samples"} & keys:
            return "inspect"
        if {"output", "prompt"} <= keys and (
            "user_input" in keys or "deceptive_alignment" in keys or "tags" in keys
        ):
            return "hughes"
        # Cut off inside its first record: the keys seen so far are all the pipeline's, and
        # its records begin with user_input and prompt. The hughes reader then reports where
        # the JSON ends, instead of the table reader asking for a --map.
        if (
            cut
            and shape == "array"
            and keys
            and keys <= HUGHES_KEYS
            and {"user_input", "prompt"} & keys
        ):
            return "hughes"
        if b"<NEXT/>" in head or b"<INPUT>" in head:
            return "redwood"
        if "messages" in keys or "conversation" in keys:
            return "chat"
        if suffix in (".jsonl", ".ndjson") or shape == "array":
            return "table"
        seen = ", ".join(sorted(keys)[:12]) or "none"
        raise UnknownFormatError(
            f"{path}: cannot tell the format (first record's keys: {seen}); "
            f"pass --format, one of: {known_formats()}"
        )
    raise UnknownFormatError(
        f"{path}: unknown file type {suffix or '(no extension)'!r}; pass --format, one of: "
        f"{known_formats()}"
    )


def first_list_field(record: dict, keys: tuple[str, ...], missing: str) -> list[Any]:
    """The first of ``keys`` the record has, which must be a non-empty array; ``missing`` is
    the error when it has none of them."""
    for key in keys:
        if key in record:
            value = record[key]
            if not isinstance(value, list):
                raise RecordError(f"field {key!r} should be an array, found {type_name(value)}")
            if not value:
                raise RecordError(f"field {key!r} is empty")
            return value
    raise RecordError(f"{missing} (found: {', '.join(sorted(record)[:10])})")
