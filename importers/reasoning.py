"""Splitting a model's completion into hidden reasoning blocks and the final output.

Recognises ``<SCRATCHPAD_REASONING>``, ``<HIDDEN_SCRATCHPAD>`` and reasoning-model
``<think>`` blocks, and the ``<OUTPUT>`` wrapper of the final answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from db.models import join_blocks

REASONING_TAGS = ("SCRATCHPAD_REASONING", "HIDDEN_SCRATCHPAD", "think")
_BLOCK_OPEN = re.compile(r"<(SCRATCHPAD_REASONING|HIDDEN_SCRATCHPAD|think)>")
_OUTPUT_OPEN = re.compile(r"<OUTPUT>")


@dataclass
class SplitReasoning:
    scratchpad: str = ""
    blocks: list[tuple[int, int]] = field(default_factory=list)
    output: str = ""


def _tagged(
    text: str, opening: re.Pattern, closing: str | None
) -> Iterator[tuple[int, int, int, int]]:
    """(start, body start, body end, end) of each tagged block, left to right, not nested: a
    block runs to the first matching closing tag, or to the end of the text when unclosed.

    ``closing`` None means each opening tag's own name closes it. Same result as a lazy
    ``<(tag)>(.*?)(?:</(tag)>|\\Z)`` regex, but with ``str.find``: the lazy regex tries the
    closing alternative at every character and cost most of an import's time.
    """
    pos = 0
    while (m := opening.search(text, pos)) is not None:
        close = closing or f"</{m.group(1)}>"
        end = text.find(close, m.end())
        if end < 0:
            yield m.start(), m.end(), len(text), len(text)
            return
        pos = end + len(close)
        yield m.start(), m.end(), end, pos


def split_reasoning(text: str) -> SplitReasoning:
    """Pull reasoning blocks and the final output out of one completion.

    Text outside any reasoning block counts as output when there is no ``<OUTPUT>`` tag.
    """
    blocks = list(_tagged(text, _BLOCK_OPEN, None))
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
