"""The analysis screen: the rates of ``reviewer analyze`` and ``reviewer report`` in the
terminal, per outcome a table (classifier, human, corrected, with 95% intervals), the free -
paid gaps, and bars; the six-way breakdown as stacked bars per model and tier.

The numbers come from ``reviewer.analysis`` (computed in a worker thread with its own
database connection), never recomputed here; the screen only lays them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from reviewer.console import literal

METHODS = ("classifier", "human", "corrected")
METHOD_STYLES = {"classifier": "grey62", "human": "dodger_blue2", "corrected": "red3"}
SIX_WAY = (
    ("refused", "yes", "blue", "▓"),
    ("refused", "no", "bright_blue", "░"),
    ("partial", "yes", "dark_orange3", "▓"),
    ("partial", "no", "orange1", "░"),
    ("full", "yes", "red3", "▓"),
    ("full", "no", "light_coral", "░"),
)
BAR_WIDTH = 28


def cell_text(entry: dict[str, Any]) -> str:
    """An estimate as ``reviewer analyze`` prints it, or ``—`` and why not."""
    if entry.get("value") is None:
        return f"— {entry.get('reason') or 'no estimate'}"
    ci = entry.get("ci")
    text = f"{entry['value']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    if "N" in entry:
        return text + f" n={entry['n']}/{entry['N']}"
    if "n_free" in entry:
        return text + f" n={entry['n_free']}/{entry['n_paid']}"
    return text + (f" n={entry['n']}" if "n" in entry else "")


def rate_bar(
    entry: dict[str, Any], width: int = BAR_WIDTH, low: float = 0.0, high: float = 1.0
) -> Text:
    """The estimate as a bar on [low, high]: the interval drawn as ─, the value as █."""
    line = [" "] * width
    if entry.get("value") is None:
        return Text("·" * width, style="dim")

    def at(x: float) -> int:
        return min(width - 1, max(0, round((x - low) / (high - low) * (width - 1))))

    ci = entry.get("ci") or [entry["value"], entry["value"]]
    for k in range(at(ci[0]), at(ci[1]) + 1):
        line[k] = "─"
    line[at(ci[0])], line[at(ci[1])] = "├", "┤"
    line[at(entry["value"])] = "█"
    if low < 0 < high:
        zero = at(0.0)
        if line[zero] == " ":
            line[zero] = "┊"
    return Text("".join(line))


def _group_name(g: dict[str, Any], columns: list[str]) -> str:
    return " · ".join("?" if g.get(c) is None else str(g[c]) for c in columns)


def _bar_lines(out: Text, label: str, width: int, entry: dict[str, Any], low: float = 0.0) -> None:
    """Three lines, one per way of estimating, under the group's name."""
    for m in METHODS:
        out.append_text(literal(f"{label if m == METHODS[0] else '':<{width}} "))
        out.append(f"{m:<10} ")
        bar = rate_bar(entry[m], low=low)
        bar.stylize(METHOD_STYLES[m])
        out.append_text(bar)
        out.append(f" {cell_text(entry[m]).split(' n=')[0]}\n")


class AnalysisLoaded(Message):
    def __init__(
        self,
        outcomes: list[tuple[str, dict[str, Any]]],
        six_way: dict | None,
        error: str | None = None,
    ) -> None:
        self.outcomes = outcomes
        self.six_way = six_way
        self.error = error
        super().__init__()


class AnalysisScreen(Screen):
    """Rates per model and tier, three ways, with the free - paid gap, for every outcome."""

    DEFAULT_CSS = """
    AnalysisScreen #analysis-status { height: auto; padding: 0 1; }
    AnalysisScreen #analysis-body { height: 1fr; }
    AnalysisScreen #analysis-outcomes { width: 32; }
    AnalysisScreen #analysis-rates { height: auto; max-height: 14; }
    AnalysisScreen #analysis-gaps { height: auto; max-height: 8; }
    AnalysisScreen #analysis-bars-box { height: 1fr; }
    AnalysisScreen #analysis-bars { height: auto; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        store_path: str | Path,
        *,
        reference: str = "gold",
        min_humans: int = 1,
        design: str | None = None,
        assume_random: bool = False,
    ) -> None:
        super().__init__()
        self.store_path = Path(store_path)
        self.options = dict(
            reference=reference, min_humans=min_humans, design=design, assume_random=assume_random
        )
        self.entries: list[tuple[str, dict[str, Any]]] = []
        self.six_way: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Computing the rates…", id="analysis-status", markup=False)
        with Horizontal(id="analysis-body"):
            yield OptionList(id="analysis-outcomes")
            with Vertical():
                yield DataTable(id="analysis-rates", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="analysis-gaps", cursor_type="row")
                with VerticalScroll(id="analysis-bars-box"):
                    yield Static("", id="analysis-bars")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#analysis-outcomes", OptionList).border_title = "Outcomes"
        self.compute()

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        from db import Store
        from db.agreement_data import labelled_rubrics_of
        from db.labels import current_label_columns
        from reviewer.analysis import Attributes, motivation_analysis, six_way_analysis

        try:
            store = Store(self.store_path)
            try:
                # The labels and transcripts are read once, column-wise, for both analyses.
                read = {
                    "current": current_label_columns(store, scores=False),
                    "attributes": Attributes.read(store),
                }
                report = motivation_analysis(store, **self.options, **read)
                outcomes = [
                    (f"{r['rubric']}: {o['outcome']}", o)
                    for r in report["rubrics"]
                    for o in r["outcomes"]
                ]
                six = None
                labelled = labelled_rubrics_of(read["current"])
                if "compliance" in labelled and "goal_guarding" in labelled:
                    six = six_way_analysis(store, **self.options, **read)
            finally:
                store.close()
        except Exception as exc:  # shown on screen rather than crashing the app
            self.post_message(AnalysisLoaded([], None, error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(AnalysisLoaded(outcomes, six))

    @on(AnalysisLoaded)
    def _loaded(self, message: AnalysisLoaded) -> None:
        status = self.query_one("#analysis-status", Static)
        if message.error:
            status.update(Text(f"Could not compute the rates: {message.error}"))
            return
        self.entries, self.six_way = message.outcomes, message.six_way
        if not self.entries:
            status.update(Text("No labels yet: nothing to analyse."))
            return
        first = self.entries[0][1]
        ref, design = first["reference"], first["design"]
        line = Text(f"reference {ref['name']}; design: {design['source']}")
        if design["status"] == "unknown":
            line.append(
                " (unknown: corrected withheld; --assume-random or a queue's design)",
                style="yellow",
            )
        line.append(". 95% intervals; bars: ├─┤ the interval, █ the estimate.")
        status.update(line)
        outcomes = self.query_one("#analysis-outcomes", OptionList)
        outcomes.clear_options()
        outcomes.add_options([Option(literal(name)) for name, _ in self.entries])
        if self.six_way is not None:
            outcomes.add_option(Option("six-way: compliance × alignment faking"))
        outcomes.highlighted = 0
        self.show(0)

    @on(OptionList.OptionHighlighted, "#analysis-outcomes")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show(event.option_index)

    def show(self, index: int) -> None:
        if index >= len(self.entries):
            self.show_six_way()
            return
        name, outcome = self.entries[index]
        by = [
            c
            for c in ("dataset", "prompt_variant", "model", "condition")
            if any(c in g for g in outcome["groups"])
        ]
        others = [c for c in by if c != "condition"]
        rates = self.query_one("#analysis-rates", DataTable)
        rates.clear(columns=True)
        rates.add_columns(*by, *METHODS)
        for g in outcome["groups"]:
            rates.add_row(
                *(literal("?" if g.get(c) is None else str(g[c])) for c in by),
                *(literal(cell_text(g[m])) for m in METHODS),
            )
        gaps = self.query_one("#analysis-gaps", DataTable)
        gaps.clear(columns=True)
        gaps.add_columns(*others, *(f"gap free - paid: {m}" for m in METHODS))
        for g in outcome["gap_free_minus_paid"]:
            gaps.add_row(
                *(literal("?" if g.get(c) is None else str(g[c])) for c in others),
                *(literal(cell_text(g[m])) for m in METHODS),
            )
        bars = Text()
        bars.append_text(literal(f"{name}: rate", style="bold"))
        bars.append("\n")
        width = max([len(_group_name(g, by)) for g in outcome["groups"]] + [10])
        for g in outcome["groups"]:
            _bar_lines(bars, _group_name(g, by), width, g)
        if outcome["gap_free_minus_paid"]:
            bars.append("\nfree - paid, on [-1, 1] (┊ is 0)\n", style="bold")
            for g in outcome["gap_free_minus_paid"]:
                _bar_lines(bars, _group_name(g, others), width, g, low=-1.0)
        self.query_one("#analysis-bars", Static).update(bars)

    def show_six_way(self) -> None:
        six = self.six_way or {"cells": [], "by": []}
        by = list(six["by"])
        rates = self.query_one("#analysis-rates", DataTable)
        rates.clear(columns=True)
        rates.add_columns(*by, "cell", *METHODS)
        order = {c["outcome"]: k for k, c in enumerate(six["cells"])}
        flat = sorted(
            (
                (tuple("?" if g.get(c) is None else str(g[c]) for c in by), cell, g)
                for cell in six["cells"]
                for g in cell["groups"]
            ),
            key=lambda r: (r[0], order[r[1]["outcome"]]),
        )
        for key, cell, g in flat:
            rates.add_row(
                *(literal(v) for v in key),
                literal(cell["outcome"]),
                *(literal(cell_text(g[m])) for m in METHODS),
            )
        self.query_one("#analysis-gaps", DataTable).clear(columns=True)
        shares: dict[tuple, dict[tuple[str, str], float]] = {}
        for key, cell, g in flat:
            value = g["classifier"].get("value")
            if value is not None:
                shares.setdefault(key, {})[tuple(cell["positive"].split("/"))] = value
        bars = Text()
        bars.append(
            "six-way breakdown from the classifier's labels (table: all three ways)\n", style="bold"
        )
        for level, af, style, mark in SIX_WAY:
            bars.append(
                f"{mark * 2} {level}, {'with' if af == 'yes' else 'without'} AF  ", style=style
            )
        bars.append("\n")
        width = max([len(" · ".join(k)) for k in shares] + [10])
        for key, parts in shares.items():
            bars.append_text(literal(f"{' · '.join(key):<{width}} "))
            used = 0
            for level, af, style, mark in SIX_WAY:
                n = round(parts.get((level, af), 0.0) * BAR_WIDTH)
                n = min(n, BAR_WIDTH - used)
                bars.append(mark * n, style=style)
                used += n
            bars.append("\n")
        self.query_one("#analysis-bars", Static).update(bars)
