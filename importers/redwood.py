"""Conversations of the original alignment-faking study (Greenblatt et al., Redwood/Anthropic).

The user turn is ``<INPUT><is_free_tier_user>True</is_free_tier_user><user_input>...
</user_input></INPUT>``; the model then reasons over several assistant turns, each a
``<SCRATCHPAD_REASONING>`` block, which the harness continues with a bare ``<NEXT/>`` user
turn, and ends with an ``<OUTPUT>`` turn. A record is a list of messages, or an object holding
one under ``messages``, ``conversation``, ``turns`` or ``transcript``; a message is a
``{"role", "content"}`` object or a plain string (roles then alternate, user first). Every turn
is kept in order; the scratchpad is all reasoning blocks joined, the output the last
``<OUTPUT>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.models import TranscriptRecord
from importers.base import (
    Format,
    ImportOptions,
    ReadResult,
    RecordError,
    Rejected,
    Sniff,
    check_length,
    condition_from_text,
    extract_user_input,
    first_list_field,
    normalize_condition,
    type_name,
)
from importers.chat import convert
from importers.jsonstream import RawRecord, iter_records
from importers.reasoning import content_parts, join_blocks, reasoning_status, split_reasoning

CONVERSATION_KEYS = ("messages", "conversation", "turns", "transcript")
NEXT = "<NEXT/>"


def read(path: Path, options: ImportOptions) -> ReadResult:
    for item in iter_records(path, options):
        if isinstance(item, Rejected):
            yield item
            continue
        yield convert(item, path, options, to_transcript)


def _conversation(record: dict) -> list[Any]:
    return first_list_field(
        record,
        CONVERSATION_KEYS,
        f"missing the conversation: expected one of {', '.join(CONVERSATION_KEYS)}",
    )


def to_transcript(
    record: dict, raw: RawRecord, path: Path, options: ImportOptions
) -> TranscriptRecord:
    conversation = _conversation(record)
    turns: list[dict[str, Any]] = []
    system = record.get("system") or record.get("system_prompt")
    system_parts = [system] if isinstance(system, str) and system else []
    for i, message in enumerate(conversation):
        if isinstance(message, str):
            role = "user" if len(turns) % 2 == 0 else "assistant"
            text = message
        elif isinstance(message, dict):
            role = message.get("role")
            if not isinstance(role, str):
                raise RecordError(f"messages[{i}].role should be a string, found {type_name(role)}")
            text = content_parts(message.get("content"), f"messages[{i}]").text
        else:
            raise RecordError(
                f"messages[{i}] should be a string or an object, found {type_name(message)}"
            )
        if role == "system":
            system_parts.append(text)
            continue
        turns.append({"role": role, "content": text})

    first_user = next((t["content"] for t in turns if t["role"] == "user"), None)
    if first_user is None:
        raise RecordError("the conversation has no user turn with the <INPUT>")
    bodies: list[str] = []
    outputs: list[str] = []
    for turn in turns:
        if turn["role"] != "assistant":
            continue
        split = split_reasoning(check_length(turn["content"], "an assistant turn"))
        bodies.extend(split.scratchpad[s:e] for s, e in split.blocks)
        if "<OUTPUT>" in turn["content"]:
            outputs.append(split.output)
    if not any(t["role"] == "assistant" for t in turns):
        raise RecordError("the conversation has no assistant turn")
    scratchpad, blocks = join_blocks(bodies)
    meta = {
        k: v for k, v in record.items() if k not in (*CONVERSATION_KEYS, "system", "system_prompt")
    }
    meta["n_scratchpad_turns"] = len(bodies)
    meta.update(reasoning_status(scratchpad, 0))
    meta["next_turns"] = sum(
        1 for t in turns if t["role"] == "user" and t["content"].strip() == NEXT
    )
    condition = (
        options.condition
        or normalize_condition(meta.get("condition"))
        or condition_from_text(first_user)
    )
    model = meta.get("model")
    dataset = meta.get("dataset")
    return TranscriptRecord(
        user_input=extract_user_input(first_user),
        scratchpad=scratchpad,
        scratchpad_blocks=blocks,
        output=outputs[-1] if outputs else "",
        turns=turns,
        system_prompt="\n\n".join(system_parts) or None,
        model=options.model or (model if isinstance(model, str) else None),
        condition=condition,
        dataset=options.dataset or (dataset if isinstance(dataset, str) else None),
        source_path=str(path),
        source_ref=f"line {raw.line}" if raw.line else f"record {raw.index}",
        metadata=meta,
    )


def detect(sniff: Sniff) -> bool:
    return b"<NEXT/>" in sniff.head or b"<INPUT>" in sniff.head


FORMAT = Format(
    name="redwood",
    description="original-study conversations (<INPUT>, <NEXT/>, <OUTPUT>)",
    suffixes=(".json", ".jsonl", ".ndjson"),
    detect=detect,
)
