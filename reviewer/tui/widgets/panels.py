"""The rubric panel, the reveal panel, the label bar and the progress line.

Each renders plain ``rich.text.Text`` built piece by piece, never markup strings, because
classifier reasons and quotes are model output and must show literally too.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from db.models import LabelEvent
from reviewer.tui.draft import Draft, format_value
from reviewer.tui.text import visible
from reviewer.tui.widgets.lines_view import LinesView
from rubrics.model import Rubric

MODE_STYLES = {
    "BLIND": "bold black on green",
    "REVEALED": "bold black on yellow",
    "AUDIT": "bold white on magenta",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SidePanel(LinesView):
    """Revealed labels (once allowed) above the rubric: fields, keys, definitions, choices."""

    _shown: tuple | None = None
    revealed = False

    def show(
        self,
        rubric: Rubric,
        draft: Draft,
        *,
        own_blind: dict[str, Any],
        own_revised: dict[str, Any],
        others: list[LabelEvent] | None,
        rubric_hash: str,
        comments: list[tuple[str, str]] = (),
        warnings: list[dict[str, Any]] = (),
    ) -> None:
        key = (
            rubric_hash,
            repr(sorted(draft.values.items())),
            repr(own_blind),
            repr(own_revised),
            None if others is None else [e.id for e in others],
            repr(comments),
            repr(warnings),
        )
        if key == self._shown:
            return
        same_item_view = self._shown is not None and self._shown[4] == key[4]
        self._shown = key
        self.revealed = others is not None
        blocks: list = []
        if warnings:
            blocks.append((None, evidence_warnings(warnings)))
        if others is not None:
            reveal = reveal_renderable(rubric, own_blind, own_revised, others)
            blocks.append((None, Group(reveal, Text(""))))
        else:
            blocks.append(
                ("hidden", Text("Other labels stay hidden until you commit yours.\n", "dim italic"))
            )
        if comments:
            blocks.append((None, comments_renderable(comments)))
        blocks.append((key[:2], rubric_renderable(rubric, draft)))
        self.set_blocks(blocks, keep_scroll=same_item_view)

    def show_adjudication(
        self, rubric: Rubric, draft: Draft, bundle: Any, *, rubric_hash: str
    ) -> None:
        """Every rater's labels side by side, then the rubric to choose the decision with."""
        others = bundle.others or []
        key = (
            "adjudicate",
            rubric_hash,
            bundle.id,
            repr(sorted(draft.values.items())),
            [e.id for e in others + bundle.own],
        )
        if key == self._shown:
            return
        same_item_view = self._shown is not None and self._shown[:3] == key[:3]
        self._shown = key
        self.revealed = True
        comments = [(e.rater, e.note or "") for e in bundle.all_comments]
        blocks: list = [(None, adjudication_renderable(rubric, bundle.own + others))]
        if comments:
            blocks.append((None, comments_renderable(comments)))
        blocks.append(
            (None, Text("\nYour decision (keys below; enter asks for the reason)", "bold yellow"))
        )
        blocks.append((key[:4], rubric_renderable(rubric, draft, definitions=False)))
        self.set_blocks(blocks, keep_scroll=same_item_view)


def evidence_warnings(spans: list[dict[str, Any]]) -> Text:
    out = Text()
    for span in spans:
        out.append(
            f"! evidence on {span.get('field')}={span.get('category')}, which you did "
            "not choose (x on it removes it)\n",
            "bold red",
        )
    return out


def comments_renderable(comments: list[tuple[str, str]]) -> Group:
    """Comments in full, with their authors."""
    parts: list = [Text("\nComments", "bold cyan")]
    for who, text in comments:
        parts.append(Text(f"  {visible(who)[:60]}", "bold"))
        parts.append(Padding(Text(visible(text)), (0, 0, 0, 4)))
    return Group(*parts)


def _ids(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    return "-" if value is None else str(value)


def adjudication_renderable(rubric: Rubric, events: list[LabelEvent]) -> Group:
    """Per field, one row per rater and source: blind, revised, decision; votes; evidence."""
    parts: list = [Text("Every label on this item", "bold yellow")]
    labels = [e for e in events if not e.field.startswith("_")]
    for f in rubric.fields:
        table = Table(
            box=None,
            pad_edge=False,
            show_header=True,
            expand=True,
            title=f.id,
            title_style="bold cyan",
            title_justify="left",
        )
        table.add_column("who", ratio=3, overflow="fold")
        table.add_column("blind", ratio=3, overflow="fold")
        table.add_column("revised", ratio=2, overflow="fold")
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        extras: list = []
        for e in sorted((e for e in labels if e.field == f.id), key=lambda e: e.id):
            row = rows.setdefault((e.source, e.rater), {})
            column = {"blind": "blind", "revealed": "revised"}.get(e.phase or "", "blind")
            value = visible(_ids(e.value))
            if e.score is not None:
                value += f" ({e.score:.2f})"
            if e.source == "adjudication":
                value += " [decision]"
            row[column] = value
            who = f"{e.source} {visible(e.rater)[:30]}"
            for span in e.evidence or []:
                quote = _one_line(str(span.get("text", span.get("quote", ""))))
                extras.append(Text(f"  {who}: \u201c{visible(quote)[:160]}\u201d", "italic"))
            if e.scores:
                shares = ", ".join(
                    f"{visible(str(k))} {v:.2f}"
                    for k, v in sorted(e.scores.items())
                    if isinstance(v, int | float)
                )
                if shares:
                    extras.append(Text(f"  {who} votes: {shares}", "dim"))
            if e.note:
                extras.append(Text(f"  {who}: {visible(_one_line(e.note))[:300]}", "dim"))
        for (source, rater), row in rows.items():
            style = {"classifier": "magenta", "adjudication": "bold yellow"}.get(source, "blue")
            table.add_row(
                Text(f"{source} {visible(rater)[:30]}", style),
                row.get("blind", "-"),
                row.get("revised", "-"),
            )
        if not rows:
            table.add_row(Text("no labels", "dim"), "", "")
        parts += [Text(""), table, *extras]
    return Group(*parts)


def rubric_renderable(rubric: Rubric, draft: Draft, *, definitions: bool = True) -> Group:
    """Each field's question and categories, with keys, definitions and the current choice."""
    parts: list = [Text.assemble((rubric.title, "bold"), (f"  v{rubric.version}", "dim"))]
    for f in rubric.fields:
        parts.append(Text(f"\n{f.question}", "bold cyan"))
        for c in f.categories:
            chosen = draft.is_chosen(f, c.id)
            box = (
                ("[x]" if chosen else "[ ]") if f.kind == "multi" else ("(*)" if chosen else "( )")
            )
            parts.append(
                Text.assemble(
                    (f" {c.key} ", "bold reverse" if chosen else "bold"),
                    (f" {box} {c.label}", "bold green" if chosen else ""),
                )
            )
            if definitions:
                parts.append(Padding(Text(_one_line(c.definition), "dim"), (0, 0, 0, 8)))
    return Group(*parts)


def reveal_renderable(
    rubric: Rubric, own_blind: dict[str, Any], own_revised: dict[str, Any], others: list[LabelEvent]
) -> Group:
    """After commit: the annotator's labels beside the classifiers' and other people's."""
    parts: list = [Text("Revealed labels", "bold yellow")]
    if not others:
        parts.append(Text("No classifier or other label on this item.", "dim"))
    for f in rubric.fields:
        parts.append(Text(f"\n{f.id}", "bold cyan"))
        if f.id in own_blind:
            parts.append(_who_value("you, blind", "bold", format_value(f, own_blind[f.id])))
        if f.id in own_revised:
            parts.append(_who_value("you, revised", "bold", format_value(f, own_revised[f.id])))
        for e in (e for e in others if e.field == f.id):
            who = f"{e.source} {visible(e.rater)[:60]}"
            style = "magenta" if e.source == "classifier" else "blue"
            value = visible(format_value(f, e.value))
            if e.score is not None:
                value += f"  (votes {e.score:.2f})"
            parts.append(_who_value(who, style, value))
            if e.scores and f.kind == "multi":
                ranked = sorted(
                    ((v, k) for k, v in e.scores.items() if isinstance(v, int | float) and v > 0),
                    reverse=True,
                )
                if ranked:
                    shares = ", ".join(f"{visible(k)} {v:.2f}" for v, k in ranked)
                    parts.append(Padding(Text(f"votes: {shares}", "dim"), (0, 0, 0, 4)))
            for span in e.evidence or []:
                quote = _one_line(str(span.get("text", span.get("quote", ""))))
                parts.append(
                    Padding(Text(f"\u201c{visible(quote)[:200]}\u201d", "italic"), (0, 0, 0, 4))
                )
            if e.note:
                parts.append(Padding(Text(visible(_one_line(e.note))[:300], "dim"), (0, 0, 0, 4)))
    return Group(*parts)


def _who_value(who: str, style: str, value: str):
    return Group(Text(f"  {who}", style), Padding(Text(value, "bold"), (0, 0, 0, 4)))


class LabelBar(Static):
    """The mode badge and the current choice for every field."""

    _shown: tuple | None = None

    def show(
        self,
        mode: str,
        rubric: Rubric,
        draft: Draft,
        *,
        flagged: bool = False,
        comments: int = 0,
        note: str = "",
    ) -> None:
        key = (mode, id(rubric), repr(draft.values), len(draft.evidence), flagged, comments, note)
        if key == self._shown:  # an unchanged bar costs no repaint
            return
        self._shown = key
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
        if comments:
            out.append(f"  comments {comments}", "cyan")
        out.append(f"\n {note}", "italic")
        self.update(out, layout=False)


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressLine(Static):
    """done / total, pace and time left: durations only, never a wall-clock time."""

    _shown: tuple | None = None

    def show(
        self,
        *,
        done: int,
        total: int,
        session_items: int,
        session_seconds: float,
        queue: str,
        item_id: int | None,
        skipped: int = 0,
    ) -> None:
        key = (done, total, session_items, session_seconds, queue, item_id, skipped)
        if key == self._shown:
            return
        self._shown = key
        out = Text()
        out.append(f" {done:,}/{total:,} done", "bold")
        if total:
            out.append(f" ({done / total:.1%})")
        if skipped:
            out.append(f", {skipped:,} skipped")
        if session_items and session_seconds > 0:
            per_item = session_seconds / session_items
            out.append(f"  pace {3600 / per_item:,.0f}/h ({per_item:.1f}s/item)")
            out.append(f"  left ~{format_duration(per_item * max(total - done, 0))}")
        else:
            out.append("  pace -", "dim")
        if item_id is not None:
            out.append(f"  item #{item_id}", "dim")
        out.append(f"  queue: {queue}", "dim")
        self.update(out, layout=False)
