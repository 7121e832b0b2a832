"""Small modal dialogs; each returns its answer through ``dismiss`` (None = cancelled)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rubrics.model import Rubric


class TextPrompt(ModalScreen[str | None]):
    """One line of text: enter answers, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, "bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommentDialog(TextPrompt):
    def __init__(self, unsaved: str = "") -> None:
        """``unsaved``: a comment that could not be saved before, offered again."""
        super().__init__("Comment on this item (enter saves, escape cancels)",
                         placeholder="why it is hard, what the rubric misses ...",
                         value=unsaved)  # fmt: skip


class FindDialog(TextPrompt):
    def __init__(self, last: str = "") -> None:
        super().__init__("Find in the transcript (enter: next match, then e marks it as evidence)",
                         value=last)  # fmt: skip


class JumpDialog(TextPrompt):
    def __init__(self) -> None:
        super().__init__("Jump to transcript id", placeholder="e.g. 1234")


class EvidenceDialog(ModalScreen[tuple[str, str] | None]):
    """Attach the marked passage to a category: press that category's key."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, rubric: Rubric, quote: str) -> None:
        super().__init__()
        self.rubric = rubric
        self.quote = quote

    def compose(self) -> ComposeResult:
        out = Text()
        out.append("Attach this passage as evidence for which category?\n\n", "bold")
        quote = " ".join(self.quote.split())
        out.append(f"\u201c{quote[:240]}{'...' if len(quote) > 240 else ''}\u201d\n\n", "italic")
        for f in self.rubric.fields:
            out.append(f"{f.id}\n", "cyan")
            for c in f.categories:
                out.append(f"  {c.key} ", "bold reverse")
                out.append(f" {c.label}\n")
        out.append("\nescape cancels", "dim")
        with Vertical(classes="dialog"):
            yield Static(out)

    def on_key(self, event: Key) -> None:
        if event.character is None:
            return
        for f in self.rubric.fields:
            category = f.category_for_key(event.character)
            if category is not None:
                event.stop()
                self.dismiss((f.id, category.id))
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
