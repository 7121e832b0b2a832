"""The transcript: scratchpad first (numbered blocks), then the user request and final output.

A Line API widget: only the rows on screen are rendered, so a 1 MB scratchpad costs one wrap
pass (a few milliseconds) and then nothing per frame. It also carries the keyboard cursor and
the marked span that evidence is made from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from reviewer.tui.text import TAG, visible, wrap_offsets

TITLE, TAG_OPEN, TAG_CLOSE, TEXT, BLANK = range(5)
GUTTER = 4

_TITLE = Style(bold=True, color="cyan")
_DIM = Style(dim=True)
_MARK = Style(bgcolor="dark_goldenrod", color="black")
_EVIDENCE = Style(underline=True, color="yellow")
_FOUND = Style(bgcolor="grey37")
# Evidence by kind: your own spans, a classifier's quotes, another rater's spans (after reveal).
SPAN_STYLES = {
    "own": _EVIDENCE,
    "classifier": Style(bgcolor="dark_magenta", color="white"),
    "other": Style(underline=True, color="cyan"),
}
_CURSOR = Style(reverse=True)
_GUTTER = Style(dim=True, color="cyan")


@dataclass
class Section:
    name: str
    title: str
    text: str
    blocks: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    kind: int
    section: int
    start: int = 0
    end: int = 0
    label: str = ""
    block: int = 0


@dataclass
class Span:
    section: str
    start: int
    end: int
    kind: str = "own"


class TranscriptView(ScrollView, can_focus=False):
    """Scratchpad, user request and final output of one transcript, rendered literally."""

    DEFAULT_CSS = """
    TranscriptView { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; overflow-y: scroll; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sections: list[Section] = []
        self.rows: list[Row] = []
        self.item_id: int | None = None
        self.cursor_row = 0
        self.cursor_col = 0
        self.mark: tuple[int, int] | None = None
        self.selection: Span | None = None
        self.found: Span | None = None
        self.evidence: list[Span] = []
        self._wrap_width = 0
        self.rendered_item_id: int | None = None
        self.rendered_at = 0.0
        self.rendered_cpu = 0.0

    # -- content -----------------------------------------------------------------------

    def show(self, item_id: int, sections: list[Section]) -> None:
        self.item_id = item_id
        self.sections = [
            Section(s.name, s.title, visible(s.text), list(s.blocks)) for s in sections
        ]
        self.cursor_row = self.cursor_col = 0
        self.mark = None
        self.selection = None
        self.found = None
        self.evidence = []
        self._rebuild(force=True)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _rebuild(self, force: bool = False) -> None:
        width = max(self.scrollable_content_region.width - GUTTER, 20)
        if not force and width == self._wrap_width:
            return
        anchor = self.cursor_offset()
        self._wrap_width = width
        rows: list[Row] = []
        for index, section in enumerate(self.sections):
            if index:
                rows.append(Row(BLANK, index))
            rows.append(Row(TITLE, index, label=section.title))
            text = section.text
            blocks = section.blocks or ([(0, len(text))] if text else [])
            if not blocks:
                rows.append(Row(TAG_OPEN, index, label="(empty)"))
            for number, (start, end) in enumerate(blocks, 1):
                if section.name == "scratchpad":
                    rows.append(
                        Row(
                            TAG_OPEN,
                            index,
                            label=f"<SCRATCHPAD_REASONING> block {number} of {len(blocks)}",
                            block=number,
                        )
                    )
                gutter = number if section.name == "scratchpad" else 0
                for s, e in wrap_offsets(text, start, end, width):
                    rows.append(Row(TEXT, index, s, e, block=gutter))
                if section.name == "scratchpad":
                    rows.append(
                        Row(TAG_CLOSE, index, label="</SCRATCHPAD_REASONING>", block=number)
                    )
        self.rows = rows
        self._set_virtual_size(Size(self.scrollable_content_region.width, len(rows)))
        if anchor is not None:
            self.move_to_offset(*anchor)

    def _set_virtual_size(self, size: Size) -> None:
        """Change the scrollable size without a layout pass of the whole screen.

        The scrollbar is always shown (overflow-y: scroll), so a new item never changes this
        widget's geometry; a full layout per item would cost more than rendering the text.
        """
        if size == self.virtual_size:
            return
        self.set_reactive(TranscriptView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def on_resize(self) -> None:
        if self.sections:
            self._rebuild()

    # -- cursor and marks ----------------------------------------------------------------

    def section_index(self, name: str) -> int | None:
        for i, s in enumerate(self.sections):
            if s.name == name:
                return i
        return None

    def cursor_offset(self) -> tuple[int, int] | None:
        """(section index, character offset) under the cursor, if it is on text."""
        if not self.rows:
            return None
        row = self.rows[min(self.cursor_row, len(self.rows) - 1)]
        if row.kind != TEXT:
            return None
        return row.section, min(row.start + self.cursor_col, max(row.end - 1, row.start))

    def move_to_offset(self, section: int, offset: int) -> None:
        for i, row in enumerate(self.rows):
            if row.kind == TEXT and row.section == section and row.start <= offset:
                if offset < row.end or (offset == row.start == row.end):
                    self.cursor_row, self.cursor_col = i, offset - row.start
                    break
                nxt = self.rows[i + 1] if i + 1 < len(self.rows) else None
                if nxt is None or nxt.kind != TEXT or nxt.section != section or nxt.start > offset:
                    self.cursor_row, self.cursor_col = i, max(row.end - row.start - 1, 0)
                    break
        self._follow_cursor()

    def move_cursor(self, rows: int = 0, words: int = 0) -> None:
        if not self.rows:
            return
        if rows:
            self.cursor_row = max(0, min(len(self.rows) - 1, self.cursor_row + rows))
            row = self.rows[self.cursor_row]
            self.cursor_col = min(self.cursor_col, max(row.end - row.start - 1, 0))
        for _ in range(abs(words)):
            self._step_word(1 if words > 0 else -1)
        self._follow_cursor()

    def _step_word(self, direction: int) -> None:
        row = self.rows[self.cursor_row]
        text = self.sections[row.section].text[row.start : row.end] if row.kind == TEXT else ""
        col = self.cursor_col
        if direction > 0:
            nxt = text.find(" ", col)
            while 0 <= nxt < len(text) and text[nxt] == " ":
                nxt += 1
            if 0 < nxt < len(text):
                self.cursor_col = nxt
            elif self.cursor_row + 1 < len(self.rows):
                self.cursor_row += 1
                self.cursor_col = 0
        else:
            if col > 0:
                prev = text.rfind(" ", 0, max(col - 1, 0))
                self.cursor_col = prev + 1 if prev >= 0 else 0
            elif self.cursor_row > 0:
                self.cursor_row -= 1
                r = self.rows[self.cursor_row]
                self.cursor_col = max(r.end - r.start - 1, 0)

    def page(self, direction: int) -> None:
        self.move_cursor(rows=direction * max(self.scrollable_content_region.height - 1, 1))

    def home(self, end: bool = False) -> None:
        self.cursor_row = len(self.rows) - 1 if end else 0
        self.cursor_col = 0
        self._follow_cursor()

    def _follow_cursor(self) -> None:
        height = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)
        self.refresh()

    def toggle_mark(self) -> str:
        """First press sets the start at the cursor; the second sets the end and selects.

        The span grows to whole words at both ends: quotes are read as words.
        """
        here = self.cursor_offset()
        if here is None:
            return "put the cursor on scratchpad text first (arrows, j/k)"
        section, offset = here
        if self.sections[section].name != "scratchpad":
            return "evidence comes from the scratchpad: move the cursor into it"
        if self.mark is None or self.mark[0] != section:
            self.mark = here
            self.selection = Span("scratchpad", offset, offset + 1)
            self.refresh()
            return "start marked: move to the end and press m again"
        start, end = sorted((self.mark[1], offset))
        text = self.sections[section].text
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        self.selection = Span("scratchpad", start, end)
        self.mark = None
        self.refresh()
        return "passage marked: press e to attach it to a category"

    def clear_selection(self) -> None:
        self.mark = None
        self.selection = None
        self.found = None
        self.refresh()

    def find(self, query: str) -> Span | None:
        """Select the next match of ``query`` (case-insensitive) after the cursor, wrapping."""
        if not query or not self.sections:
            return None
        needle = visible(query).lower()
        here = self.cursor_offset() or (0, -1)
        order = list(range(here[0], len(self.sections))) + list(range(0, here[0] + 1))
        for n, index in enumerate(order):
            haystack = self.sections[index].text.lower()
            begin = here[1] + 1 if n == 0 else 0
            hit = haystack.find(needle, begin)
            if n == len(order) - 1 and index == here[0]:
                hit = haystack.find(needle, 0)
            if hit >= 0:
                name = self.sections[index].name
                self.found = Span(name, hit, hit + len(needle))
                self.selection = self.found if name == "scratchpad" else None
                self.mark = None
                self.move_to_offset(index, hit)
                return self.found
        return None

    def selected_quote(self) -> tuple[int, int, str] | None:
        if self.selection is None or self.selection.section != "scratchpad":
            return None
        index = self.section_index("scratchpad")
        assert index is not None
        text = self.sections[index].text
        return (
            self.selection.start,
            self.selection.end,
            text[self.selection.start : self.selection.end],
        )

    # -- rendering -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        strips = super().render_lines(crop)
        if self.item_id is not None and self.rendered_item_id != self.item_id:
            self.rendered_item_id = self.item_id
            self.rendered_at = time.perf_counter()
            self.rendered_cpu = time.thread_time()
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = round(self.scroll_y) + y
        if index >= len(self.rows):
            return Strip.blank(width)
        row = self.rows[index]
        cursor = index == self.cursor_row
        if row.kind == BLANK:
            return Strip.blank(width)
        gutter = f"{row.block:>3} " if row.block and row.kind == TEXT else " " * GUTTER
        segments = [Segment(gutter, _GUTTER)]
        if row.kind == TITLE:
            segments.append(Segment(row.label, _TITLE + (_CURSOR if cursor else Style())))
        elif row.kind in (TAG_OPEN, TAG_CLOSE):
            segments.append(Segment(row.label, _DIM + (_CURSOR if cursor else Style())))
        else:
            segments += self._text_segments(row, cursor)
        used = sum(cell_len(seg.text) for seg in segments)
        if used > width:
            return Strip(segments).crop(0, width)
        if used < width:
            segments.append(Segment(" " * (width - used)))
        return Strip(segments, width)

    def _text_segments(self, row: Row, cursor: bool) -> list[Segment]:
        section = self.sections[row.section]
        text = section.text
        start, end = row.start, row.end
        if start == end:
            return [Segment(" ", _CURSOR)] if cursor else []
        ranges: list[tuple[int, int, Style]] = []
        for m in TAG.finditer(text, start, end):
            ranges.append((m.start(), m.end(), _DIM))
        for span in self.evidence:
            if span.section == section.name:
                ranges.append((span.start, span.end, SPAN_STYLES.get(span.kind, _EVIDENCE)))
        if self.found is not None and self.found.section == section.name:
            ranges.append((self.found.start, self.found.end, _FOUND))
        if self.selection is not None and self.selection.section == section.name:
            ranges.append((self.selection.start, self.selection.end, _MARK))
        if cursor:
            at = start + min(self.cursor_col, end - start - 1)
            ranges.append((at, at + 1, _CURSOR))
        cuts = {start, end}
        for a, b, _ in ranges:
            if a < end and b > start:
                cuts.add(max(a, start))
                cuts.add(min(b, end))
        points = sorted(cuts)
        segments = []
        for a, b in zip(points, points[1:], strict=False):
            style = Style()
            for ra, rb, rstyle in ranges:
                if ra <= a and b <= rb:
                    style += rstyle
            segments.append(Segment(text[a:b], style))
        return segments

    def visible_lines(self) -> list[str]:
        """The plain text of the rows on screen (what a reader sees, for tests)."""
        height = self.scrollable_content_region.height
        return [self.render_line(y).text for y in range(height)]
