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

# The importer modules, in the order formats are tried when detecting a file's format. Each
# declares a ``FORMAT`` (see :class:`Format`); nothing else names a format.
FORMAT_MODULES = (
    "importers.hughes",
    "importers.inspect",
    "importers.redwood",
    "importers.chat",
    "importers.table",
)


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
    # (start, end, first index): read only the records of a JSON array between two of its
    # top-level commas (byte offsets; the file's own start or end where there is none), the
    # first of them being record ``first index``. Set by importers.prefetch when several
    # processes each read their own part of one file (``importers.jsonstream.array_cuts``).
    span: tuple[int, int, int] | None = None
    # Records before this index are parsed but not converted or yielded: a reader taking
    # over, part way, from readers whose cut of the file did not hold.
    first_record: int = 0


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


class Sniff:
    """What detection looks at, read once and only when asked: the suffix, the first
    megabyte, and the shape and first record's keys of a JSON file."""

    def __init__(self, path: Path):
        self.path = path
        self.suffix = path.suffix.lower()
        self._head: bytes | None = None
        self._shape: tuple[str, set[str], bool] | None = None

    @property
    def head(self) -> bytes:
        if self._head is None:
            with open(self.path, "rb") as f:
                self._head = f.read(_SNIFF_BYTES)
        return self._head

    def _json(self) -> tuple[str, set[str], bool]:
        if self._shape is None:
            self._shape = _sniff_keys(self.path)
        return self._shape

    @property
    def shape(self) -> str:
        """'array', 'object', 'scalar' or '' (nothing parseable) for the first JSON value."""
        return self._json()[0]

    @property
    def keys(self) -> set[str]:
        return self._json()[1]

    @property
    def cut(self) -> bool:
        """The file ended or broke inside its first record."""
        return self._json()[2]


@dataclass(frozen=True)
class Format:
    """What an importer module says about itself: the import orchestration reads this and
    never names a format.

    ``detect`` is asked only about files with one of ``suffixes``; ``options`` are the
    ImportOptions fields that mean something to this format (others are refused);
    ``label_map`` is "columns" when ``--map`` may name any target (tables), "paths" when it
    may name label targets by a dotted path into each record (``metadata.KEY``), None when
    labels cannot be mapped; ``rubrics_used`` are the rubrics its own labels are made under;
    ``preflight`` checks a file before it is read (returning warnings, raising
    ImportRequestError for a file that must not be read); ``label_sources`` yields, for each
    record, the object that ``--map`` paths are looked up in (for error messages that list
    the values found); ``needs`` says in one phrase what a file of it needs.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    detect: Callable[[Sniff], bool]
    options: tuple[str, ...] = ("model", "condition", "dataset")
    label_map: str | None = None
    rubrics_used: tuple[str, ...] = ()
    preflight: Callable[[Path, ImportOptions], list[str]] | None = None
    label_sources: Callable[[Path, ImportOptions], Iterator[dict]] | None = None
    needs: str = ""


LABEL_MAP_OPTIONS = ("maps", "values", "rater", "label_source", "rubric")


def formats() -> dict[str, Format]:
    """Every format by name, in detection order."""
    global _FORMATS
    if _FORMATS is None:
        found = {}
        for module_name in FORMAT_MODULES:
            fmt = importlib.import_module(module_name).FORMAT
            found[fmt.name] = fmt
        _FORMATS = found
    return _FORMATS


_FORMATS: dict[str, Format] | None = None


def format_named(name: str) -> Format:
    found = formats().get(name)
    if found is None:
        raise UnknownFormatError(f"unknown format {name!r}: known formats are {known_formats()}")
    return found


def known_formats() -> str:
    return ", ".join(formats())


def importable_suffixes() -> tuple[str, ...]:
    """Every suffix some format reads, in registry order."""
    return tuple(dict.fromkeys(s for f in formats().values() for s in f.suffixes))


def reader_for(name: str) -> Callable[[Path, ImportOptions], ReadResult]:
    format_named(name)
    return importlib.import_module(_module_of(name)).read


def _module_of(name: str) -> str:
    for module_name in FORMAT_MODULES:
        if importlib.import_module(module_name).FORMAT.name == name:
            return module_name
    raise UnknownFormatError(f"unknown format {name!r}: known formats are {known_formats()}")


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


def open_binary(
    path: Path,
    options: ImportOptions,
    *,
    json: bool = False,
    stop_at_limit: bool = False,
    part: Callable[[BinaryIO], BinaryIO] | None = None,
) -> io.BufferedReader:
    """The file, buffered, reporting progress as its underlying bytes are read. With
    ``json``, its bytes pass :class:`importers.guard.JsonGuard` before the parser sees them:
    reading raises ``InputLimitError`` at the first one past a limit, or with
    ``stop_at_limit`` ends just before it, the refusal kept in ``f.json_guard.limit``.
    ``part`` makes the file's unbuffered reader into the stream to read instead (one part of
    it, say)."""
    raw: Any = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the returned reader
    if part is not None:
        raw = part(raw)
    guarded = None
    if json:
        from importers.guard import GuardedReader

        raw = guarded = GuardedReader(raw, stop_at_limit=stop_at_limit)
    f = io.BufferedReader(CountingReader(raw, options.on_progress), buffer_size=1 << 16)
    f.json_guard = guarded  # type: ignore[attr-defined]
    return f


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
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }
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

    from importers.guard import GuardedReader

    keys: set[str] = set()
    shape = ""
    cut = False
    # Guarded, and numbers as floats: an integer past 4,300 digits crashes ijson's C backend
    # when it converts it to int (a segfault, not an exception).
    with io.BufferedReader(GuardedReader(open(path, "rb", buffering=0)), 1 << 16) as f:
        try:
            for prefix, event, value in ijson.parse(
                f, multiple_values=True, buf_size=IJSON_BUFFER, use_float=True
            ):
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
    """Guess the format of ``path`` from its extension and its first record: the first
    format in registry order whose suffixes include the file's and whose ``detect`` says yes.

    Raises ``UnknownFormatError`` (listing the known formats) when nothing fits.
    """
    path = Path(path)
    sniff = Sniff(path)
    candidates = [f for f in formats().values() if sniff.suffix in f.suffixes]
    if not candidates:
        raise UnknownFormatError(
            f"{path}: unknown file type {sniff.suffix or '(no extension)'!r}; pass --format, "
            f"one of: {known_formats()}"
        )
    for fmt in candidates:
        if fmt.detect(sniff):
            return fmt.name
    if (not sniff.keys or sniff.cut) and sniff.suffix in (".json", ".jsonl", ".ndjson"):
        broken = _json_problem(path)
        if broken:
            raise UnknownFormatError(f"{path}: {broken}")
    seen = ", ".join(sorted(sniff.keys)[:12]) or "none"
    raise UnknownFormatError(
        f"{path}: cannot tell the format (first record's keys: {seen}); "
        f"pass --format, one of: {known_formats()}"
    )


def _json_problem(path: Path) -> str | None:
    """Why a JSON file has no first record: empty, or not valid JSON (and where)."""
    if path.stat().st_size == 0:
        return "the file is empty"
    with open(path, "rb") as f:
        data = f.read(_SNIFF_BYTES)
    text = data.decode("utf-8", errors="replace")
    first = text.lstrip()
    if not first:
        return "the file holds only white space"
    try:
        from importers.guard import check_json_bytes

        check_json_bytes(data)
        json.JSONDecoder().raw_decode(first)
    except json.JSONDecodeError as exc:
        offset = len(text) - len(first) + exc.pos
        if exc.pos >= len(first) and path.stat().st_size > len(data):
            return None  # only the sniffed part ends early
        cut = " (the file ends before the JSON does: cut off?)" if exc.pos >= len(first) else ""
        return f"not valid JSON at byte {offset:,}: {exc.msg}{cut}"
    except (ValueError, RecursionError) as exc:  # past a limit of importers.guard
        return str(exc) if str(exc) else "nested too deeply"
    return None


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
