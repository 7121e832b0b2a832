"""Inspect AI evaluation logs: the ``.eval`` zip and the ``.json`` format.

Read sample by sample without ``inspect-ai``: in a ``.eval`` each sample is its own zip member
(``samples/{id}_epoch_{n}.json``); in a ``.json`` log the ``samples`` array is streamed. Long
strings may be stored once in the sample's ``attachments`` and referenced as
``attachment://<hash>``; they are resolved here.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from db.models import TranscriptRecord
from importers.base import (
    LABEL_MAP_OPTIONS,
    Format,
    ImportOptions,
    ReadResult,
    RecordError,
    Rejected,
    Sniff,
    check_length,
    condition_from_flag,
    condition_from_text,
    extract_user_input,
    normalize_condition,
    open_binary,
    type_name,
)
from importers.guard import InputLimitError, check_json_bytes
from importers.jsonstream import IJSON_BUFFER, _first_byte, _syntax_reason
from importers.mapping import LabelValueError, TableSpec, build_spec, labels_of
from importers.reasoning import (
    MessageParts,
    content_parts,
    join_blocks,
    message_parts,
    reasoning_status,
    split_reasoning,
)
from importers.zipmembers import MemberError, read_member

_ATTACHMENT = "attachment://"


def read(path: Path, options: ImportOptions) -> ReadResult:
    labels = build_spec(options, FORMAT.label_map, FORMAT.name) if options.maps else None
    for item in _samples(path, options):
        if isinstance(item, Rejected):
            yield item
        else:
            yield _convert(*item, path, options, labels)


def _samples(path: Path, options: ImportOptions) -> Iterator:
    """(sample, index, zip member or None, eval spec) per sample, or a Rejected."""
    if path.stat().st_size == 0:
        yield Rejected("the file is empty", fatal=True, kind="empty")
    elif zipfile.is_zipfile(path):
        yield from _read_eval(path, options)
    elif path.suffix.lower() == ".eval":
        yield Rejected("not a zip archive: an .eval log is a zip file", fatal=True, kind="file")
    else:
        yield from _read_json(path, options)


# -- .eval (zip) ----------------------------------------------------------------------------


def _sample_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        i
        for i in zf.infolist()
        if i.filename.startswith("samples/") and i.filename.endswith(".json")
    ]


def _read_eval(path: Path, options: ImportOptions) -> ReadResult:
    with open_binary(path, options) as f:
        try:
            zf = zipfile.ZipFile(f)
        except (
            zipfile.BadZipFile,
            NotImplementedError,
            ValueError,
            OSError,
            EOFError,
            RuntimeError,
        ) as exc:
            yield Rejected(f"not a readable zip archive: {exc}", fatal=True, kind="file")
            return
        with zf:
            spec: dict[str, Any] = {}
            for name in ("header.json", "_journal/start.json"):
                if name in zf.NameToInfo:
                    try:
                        header = _member_json(zf, f, zf.getinfo(name))
                    except (MemberError, ValueError, RecursionError) as exc:
                        yield Rejected(f"{name}: cannot be read ({exc})", fatal=True, kind="file")
                        return
                    spec = header.get("eval") or {} if isinstance(header, dict) else {}
                    break
            members = _sample_members(zf)
            if not members:
                yield Rejected(
                    "the log holds no samples (samples/*.json)", fatal=True, kind="empty"
                )
                return
            for index, info in enumerate(members):
                ref = info.filename
                try:
                    sample = _member_json(zf, f, info)
                except MemberError as exc:
                    yield Rejected(f"{ref}: cannot be decompressed ({exc})", index=index, ref=ref)
                    continue
                except InputLimitError as exc:
                    yield Rejected(f"{ref}: {exc}", index=index, ref=ref)
                    continue
                except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                    yield Rejected(
                        f"{ref}: not valid JSON ({exc or 'nested too deeply'})",
                        index=index,
                        ref=ref,
                    )
                    continue
                yield sample, index, ref, spec


def _member_json(zf: zipfile.ZipFile, f: Any, info: zipfile.ZipInfo) -> Any:
    """One member's JSON, decompressed within MAX_MEMBER_BYTES and checked against the
    guard's limits before ``json`` parses it."""
    data = read_member(zf, f, info)
    check_json_bytes(data)
    return json.loads(data)


# -- .json ----------------------------------------------------------------------------------


def _read_json(path: Path, options: ImportOptions) -> ReadResult:
    import ijson

    with open_binary(path, options, json=True) as f:
        try:
            first = _first_byte(f)
        except InputLimitError as exc:
            yield Rejected(_syntax_reason(exc, 0), fatal=True, byte_offset=exc.offset)
            return
        if not first:
            yield Rejected("the file is empty", fatal=True, kind="empty")
            return
        f.seek(0)
        try:
            spec = next(ijson.items(f, "eval", use_float=True, buf_size=IJSON_BUFFER), None) or {}
        except (ijson.JSONError, ValueError) as exc:
            yield Rejected(_syntax_reason(exc, 0), fatal=True, byte_offset=f.tell())
            return
        if not isinstance(spec, dict) or not spec:
            yield Rejected(
                "not an Inspect log: no 'eval' object at the top level", fatal=True, kind="file"
            )
            return
        f.seek(0)
        index = 0
        try:
            for sample in ijson.items(f, "samples.item", use_float=True, buf_size=IJSON_BUFFER):
                yield sample, index, None, spec
                index += 1
        except (ijson.JSONError, ValueError) as exc:
            yield Rejected(
                _syntax_reason(exc, index), index=index, fatal=True, byte_offset=f.tell()
            )
            return
        if index == 0:
            yield Rejected("the log holds no samples", fatal=True, kind="empty")


# -- one sample -----------------------------------------------------------------------------


def _convert(
    sample: Any,
    index: int,
    ref: str | None,
    spec: dict,
    path: Path,
    options,
    labels: TableSpec | None = None,
):
    if not isinstance(sample, dict):
        return Rejected(
            f"a sample should be an object, found {type_name(sample)}",
            index=index,
            ref=ref,
            raw=sample,
        )
    where = ref or f"sample {sample.get('id')!r} epoch {sample.get('epoch')}"
    try:
        record = to_transcript(sample, index, spec, path, options)
        if labels is not None:
            record.labels = labels_of(sample, labels, options)
        return record
    except LabelValueError as exc:
        return Rejected(str(exc), index=index, ref=where, raw=sample, kind="label_value")
    except RecordError as exc:
        return Rejected(str(exc), index=index, ref=where, raw=sample)
    except Exception as exc:  # noqa: BLE001 - untrusted input: any surprise is one bad record
        return Rejected(
            f"unexpected content ({type(exc).__name__}: {exc})", index=index, ref=where, raw=sample
        )


def _resolve(text: str, attachments: dict) -> str:
    if text.startswith(_ATTACHMENT):
        return str(attachments.get(text[len(_ATTACHMENT) :], text))
    return text


def _content(content: Any, attachments: dict) -> MessageParts:
    """Text and reasoning of one message content (see importers.reasoning)."""
    return content_parts(content, "message", lambda t: _resolve(t, attachments), strict=False)


def to_transcript(
    sample: dict, index: int, spec: dict, path: Path, options: ImportOptions
) -> TranscriptRecord:
    attachments = sample.get("attachments") or {}
    if not isinstance(attachments, dict):
        attachments = {}
    messages = sample.get("messages")
    if not isinstance(messages, list):
        raise RecordError(f"field 'messages' should be an array, found {type_name(messages)}")
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []
    bodies: list[str] = []
    redacted = 0
    last_assistant = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordError(f"messages[{i}] should be an object, found {type_name(message)}")
        role = str(message.get("role", ""))
        parts = message_parts(
            message, f"messages[{i}]", lambda t: _resolve(t, attachments), strict=False
        )
        text, reasoning = parts.text, parts.reasoning
        if role == "system":
            system_parts.append(text)
            continue
        turn: dict[str, Any] = {"role": role, "content": text}
        if role == "assistant":
            split = split_reasoning(check_length(text, f"messages[{i}].content"))
            bodies.extend(reasoning)
            bodies.extend(split.scratchpad[s:e] for s, e in split.blocks)
            last_assistant = split
            redacted += parts.redacted
            if reasoning:
                turn["reasoning"] = "\n\n".join(reasoning)
            if parts.redacted:
                turn["reasoning_redacted_blocks"] = parts.redacted
        turns.append(turn)
    if last_assistant is None:
        error = sample.get("error")
        if isinstance(error, dict):
            error = error.get("message", error)
        detail = f" (the sample's error: {str(error)[:300]})" if error else ""
        raise RecordError(f"the sample has no assistant message{detail}")
    scratchpad, blocks = join_blocks(bodies)

    user_input_raw = sample.get("input")
    if isinstance(user_input_raw, list):
        first = next(
            (m for m in user_input_raw if isinstance(m, dict) and m.get("role") == "user"), {}
        )
        user_input_raw = _content(first.get("content"), attachments).text
    elif isinstance(user_input_raw, str):
        user_input_raw = _resolve(user_input_raw, attachments)
    else:
        user_input_raw = next((t["content"] for t in turns if t["role"] == "user"), "")

    meta = sample.get("metadata") if isinstance(sample.get("metadata"), dict) else {}
    condition = (
        options.condition
        or normalize_condition(meta.get("condition"))
        or condition_from_flag(meta.get("is_free_tier_user"))
        or condition_from_text(user_input_raw)
    )
    output_model = (
        (sample.get("output") or {}).get("model")
        if isinstance(sample.get("output"), dict)
        else None
    )
    metadata = {
        "sample_id": sample.get("id"),
        "epoch": sample.get("epoch"),
        "target": sample.get("target"),
        "metadata": meta,
        "scores": sample.get("scores") or {},
        "task": spec.get("task"),
        "eval_id": spec.get("eval_id"),
        "run_id": spec.get("run_id"),
    }
    metadata.update(reasoning_status(scratchpad, redacted))
    if sample.get("error"):
        metadata["error"] = sample["error"]
    return TranscriptRecord(
        user_input=extract_user_input(user_input_raw),
        scratchpad=scratchpad,
        scratchpad_blocks=blocks,
        output=last_assistant.output,
        turns=turns,
        system_prompt="\n\n".join(system_parts) or None,
        model=options.model or output_model or spec.get("model"),
        condition=condition,
        dataset=options.dataset or spec.get("task"),
        source_path=str(path),
        source_ref=f"{sample.get('id')}#epoch{sample.get('epoch')}",
        metadata=metadata,
    )


def detect(sniff: Sniff) -> bool:
    return sniff.suffix == ".eval" or (
        sniff.shape == "object" and bool({"eval", "samples"} & sniff.keys)
    )


def label_sources(path: Path, options: ImportOptions) -> Iterator[dict]:
    """Each sample, as ``--map label.FIELD=PATH`` paths are looked up in it."""
    quiet = ImportOptions(**{**options.__dict__, "on_progress": None})
    for item in _samples(path, quiet):
        if not isinstance(item, Rejected) and isinstance(item[0], dict):
            yield item[0]


FORMAT = Format(
    name="inspect",
    description="Inspect AI logs (.eval zip or .json)",
    suffixes=(".eval", ".json"),
    detect=detect,
    options=("model", "condition", "dataset", *LABEL_MAP_OPTIONS),
    label_map="paths",
    label_sources=label_sources,
)
