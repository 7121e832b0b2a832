"""Hidden reasoning in every shape it reaches us, and the final output beside it.

In text: ``<SCRATCHPAD_REASONING>`` and ``<HIDDEN_SCRATCHPAD>`` (the alignment-faking prompts),
reasoning-model ``<think>`` blocks, also with the opening tag missing (DeepSeek-R1's answers
usually start inside the reasoning and only close it with ``</think>``), and the ``<OUTPUT>``
wrapper of the final answer.

In structured messages (:func:`message_parts`): Anthropic ``thinking`` and
``redacted_thinking`` content blocks, Inspect ``ContentReasoning`` (``type: reasoning``, maybe
``redacted: true``), OpenAI-compatible ``reasoning_content`` / ``reasoning`` message fields
and OpenRouter's ``reasoning_details``.

Every imported transcript says what became of its reasoning, in
``metadata.reasoning_status``: ``present`` (a scratchpad was found), ``redacted`` (the source
had reasoning but only in a form nobody can read: redacted or encrypted blocks, and nothing
readable besides) or ``absent`` (no reasoning at all). When readable and redacted reasoning are
both there, the status is ``present`` and ``metadata.reasoning_redacted_blocks`` counts the
unreadable ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from db.models import join_blocks
from importers.base import RecordError, type_name

REASONING_TAGS = ("SCRATCHPAD_REASONING", "HIDDEN_SCRATCHPAD", "think")
_BLOCK_OPEN = re.compile(r"<(SCRATCHPAD_REASONING|HIDDEN_SCRATCHPAD|think)>")
_BLOCK_CLOSE = re.compile(r"</(SCRATCHPAD_REASONING|HIDDEN_SCRATCHPAD|think)>")
STATUS_KEY = "reasoning_status"
REDACTED_KEY = "reasoning_redacted_blocks"
PRESENT, REDACTED, ABSENT = "present", "redacted", "absent"
_OUTPUT_OPEN = re.compile(r"<OUTPUT>")


@dataclass
class SplitReasoning:
    scratchpad: str = ""
    blocks: list[tuple[int, int]] = field(default_factory=list)
    output: str = ""


def _tagged(
    text: str, opening: re.Pattern, closing: str | None, start: int = 0
) -> Iterator[tuple[int, int, int, int]]:
    """(start, body start, body end, end) of each tagged block, left to right, not nested: a
    block runs to the first matching closing tag, or to the end of the text when unclosed.

    ``closing`` None means each opening tag's own name closes it. Same result as a lazy
    ``<(tag)>(.*?)(?:</(tag)>|\\Z)`` regex, but with ``str.find``: the lazy regex tries the
    closing alternative at every character and cost most of an import's time.
    """
    pos = start
    while (m := opening.search(text, pos)) is not None:
        close = closing or f"</{m.group(1)}>"
        end = text.find(close, m.end())
        if end < 0:
            yield m.start(), m.end(), len(text), len(text)
            return
        pos = end + len(close)
        yield m.start(), m.end(), end, pos


def has_reasoning_tags(text: str) -> bool:
    """Whether the text has a reasoning block, opened or only closed."""
    return bool(_BLOCK_OPEN.search(text) or _BLOCK_CLOSE.search(text))


def _leading_block(text: str) -> tuple[int, int, int, int] | None:
    """A block closed before anything opened it: the text from the start is reasoning whose
    opening tag is missing (put in the prompt, or stripped by the serving stack)."""
    close = _BLOCK_CLOSE.search(text)
    if close is None:
        return None
    opening = _BLOCK_OPEN.search(text, 0, close.start())
    if opening is not None:
        return None
    return 0, 0, close.start(), close.end()


def split_reasoning(text: str) -> SplitReasoning:
    """Pull reasoning blocks and the final output out of one completion.

    Text outside any reasoning block counts as output when there is no ``<OUTPUT>`` tag.
    """
    lead = _leading_block(text)
    if lead is None:
        blocks = list(_tagged(text, _BLOCK_OPEN, None))
    else:
        blocks = [lead, *_tagged(text, _BLOCK_OPEN, None, start=lead[3])]
    scratchpad, offsets = join_blocks([text[b:e].strip("\n") for _, b, e, _ in blocks])
    output = None
    for _, b, e, _ in _tagged(text, _OUTPUT_OPEN, "</OUTPUT>"):
        output = text[b:e]
    if output is not None:
        output = output.strip()
    else:
        kept, pos = [], 0
        for start, _, _, end in blocks:
            kept.append(text[pos:start])
            pos = end
        kept.append(text[pos:])
        output = "".join(kept).strip()
    return SplitReasoning(scratchpad=scratchpad, blocks=offsets, output=output)


def reasoning_status(scratchpad: str, redacted_blocks: int) -> dict[str, object]:
    """The metadata entries saying what became of a transcript's reasoning."""
    status = PRESENT if scratchpad.strip() else REDACTED if redacted_blocks else ABSENT
    out: dict[str, object] = {STATUS_KEY: status}
    if redacted_blocks:
        out[REDACTED_KEY] = redacted_blocks
    return out


@dataclass
class MessageParts:
    """One message's visible text, its readable reasoning and its unreadable blocks."""

    text: str = ""
    reasoning: list[str] = field(default_factory=list)
    redacted: int = 0


_TEXT_BLOCKS = ("text", "input_text", "output_text")


def message_parts(message: dict, where: str, resolve=None, *, strict: bool = True) -> MessageParts:
    """Text and reasoning of one chat message in any of the shapes above.

    ``resolve`` maps stored strings (Inspect's ``attachment://`` references) to their text;
    ``strict`` makes malformed content a :class:`~importers.base.RecordError` instead of
    something passed over.
    """
    parts = content_parts(message.get("content"), where, resolve, strict=strict)
    fields: list[str] = []
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value.strip():
            fields.append(resolve(value) if resolve else value)
            break  # servers that send both send the same text twice
    details = message.get("reasoning_details")
    if not fields and isinstance(details, list):
        for item in details:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "reasoning.text" and isinstance(item.get("text"), str):
                fields.append(item["text"])
            elif kind == "reasoning.encrypted":
                parts.redacted += 1
    parts.reasoning[:0] = fields
    return parts


def content_parts(content, where: str, resolve=None, *, strict: bool = True) -> MessageParts:
    """Text and reasoning of a message content: a string or a list of content blocks."""
    resolve = resolve or (lambda text: text)
    parts = MessageParts()
    if content is None:
        return parts
    if isinstance(content, str):
        parts.text = resolve(content)
        return parts
    if not isinstance(content, list):
        raise RecordError(
            f"{where}.content should be a string or an array, found {type_name(content)}"
        )
    texts: list[str] = []
    for j, block in enumerate(content):
        if isinstance(block, str):
            texts.append(resolve(block))
            continue
        if not isinstance(block, dict):
            if strict:
                raise RecordError(
                    f"{where}.content[{j}] should be an object, found {type_name(block)}"
                )
            continue
        kind = block.get("type")
        if kind in _TEXT_BLOCKS and isinstance(block.get("text"), str):
            texts.append(resolve(block["text"]))
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            parts.reasoning.append(resolve(block["thinking"]))  # Anthropic
        elif kind == "redacted_thinking":  # Anthropic: encrypted, for the model's eyes only
            parts.redacted += 1
        elif kind == "reasoning":  # Inspect's ContentReasoning
            text = block.get("reasoning")
            if block.get("redacted") or block.get("encrypted_content"):
                parts.redacted += 1  # the text, if any, is ciphertext
            elif isinstance(text, str) and text.strip():
                parts.reasoning.append(resolve(text))
        elif kind == "tool_result":
            inner = content_parts(
                block.get("content"), f"{where}.content[{j}]", resolve, strict=strict
            )
            texts.append(inner.text)
        # images, tool_use and the like: nothing readable to keep as text
    parts.text = "\n".join(texts)
    return parts
