"""The rubric panel, the reveal panel, the label bar and the progress line.

Each renders plain ``rich.text.Text`` built piece by piece, never markup strings, because
classifier reasons and quotes are model output and must show literally too.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual.widgets import Static

from db.models import LabelEvent
from reviewer.tui.draft import Draft, format_value
from reviewer.tui.text import visible
from rubrics.model import Rubric

MODE_STYLES = {"BLIND": "bold black on green", "REVEALED": "bold black on yellow",
               "AUDIT": "bold white on magenta"}  # fmt: skip


def _one_line(text: str) -> str:
    return " ".join(text.split())


class RubricPanel(Static):
    """Each field's question and categories, with keys, definitions and the current choice."""

    def show(self, rubric: Rubric, draft: Draft, *, definitions: bool = True) -> None:
        parts: list = [Text.assemble((rubric.title, "bold"), (f"  v{rubric.version}", "dim"))]
        for f in rubric.fields:
            parts.append(Text(f"\n{f.question}", "bold cyan"))
            for c in f.categories:
                chosen = draft.is_chosen(f, c.id)
                box = ("[x]" if chosen else "[ ]") if f.kind == "multi" else ("(*)" if chosen else "( )")  # fmt: skip
                parts.append(Text.assemble((f" {c.key} ", "bold reverse" if chosen else "bold"),
                                           (f" {box} {c.label}", "bold green" if chosen else "")))  # fmt: skip
                if definitions:
                    parts.append(Padding(Text(_one_line(c.definition), "dim"), (0, 0, 0, 8)))
        self.update(Group(*parts))


class RevealPanel(Static):
    """After commit: the annotator's labels beside the classifiers' and other people's."""

    def show(self, rubric: Rubric, own_blind: dict[str, Any], own_revised: dict[str, Any],
             others: list[LabelEvent] | None) -> None:  # fmt: skip
        if others is None:
            self.update(Text("Other labels stay hidden until you commit yours.", "dim italic"))
            return
        out = Text()
        out.append("Revealed labels\n", "bold yellow")
        if not others:
            out.append("No classifier or other label on this item.\n", "dim")
        for f in rubric.fields:
            rows = [e for e in others if e.field == f.id]
            out.append(f"\n{f.id}\n", "bold cyan")
            if f.id in own_blind:
                out.append("  you, blind     ", "bold")
                out.append(format_value(f, own_blind[f.id]) + "\n")
            if f.id in own_revised:
                out.append("  you, revised   ", "bold")
                out.append(format_value(f, own_revised[f.id]) + "\n")
            for e in rows:
                out.append(f"  {e.source} ", "magenta" if e.source == "classifier" else "blue")
                out.append(visible(e.rater)[:40] + "\n", "dim")
                out.append("    " + visible(format_value(f, e.value)), "bold")
                if e.score is not None:
                    out.append(f"  votes {e.score:.2f}", "yellow")
                out.append("\n")
                if e.scores and f.kind == "multi":
                    parts = [f"{k} {v:.2f}" for k, v in e.scores.items() if isinstance(v, int | float)]  # fmt: skip
                    if parts:
                        out.append("    " + visible(", ".join(parts)) + "\n", "dim")
                for span in e.evidence or []:
                    quote = _one_line(str(span.get("text", span.get("quote", ""))))
                    out.append(f"    \u201c{visible(quote)[:200]}\u201d\n", "italic")
                if e.note:
                    out.append(f"    {visible(_one_line(e.note))[:300]}\n", "dim")
        self.update(out)


class LabelBar(Static):
    """The mode badge and the current choice for every field."""

    def show(self, mode: str, rubric: Rubric, draft: Draft, *, flagged: bool = False,
             note: str = "") -> None:  # fmt: skip
        out = Text()
        out.append(f" {mode} ", MODE_STYLES.get(mode, "reverse"))
        for f in rubric.fields:
            out.append(f"  {f.id}: ", "bold")
            value = draft.values.get(f.id)
            if value is None and f.kind != "multi":
                out.append("?", "bold red")
            else:
                out.append(format_value(f, value if value is not None else []), "green")
        if draft.evidence:
            out.append(f"  evidence {len(draft.evidence)}", "yellow")
        if flagged:
            out.append("  FLAGGED", "bold red")
        if note:
            out.append(f"\n {note}", "italic")
        self.update(out)


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressLine(Static):
    """done / total, pace and time left: durations only, never a wall-clock time."""

    def show(self, *, done: int, total: int, session_items: int, session_seconds: float,
             queue: str, item_id: int | None) -> None:  # fmt: skip
        out = Text()
        out.append(f" {done:,}/{total:,} done", "bold")
        if total:
            out.append(f" ({done / total:.1%})")
        if session_items and session_seconds > 0:
            per_item = session_seconds / session_items
            out.append(f"  pace {3600 / per_item:,.0f}/h ({per_item:.1f}s/item)")
            out.append(f"  left ~{format_duration(per_item * max(total - done, 0))}")
        else:
            out.append("  pace -", "dim")
        out.append(f"  queue: {queue}", "dim")
        if item_id is not None:
            out.append(f"  item #{item_id}", "dim")
        self.update(out)
