"""Every key of the labeler, including the current rubric's."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rubrics.model import Rubric

GENERAL_KEYS = [
    ("enter", "commit the label (blind), then reveal; enter again moves on (or saves a revision)"),
    ("u", "undo the last act: label, revision, skip, flag, comment (repeatable)"),
    ("s", "skip this item"),
    ("f", "flag / unflag this item"),
    ("c", "comment on this item"),
    ("/", "find text in the transcript (again: next match)"),
    ("m", "mark evidence: first press sets the start, second the end"),
    ("e", "attach the marked passage (or the last find) to a category"),
    ("x", "remove your evidence span under the cursor"),
    (
        "] / [",
        "jump to the next / previous highlight: your evidence, and after the reveal the "
        "classifier's quotes and other raters' spans",
    ),
    ("escape", "clear the mark"),
    ("p", "back to the previous item of this session, again: further back (your label is shown)"),
    ("r", "audit: tag why the classifier was wrong (reason codes and text)"),
    ("up/down, j/k", "move the cursor a line"),
    ("left/right", "move the cursor a word"),
    ("pgup/pgdn, home/end", "move a page / to the start or end"),
    ("v", "show / fold the system prompt (shift+up/down scroll it)"),
    (
        "ctrl+p",
        "command palette: switch rubric or queue, blind/audit mode, statistics, jump "
        "to item, search transcripts",
    ),
    ("?", "this help"),
    ("q", "quit (after every pending write is saved; asks first if a choice is not committed)"),
]


def keys_table(rubric: Rubric) -> Table:
    table = Table("key", "what it does", box=None, show_header=True, pad_edge=False)
    for f in rubric.fields:
        verb = "toggle" if f.kind == "multi" else "choose"
        for c in f.categories:
            table.add_row(Text(c.key, "bold"), Text(f"{f.id}: {verb} {c.label}"))
    for key, what in GENERAL_KEYS:
        table.add_row(Text(key, "bold"), Text(what))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def __init__(self, rubric: Rubric) -> None:
        super().__init__()
        self.rubric = rubric

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(Text(f"Keys ({self.rubric.id} v{self.rubric.version})", "bold"))
            yield Static(keys_table(self.rubric))

    def action_close(self) -> None:
        self.dismiss(None)
