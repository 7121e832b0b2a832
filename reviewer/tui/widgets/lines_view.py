"""A scrollable panel that renders its content to lines once and then only copies them.

Updating a ``Static`` whose height depends on its content makes Textual lay out the whole
screen; this panel keeps a fixed geometry (the scrollbar is always there), so new content
costs one render of that content and nothing else.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.console import RenderableType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LinesView(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    LinesView { overflow-y: scroll; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._blocks: list[tuple[Hashable, RenderableType]] = []
        self._strips: list[Strip] = []
        self._rendered_width = -1
        self._cache: dict[tuple[Hashable, int], list[Strip]] = {}

    def set_content(self, content: RenderableType, *, keep_scroll: bool = False) -> None:
        self.set_blocks([(None, content)], keep_scroll=keep_scroll)

    def set_blocks(
        self, blocks: list[tuple[Hashable, RenderableType]], *, keep_scroll: bool = False
    ) -> None:
        """Show ``blocks`` one under another; a block with a key is rendered once per width."""
        self._blocks = blocks
        self._render_strips()
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False, immediate=True)

    def _render_block(self, key: Hashable, content: RenderableType, width: int) -> list[Strip]:
        if key is not None and (key, width) in self._cache:
            return self._cache[key, width]
        console = self.app.console
        options = console.options.update(width=width, height=None)
        strips = [Strip(line, width) for line in console.render_lines(content, options, pad=True)]
        if key is not None:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key, width] = strips
        return strips

    def _render_strips(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or not self.is_mounted:
            return
        self._strips = [
            strip
            for key, content in self._blocks
            for strip in self._render_block(key, content, width)
        ]
        self._rendered_width = width
        size = Size(width, len(self._strips))
        if size != self.virtual_size:
            self.set_reactive(LinesView.virtual_size, size)
            self._scroll_update(size)
        self.refresh()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._rendered_width:
            self._render_strips()

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if 0 <= index < len(self._strips):
            return self._strips[index].crop_extend(0, width, None)
        return Strip.blank(width)

    def text(self) -> str:
        """Every line of the content as plain text (for tests and screenshots)."""
        return "\n".join(strip.text.rstrip() for strip in self._strips)
