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

from reviewer.tui.text import visible
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
        super().__init__(
            "Comment on this item (enter saves, escape cancels)",
            placeholder="why it is hard, what the rubric misses ...",
            value=unsaved,
        )


class FindDialog(TextPrompt):
    def __init__(self, last: str = "") -> None:
        super().__init__(
            "Find in the transcript (enter: next match, then e marks it as evidence)", value=last
        )


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


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: y answers yes, n or escape no."""

    BINDINGS = [Binding("escape,n", "answer(False)", "no"), Binding("y", "answer(True)", "yes")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, "bold"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ReasonDialog(ModalScreen[str | None]):
    """The adjudicator's reason for a decision: one line, required (escape cancels)."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, values: dict) -> None:
        super().__init__()
        self.decision = ", ".join(
            f"{k}={('/'.join(v) or 'none') if isinstance(v, list) else v}"
            for k, v in values.items()
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._text(), id="reason-title")
            yield Input(placeholder="e.g. the decisive passage is ...", id="reason-input")

    def _text(self, problem: str = "") -> Text:
        out = Text()
        out.append(f"Decision: {self.decision}\n", "bold")
        out.append("Why? One line, required (enter saves, escape cancels)")
        if problem:
            out.append(f"\n{problem}", "bold red")
        return out

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def reason_given(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())
        else:
            self.query_one("#reason-title", Static).update(
                self._text("A reason is required: type one line, or escape to cancel")
            )

    def action_cancel(self) -> None:
        self.dismiss(None)


class ErrorReasonDialog(ModalScreen[tuple[str, list[str], str] | None]):
    """Why the classifier was wrong: digits toggle reason codes, tab picks the field, the line
    below takes free text, enter saves (a code or a text is needed), escape cancels."""

    AUTO_FOCUS = ""  # digits choose codes until enter moves to the text line
    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("tab", "next_field", "field"),
        Binding("enter", "write", "text"),
    ]

    def __init__(self, rubric: Rubric, fields: list[str], preferred: str | None = None) -> None:
        super().__init__()
        self.rubric = rubric
        self.fields = fields
        self.field_index = fields.index(preferred) if preferred in fields else 0
        self.reasons = rubric.audit_reasons
        self.chosen: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._text(), id="error-reason-codes")
            yield Input(placeholder="free text (optional with a code)", id="error-reason-text")

    def _text(self, problem: str = "") -> Text:
        out = Text()
        out.append("Why was the classifier wrong?\n", "bold")
        out.append(f"field: {self.fields[self.field_index]}", "cyan")
        out.append("  (tab: another field)\n\n" if len(self.fields) > 1 else "\n\n", "dim")
        for i, reason in enumerate(self.reasons, start=1):
            mark = "[x]" if reason.id in self.chosen else "[ ]"
            out.append(f" {i} ", "bold reverse")
            out.append(
                f" {mark} {reason.label}\n", "bold green" if reason.id in self.chosen else ""
            )
        out.append(
            "\ndigits toggle a code; enter goes to the text line, enter again saves; "
            "escape cancels",
            "dim",
        )
        if problem:
            out.append(f"\n{problem}", "bold red")
        return out

    def on_key(self, event: Key) -> None:
        char = event.character
        if char and char.isdigit() and not self.query_one(Input).has_focus:
            index = int(char) - 1
            if 0 <= index < len(self.reasons):
                event.stop()
                event.prevent_default()
                self.chosen ^= {self.reasons[index].id}
                self.query_one("#error-reason-codes", Static).update(self._text())

    def action_write(self) -> None:
        self.query_one(Input).focus()

    def action_next_field(self) -> None:
        self.field_index = (self.field_index + 1) % len(self.fields)
        self.query_one("#error-reason-codes", Static).update(self._text())

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not self.chosen and not text:
            self.query_one("#error-reason-codes", Static).update(
                self._text("choose a code (a digit) or type a reason")
            )
            return
        codes = [r.id for r in self.reasons if r.id in self.chosen]
        self.dismiss((self.fields[self.field_index], codes, text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickDialog(ModalScreen[str | None]):
    """Pick one of a list: up/down and enter, escape cancels. Answers the choice's key."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, "bold"))
            yield OptionList(
                *[
                    Option(Text(visible(label)), id=str(i))
                    for i, (_, label) in enumerate(self.choices)
                ],
                id="pick-list",
            )

    def on_mount(self) -> None:
        from textual.widgets import OptionList

        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event) -> None:
        event.stop()
        self.dismiss(self.choices[int(event.option.id)][0])

    def action_cancel(self) -> None:
        self.dismiss(None)
