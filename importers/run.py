"""Importing files into a store: a bad file changes nothing, a good one never blocks others.

For each file: hash it, record an ``imports`` row (status ``running``), read, check and encode
every record into a staging file beside the database (``db.staging``), and only then copy the
staged rows into the database in short transactions, so that an annotator or a classifier
writing at the same time waits a fraction of a second, not the length of the import.

A rejected record stops the file before anything reaches the database, unless ``skip_bad`` is
set, in which case it is written, with its reason, to ``<db>.rejected.jsonl`` and the rest is
imported. A failed attempt stays visible in ``imports`` (status ``failed``); the transcripts,
labels, prompts and rubrics are exactly as before. Only a crash or an interrupt during the
copy leaves part of a file in: the run then stays ``running`` (a crash) or is marked
``interrupted``, and importing the same file again completes it, since what is already there
counts as duplicate and a transcript's labels are always committed with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from db.bulk import large_page_cache
from db.models import TranscriptRecord
from db.staging import (
    CopyResult,
    Encoded,
    PromptDeduper,
    Staging,
    copy_staged,
    remove_stale_staging,
    staging_path_for,
)
from db.store import Store, utc_now
from importers.base import (
    IMPORTER_VERSION,
    MAX_FIELD_CHARS,
    ImportOptions,
    ImportRequestError,
    Rejected,
    UnknownFormatError,
    detect_format,
    format_named,
    formats,
    importable_suffixes,
)
from importers.prefetch import read_records

BATCH = 1000
# The copy inserts into the uid, label and full-text indexes all over their B-trees: with
# SQLite's default 2 MB page cache it re-reads pages constantly (measured: 30% slower).
COPY_CACHE_MB = 64
MAX_ERRORS_KEPT = 100


@dataclass
class FileResult:
    """What happened to one file; ``--json`` prints a list of these."""

    path: str
    format: str | None
    status: str = "failed"  # done | failed | interrupted | skipped
    import_id: int | None = None
    sha256: str | None = None
    n_read: int = 0
    n_new: int = 0
    n_duplicate: int = 0
    n_rejected: int = 0
    n_labels: int = 0
    seconds: float = 0.0
    # The copy into the database: how long it took, in how many transactions, and the
    # longest of them (the longest another writer could have had to wait).
    write_seconds: float = 0.0
    write_transactions: int = 0
    longest_transaction_seconds: float = 0.0
    error: str | None = None
    rejected_path: str | None = None
    hint: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Progress:
    """Hooks for a progress display; the default does nothing."""

    def start(self, path: Path, total_bytes: int) -> None: ...

    def update(self, bytes_read: int) -> None: ...

    def copied(self, records_done: int, records_total: int) -> None:
        """The second phase: staged records copied into the database so far."""

    def stop(self) -> None: ...


class _Abort(Exception):
    def __init__(self, rejected: Rejected):
        super().__init__(rejected.reason)
        self.rejected = rejected


@dataclass
class RejectedSink:
    """Appends rejected records to ``<db>.rejected.jsonl``, opened on the first one."""

    path: Path
    _file: Any = field(default=None, repr=False)
    count: int = 0

    def write(self, source: Path, fmt: str, import_id: int, r: Rejected) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        entry = {
            "file": str(source),
            "format": fmt,
            "import_id": import_id,
            "index": r.index,
            "line": r.line,
            "ref": r.ref,
            "byte_offset": r.byte_offset,
            "reason": r.reason,
            "fatal": r.fatal,
            "time": utc_now(),
            "record": r.raw,
        }
        self._file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def rejected_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".rejected.jsonl")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _rubric_versions(fmt: str, options: ImportOptions) -> list[Any]:
    """The rubric versions this file's labels refer to (registered when the copy starts)."""
    from rubrics import resolve_rubric

    info = format_named(fmt)
    wanted: list[str] = list(info.rubrics_used)
    mapped: list[str] = []
    if info.label_map and options.maps:
        from importers.mapping import build_spec

        mapped = [t.rubric_id for t in build_spec(options, info.label_map, fmt).labels.values()]
    names = dict.fromkeys(wanted)
    names.update({(options.rubric or rubric_id): None for rubric_id in mapped})
    return [resolve_rubric(name) for name in names]


def _oversized(record: TranscriptRecord) -> Rejected | None:
    fields = [
        ("scratchpad", record.scratchpad),
        ("output", record.output),
        ("user_input", record.user_input),
        ("system_prompt", record.system_prompt or ""),
    ]
    fields += [
        (f"turns[{i}].content", str(t.get("content", ""))) for i, t in enumerate(record.turns)
    ]
    for name, text in fields:
        if len(text) > MAX_FIELD_CHARS:
            return Rejected(
                f"{name} is {len(text):,} characters long, over the {MAX_FIELD_CHARS:,} limit "
                "(a runaway generation or a broken export?)",
                ref=record.source_ref,
                raw={"source_ref": record.source_ref},
            )
    return None


class Prepare:
    """What the reader (maybe in a child process) does to each item before sending it:
    a record too long is rejected, a good one encoded into rows (see ``db.staging``)."""

    def __init__(self) -> None:
        self._prompts = PromptDeduper()

    def __call__(self, item: TranscriptRecord | Rejected) -> Encoded | Rejected:
        if isinstance(item, Rejected):
            return item
        wrong = _wrong_types(item)
        if wrong is not None:
            return wrong
        try:
            return _oversized(item) or _utf8_only(self._prompts.encode(item))
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else ""
            return Rejected(
                f"the text holds a lone surrogate ({bad.encode('unicode_escape').decode()}): "
                "half of a UTF-16 pair, not a character; it cannot be stored as UTF-8 (fix "
                "the exporting program, or pass --skip-bad to set the record aside)",
                ref=item.source_ref,
                raw={"source_ref": item.source_ref},
            )
        except (TypeError, ValueError, RecursionError) as exc:
            return Rejected(
                f"cannot be stored: {type(exc).__name__}: {exc}",
                ref=item.source_ref,
                raw={"source_ref": item.source_ref},
            )


def _utf8_only(encoded: Encoded) -> Encoded:
    """The encoded rows, once every text in them is known to be storable as UTF-8 (raises
    UnicodeEncodeError at a lone surrogate, in any field, key or label)."""
    row, system, label_rows = encoded
    # One text of them all (numbers and None as their names): checked and encoded in C.
    joined = "".join(map(str, chain(row, (system,), *label_rows)))
    if not joined.isascii():
        joined.encode("utf-8")
    return encoded


_TEXT_ATTRIBUTES = (
    "model",
    "condition",
    "dataset",
    "prompt_variant",
    "user_input",
    "scratchpad",
    "output",
    "system_prompt",
)


def _wrong_types(record: TranscriptRecord) -> Rejected | None:
    """A record whose text fields are not text (a number for a model name, say)."""
    for name in _TEXT_ATTRIBUTES:
        value = getattr(record, name, None)
        if value is not None and not isinstance(value, str):
            kind = {
                int: "number",
                float: "number",
                bool: "boolean",
                dict: "object",
                list: "array",
            }.get(type(value), type(value).__name__)
            return Rejected(
                f"{name} should be a string, found {kind} ({str(value)[:40]})",
                ref=record.source_ref,
                raw={"source_ref": record.source_ref},
            )
    return None


def _named(path: Path, message: str) -> str:
    """Every message starts with the file it is about."""
    return message if message.startswith(f"{path}") else f"{path}: {message}"


def _failure_message(path: Path, fmt: str, r: Rejected, options: ImportOptions) -> str:
    where = r.where
    message = f"{path}: {r.reason}" if where == "file" else f"{path}: {where}: {r.reason}"
    if r.kind == "label_value":
        from importers.mapping import describe_label_values

        message += "\n" + describe_label_values(path, options, format_named(fmt))
    if r.kind not in ("empty", "file"):
        message += (
            "\nNothing from this file was imported. Fix the file, or pass --skip-bad to import "
            "the good records and set the bad ones aside."
        )
    return message


def import_file(
    store: Store,
    path: Path,
    *,
    fmt: str | None = None,
    options: ImportOptions | None = None,
    skip_bad: bool = False,
    sink: RejectedSink | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> FileResult:
    """Import one file: stage and check it all, then copy it in short transactions.

    Never raises for bad input (see the result). An interrupt or an internal error is
    recorded in ``imports`` and re-raised.
    """
    options = options or ImportOptions()
    progress = progress or Progress()
    started = time.perf_counter()
    result = FileResult(path=str(path), format=fmt)
    if path.is_dir():
        result.error = (
            f"{path} is a folder with no file of a known type ({', '.join(importable_suffixes())}) "
            "in it or below it: nothing to import"
        )
        return result
    if not path.is_file():
        result.error = f"{path}: no such file or folder"
        return result
    try:
        result.format = fmt = fmt or detect_format(path)
        info = format_named(fmt)
        if (options.maps or options.values) and not info.label_map:
            takes = [f.name for f in formats().values() if f.label_map]
            tables = [f.name for f in formats().values() if f.label_map == "columns"]
            raise ImportRequestError(
                f"{path}: --map and --value apply to the formats {', '.join(takes)}, and this "
                f"file is {fmt}"
                + (f"; pass --format {tables[0]} to read it as a table" if tables else "")
            )
        if info.label_map and (options.maps or options.values):
            from importers.mapping import build_spec

            build_spec(options, info.label_map, fmt)
        if info.preflight is not None:
            for warning in info.preflight(path, options):
                result.warnings.append(warning)
                if warn is not None:
                    warn(f"{path}: warning: {warning}")
    except ImportRequestError as exc:
        result.error = _named(path, str(exc))
        _record_refusal(store, result, path, options, str(exc))
        return result

    try:
        size = path.stat().st_size
        result.sha256 = sha256_of(path)
    except OSError as exc:
        result.error = f"{path}: cannot be read ({exc.strerror or exc})"
        return result
    recorded_options = {
        k: v
        for k, v in asdict(options).items()
        if v and k not in ("on_progress", "allow_unknown_model")
    }
    if result.warnings:  # imported despite them (e.g. with no model): say so in the record
        recorded_options["warnings"] = result.warnings
    recorded_options["skip_bad"] = skip_bad
    import_id = store.begin_import(
        str(path),
        fmt,
        sha256=result.sha256,
        size_bytes=size,
        importer_version=IMPORTER_VERSION,
        options=recorded_options,
    )
    result.import_id = import_id
    errors: list[dict[str, Any]] = []
    label_values_rejected = False
    file_options = ImportOptions(**{**options.__dict__, "on_progress": progress.update})
    staging: Staging | None = None
    copying = False
    progress.start(path, size)
    try:
        rubrics = _rubric_versions(fmt, options)
        remove_stale_staging(store.path)
        staging = Staging(staging_path_for(store.path, import_id))
        batch: list[Encoded] = []
        for item in read_records(
            fmt, path, file_options, size, Prepare(), spool=staging.path.parent
        ):
            if isinstance(item, Rejected):
                if item.kind in ("empty", "file"):
                    raise _Abort(item)
                result.n_read += 1
                result.n_rejected += 1
                if not skip_bad:
                    raise _Abort(item)
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append({"where": item.where, "reason": item.reason})
                label_values_rejected = label_values_rejected or item.kind == "label_value"
                if sink is not None:
                    sink.write(path, fmt, import_id, item)
                continue
            result.n_read += 1
            batch.append(item)
            if len(batch) >= BATCH:
                staging.add(batch)
                batch.clear()
        staging.add(batch)
        staging.finish({r.id: r.content_hash for r in rubrics})
        # The whole file has been read and checked: from here on only a crash stops the copy.
        copying = True

        def register() -> None:
            for r in rubrics:
                store.register_rubric(r.id, r.version, r.source_text, r.content_hash, r.origin)

        copy_started = time.perf_counter()
        with large_page_cache(store, COPY_CACHE_MB):
            copied = copy_staged(
                store,
                staging.path,
                import_id=import_id,
                created_at=utc_now(),
                first_chunk=register,
                on_progress=progress.copied,
                on_chunk=lambda c: _count(result, c),
            )
        result.n_duplicate = result.n_read - result.n_rejected - copied.new
        result.write_seconds = round(time.perf_counter() - copy_started, 3)
    except _Abort as abort:
        result.error = _failure_message(path, fmt, abort.rejected, options)
        errors = [{"where": abort.rejected.where, "reason": abort.rejected.reason}]
    except ImportRequestError as exc:
        result.error = _named(path, str(exc))
        errors = [{"where": "file", "reason": str(exc)}]
    except OSError as exc:  # the file vanished or became unreadable while being read
        if copying:  # not the input: the disk under the database or the staging file
            _record_hard_failure(store, result, path, exc, copying)
            raise
        result.error = f"{path}: cannot be read ({exc}); nothing from this file was imported"
        errors = [{"where": "file", "reason": str(exc)}]
    except BaseException as exc:
        _record_hard_failure(store, result, path, exc, copying)
        raise
    finally:
        if staging is not None:
            staging.remove()
        progress.stop()
        result.seconds = time.perf_counter() - started
    if result.error is None:
        result.status = "done"
        if result.n_rejected and sink is not None:
            result.rejected_path = str(sink.path)
        if label_values_rejected:
            from importers.mapping import describe_label_values

            result.hint = describe_label_values(path, options, format_named(fmt))
    _finish(store, result, errors)
    return result


def _record_refusal(
    store: Store, result: FileResult, path: Path, options: ImportOptions, reason: str
) -> None:
    """A file refused before any record was read (format unknown, a mapping that cannot work,
    a check of the format) is an attempt too: it gets its ``imports`` row, status failed."""
    try:
        size = path.stat().st_size
        result.sha256 = sha256_of(path)
    except OSError:
        size = None
    recorded = {
        k: v
        for k, v in asdict(options).items()
        if v and k not in ("on_progress", "allow_unknown_model")
    }
    result.import_id = store.begin_import(
        str(path),
        result.format or "unknown",
        sha256=result.sha256,
        size_bytes=size,
        importer_version=IMPORTER_VERSION,
        options=recorded,
    )
    store.finish_import(
        result.import_id, status="failed", errors=[{"where": "file", "reason": reason}]
    )


def _record_hard_failure(
    store: Store, result: FileResult, path: Path, exc: BaseException, copying: bool
) -> None:
    """An interrupt or a bug. Before the copy nothing was written; during it, the chunks
    committed so far stay, and running the same import again completes it."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    result.status = "interrupted" if interrupted else "failed"
    reason = "interrupted" if interrupted else f"internal error: {type(exc).__name__}: {exc}"
    if copying and result.n_new:
        result.error = (
            f"{path}: {reason} while copying into the database; {result.n_new:,} new "
            "transcript(s) were written. Run the same import again to complete it (what "
            "is already there counts as duplicate)"
        )
    else:
        result.error = f"{path}: {reason}; nothing from this file was imported"
    _finish(store, result, [{"where": "file", "reason": reason}])


def _count(result: FileResult, copied: CopyResult) -> None:
    result.n_new, result.n_labels = copied.new, copied.labels
    result.write_transactions = copied.chunks
    result.longest_transaction_seconds = round(copied.longest_chunk_seconds, 3)


def _storable(value: Any) -> Any:
    """Text that UTF-8 can hold: a lone surrogate quoted from the input (in a reason, a
    label value) becomes its escape, ``\\ud800``, instead of failing the record of the
    import itself."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _finish(store: Store, result: FileResult, errors: list[dict[str, Any]]) -> None:
    """Record the outcome. A failed run records what it wrote: nothing, unless the copy had
    begun (an interrupt or a crash mid-copy), when the chunks already committed stay."""
    errors = _storable(errors)
    result.error = _storable(result.error)
    result.hint = _storable(result.hint)
    store.finish_import(
        result.import_id,
        status=result.status,
        n_read=result.n_read,
        n_new=result.n_new,
        n_duplicate=result.n_duplicate,
        n_rejected=result.n_rejected,
        errors=errors,
    )


# What a folder is searched for; other files in it are reported as skipped.


@dataclass
class InputFile:
    """A file to import; ``folder`` is the folder given on the command line it was found in."""

    path: Path
    folder: Path | None = None


@dataclass
class FolderContents:
    folder: Path
    files: list[Path]
    skipped: list[Path]  # files of another type, relative to the folder


@dataclass
class Expanded:
    files: list[InputFile]
    folders: list[FolderContents]


def _belongs_to_database(path: Path, db_path: Path | None) -> bool:
    """The database, its WAL, its rejected-records file and its staging files."""
    if db_path is None:
        return False
    try:
        same_dir = path.parent.resolve() == db_path.parent.resolve()
    except OSError:
        return False
    return same_dir and path.name.startswith(db_path.name)


def expand_paths(paths: Iterable[Path], db_path: Path | None = None) -> Expanded:
    """Files stay as given; a folder becomes the files of a known type in it and below it,
    sorted by path, leaving out hidden files and folders and the database's own files.

    A folder holding no such file stays in the list as itself, so that importing it fails
    with a message saying so."""
    files: list[InputFile] = []
    folders: list[FolderContents] = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            files.append(InputFile(path))
            continue
        found, skipped = [], []
        for candidate in sorted(path.rglob("*")):
            relative = candidate.relative_to(path)
            if any(part.startswith(".") for part in relative.parts) or not candidate.is_file():
                continue
            if _belongs_to_database(candidate, db_path):
                continue
            if candidate.suffix.lower() in importable_suffixes():
                found.append(candidate)
            else:
                skipped.append(relative)
        folders.append(FolderContents(path, found, skipped))
        files.extend(InputFile(f, folder=path) for f in found)
        if not found:
            files.append(InputFile(path))
    return Expanded(files, folders)


def import_files(
    store: Store,
    paths: Iterable[Path | InputFile],
    *,
    fmt: str | None = None,
    options: ImportOptions | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[FileResult]:
    """Import each file in turn; a failed file does not stop the others.

    Folders are expanded (``expand_paths``). A file found in a folder whose format cannot be
    told from its content is skipped with the reason in ``hint``, not failed: a results
    folder often holds other JSON files (configs, summaries)."""
    inputs: list[InputFile] = []
    for item in paths:
        if isinstance(item, InputFile):
            inputs.append(item)
        else:
            inputs.extend(expand_paths([Path(item)], store.path).files)
    sink = RejectedSink(rejected_path_for(store.path)) if skip_bad else None
    results = []
    try:
        for item in inputs:
            result = None
            detected = None
            if item.folder is not None and fmt is None:
                try:
                    detected = detect_format(item.path)  # not sniffed again to import it
                except UnknownFormatError as exc:
                    reason = str(exc).removeprefix(f"{item.path}: ")
                    result = FileResult(
                        path=str(item.path),
                        format=None,
                        status="skipped",
                        hint=f"skipped: {reason}",
                    )
                except OSError as exc:
                    result = FileResult(
                        path=str(item.path),
                        format=None,
                        error=f"{item.path}: cannot be read ({exc})",
                    )
            if result is None:
                result = import_file(
                    store,
                    item.path,
                    fmt=fmt or detected,
                    options=options,
                    skip_bad=skip_bad,
                    sink=sink,
                    progress=progress,
                    warn=warn,
                )
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        if sink is not None:
            sink.close()
    if any(r.n_new for r in results):
        store.optimize()  # a bulk load: the planner's statistics may be due
    return results
