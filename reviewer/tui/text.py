"""Showing untrusted transcript text literally, and wrapping it fast.

Nothing here parses markup: text becomes Segments directly. Control characters (ANSI escape
sequences start with one) and bidirectional overrides are replaced one for one by visible
symbols, so offsets into the shown text are offsets into the stored text and evidence quotes
stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rich.cells import get_character_cell_size

_VISIBLE = {c: 0x2400 + c for c in range(0x20) if c != 0x0A}
_VISIBLE[0x7F] = 0x2421
_VISIBLE.update({c: 0xFFFD for c in range(0x80, 0xA0)})
_VISIBLE.update({c: 0xFFFD for c in (0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF)})
_VISIBLE.update({c: 0xFFFD for c in range(0x202A, 0x202F)})
_VISIBLE.update({c: 0xFFFD for c in range(0x2066, 0x206A)})

TAG = re.compile(r"</?[A-Za-z_][A-Za-z0-9_\-]*\s*/?>")


def visible(text: str) -> str:
    """``text`` with every control character made visible, one character for one."""
    return text.translate(_VISIBLE)


def _wrap_wide(text: str, start: int, end: int, width: int) -> Iterator[tuple[int, int]]:
    pos = start
    while pos < end:
        cells = 0
        i = pos
        last_space = -1
        while i < end:
            size = get_character_cell_size(text[i])
            if cells + size > width:
                break
            if text[i] == " ":
                last_space = i
            cells += size
            i += 1
        if i >= end:
            yield pos, end
            return
        if last_space > pos:
            yield pos, last_space
            pos = last_space + 1
        else:
            i = max(i, pos + 1)
            yield pos, i
            pos = i


def wrap_offsets(text: str, start: int, end: int, width: int) -> Iterator[tuple[int, int]]:
    """[start, end) spans of ``text[start:end]`` that fit in ``width`` cells, word-wrapped.

    Newlines end a span; a space where a line breaks belongs to no span. Long words are cut.
    """
    width = max(width, 1)
    all_ascii = text[start:end].isascii()
    pos = start
    while pos <= end:
        newline = text.find("\n", pos, end)
        para_end = end if newline < 0 else newline
        if para_end == pos:
            yield pos, pos
        elif all_ascii or text[pos:para_end].isascii():
            p = pos
            while para_end - p > width:
                cut = text.rfind(" ", p, p + width + 1)
                if cut <= p:
                    yield p, p + width
                    p += width
                else:
                    yield p, cut
                    p = cut + 1
            yield p, para_end
        else:
            yield from _wrap_wide(text, pos, para_end, width)
        if newline < 0:
            return
        pos = newline + 1
