"""Chat conversations as JSONL (or a JSON array): OpenAI-style and Anthropic-style messages.

A record is ``{"messages": [...], ...}`` (``conversation`` is accepted too). A message's
``content`` is a string or a list of content blocks. The scratchpad is everything the model
reasoned before answering, in order: Anthropic ``thinking`` blocks, OpenAI-compatible
``reasoning_content`` / ``reasoning`` fields, and any ``<SCRATCHPAD_REASONING>``,
``<HIDDEN_SCRATCHPAD>`` or ``<think>`` blocks inside the assistant's text. The output is the
final assistant turn without its reasoning; ``metadata.reasoning_status`` says whether
reasoning was found, redacted (``redacted_thinking``, encrypted details) or absent. Anthropic's top-level ``system`` and
``system``/``developer`` messages become the system prompt; other top-level keys are kept as
metadata (``model``, ``condition``, ``dataset`` are used when present).
"""

from __future__ import annotations

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
    first_list_field,
    normalize_condition,
    type_name,
)
from importers.jsonstream import RawRecord, expect_object, iter_records
from importers.mapping import LabelValueError, build_spec, labels_of
from importers.reasoning import (
    content_parts,
    join_blocks,
    message_parts,
    reasoning_status,
    split_reasoning,
)

MESSAGE_KEYS = ("messages", "conversation")
SYSTEM_ROLES = ("system", "developer")


def read(path: Path, options: ImportOptions) -> ReadResult:
    build = to_transcript
    if options.maps:
        labels = build_spec(options, FORMAT.label_map, FORMAT.name)

        def build(record, raw, path, options):  # noqa: F811 - with the labels it names
            transcript = to_transcript(record, raw, path, options)
            transcript.labels = labels_of(record, labels, options)
            return transcript

    for item in iter_records(path, options):
        if isinstance(item, Rejected):
            yield item
            continue
        yield convert(item, path, options, build)


def convert(
    raw: RawRecord, path: Path, options: ImportOptions, build
) -> TranscriptRecord | Rejected:
    """Run ``build`` on one raw record, turning any problem into a ``Rejected``."""
    value = raw.value
    if isinstance(value, list):  # a bare list of messages is a conversation too
        value = {"messages": value}
    record = expect_object(RawRecord(raw.index, value, raw.line))
    if isinstance(record, Rejected):
        return record
    try:
        return build(record, raw, path, options)
    except LabelValueError as exc:
        return Rejected(str(exc), index=raw.index, line=raw.line, raw=raw.value, kind="label_value")
    except RecordError as exc:
        return Rejected(str(exc), index=raw.index, line=raw.line, raw=raw.value)
    except Exception as exc:  # noqa: BLE001 - untrusted input: any surprise is one bad record
        return Rejected(
            f"unexpected content ({type(exc).__name__}: {exc})",
            index=raw.index,
            line=raw.line,
            raw=raw.value,
        )


def messages_of(record: dict) -> list[Any]:
    return first_list_field(record, MESSAGE_KEYS, "missing field 'messages'")


def _system_text(value: Any) -> str:
    return content_parts(value, "system").text


def to_transcript(
    record: dict, raw: RawRecord, path: Path, options: ImportOptions
) -> TranscriptRecord:
    messages = messages_of(record)
    system_parts = [_system_text(record["system"])] if record.get("system") else []
    turns: list[dict[str, Any]] = []
    bodies: list[str] = []
    redacted = 0
    last_output: str | None = None
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise RecordError(f"{where} should be an object, found {type_name(message)}")
        role = message.get("role")
        if not isinstance(role, str):
            raise RecordError(f"{where}.role should be a string, found {type_name(role)}")
        parts = message_parts(message, where)
        text, reasoning = parts.text, parts.reasoning
        if role in SYSTEM_ROLES:
            system_parts.append(text)
            continue
        turn: dict[str, Any] = {"role": role, "content": text}
        if role == "assistant":
            split = split_reasoning(check_length(text, f"{where}.content"))
            bodies.extend(r.strip("\n") for r in reasoning)
            bodies.extend(split.scratchpad[s:e] for s, e in split.blocks)
            last_output = split.output
            redacted += parts.redacted
            if reasoning:
                turn["reasoning"] = "\n\n".join(reasoning)
            if parts.redacted:
                turn["reasoning_redacted_blocks"] = parts.redacted
        turns.append(turn)
    if last_output is None:
        raise RecordError("the conversation has no assistant message")
    scratchpad, blocks = join_blocks(bodies)
    first_user = next((t["content"] for t in turns if t["role"] == "user"), "")
    meta = {k: v for k, v in record.items() if k not in (*MESSAGE_KEYS, "system")}
    meta.update(reasoning_status(scratchpad, redacted))
    condition = (
        options.condition
        or normalize_condition(meta.get("condition"))
        or condition_from_flag(meta.get("is_free_tier_user"))
        or condition_from_text(first_user)
    )
    model = meta.get("model")
    dataset = meta.get("dataset")
    return TranscriptRecord(
        user_input=extract_user_input(first_user),
        scratchpad=scratchpad,
        scratchpad_blocks=blocks,
        output=last_output,
        turns=turns,
        system_prompt="\n\n".join(p for p in system_parts if p) or None,
        model=options.model or (model if isinstance(model, str) else None),
        condition=condition,
        dataset=options.dataset or (dataset if isinstance(dataset, str) else None),
        source_path=str(path),
        source_ref=f"line {raw.line}" if raw.line else f"record {raw.index}",
        metadata=meta,
    )


def detect(sniff: Sniff) -> bool:
    return bool({"messages", "conversation"} & sniff.keys)


def label_sources(path: Path, options: ImportOptions) -> Iterator[dict]:
    """Each conversation record, as ``--map label.FIELD=PATH`` paths are looked up in it."""
    quiet = ImportOptions(**{**options.__dict__, "on_progress": None})
    for item in iter_records(path, quiet):
        if not isinstance(item, Rejected) and isinstance(item.value, dict):
            yield item.value


FORMAT = Format(
    name="chat",
    description="JSON/JSONL chat conversations (OpenAI messages, Anthropic blocks)",
    suffixes=(".json", ".jsonl", ".ndjson"),
    detect=detect,
    options=("model", "condition", "dataset", *LABEL_MAP_OPTIONS),
    label_map="paths",
    label_sources=label_sources,
)
