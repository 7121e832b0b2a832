"""Splitting a model's completion into hidden reasoning blocks and the final output.

Recognises ``<SCRATCHPAD_REASONING>``, ``<HIDDEN_SCRATCHPAD>`` and reasoning-model
``<think>`` blocks, and the ``<OUTPUT>`` wrapper of the final answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REASONING_TAGS = ("SCRATCHPAD_REASONING", "HIDDEN_SCRATCHPAD", "think")
_BLOCK = re.compile(
    r"<(?P<tag>SCRATCHPAD_REASONING|HIDDEN_SCRATCHPAD|think)>(?P<body>.*?)(?:</(?P=tag)>|\Z)",
    re.DOTALL,
)
_OUTPUT = re.compile(r"<OUTPUT>(?P<body>.*?)(?:</OUTPUT>|\Z)", re.DOTALL)
BLOCK_SEPARATOR = "\n\n"


@dataclass
class SplitReasoning:
    scratchpad: str = ""
    blocks: list[tuple[int, int]] = field(default_factory=list)
    output: str = ""


def join_blocks(bodies: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join reasoning block bodies with a blank line, keeping each block's offsets."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for i, body in enumerate(bodies):
        if i:
            parts.append(BLOCK_SEPARATOR)
            pos += len(BLOCK_SEPARATOR)
        parts.append(body)
        offsets.append((pos, pos + len(body)))
        pos += len(body)
    return "".join(parts), offsets


def split_reasoning(text: str) -> SplitReasoning:
    """Pull reasoning blocks and the final output out of one completion.

    Text outside any reasoning block counts as output when there is no ``<OUTPUT>`` tag.
    """
    bodies = [m.group("body").strip("\n") for m in _BLOCK.finditer(text)]
    scratchpad, offsets = join_blocks(bodies)
    outputs = [m.group("body").strip() for m in _OUTPUT.finditer(text)]
    output = outputs[-1] if outputs else _BLOCK.sub("", text).strip()
    return SplitReasoning(scratchpad=scratchpad, blocks=offsets, output=output)
