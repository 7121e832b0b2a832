"""The statistics screen: agreement per field, and confusion matrices that open the
transcripts behind each cell (the auditor's way in to classifier errors).

Self-contained: give it a database path and a rubric id and push it. Statistics are computed
in a worker thread with its own database connection; the screen only renders results.
Selecting a transcript in a cell's list posts ``TranscriptChosen``; the labeler app opens
the cell's transcripts in audit mode from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from reviewer.agreement.bands import BAND_SOURCE
from reviewer.agreement.names import METRIC_NAMES
from reviewer.console import literal


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


class TranscriptChosen(Message):
    """An auditor picked a transcript from a confusion-matrix cell: the app opens the cell's
    ``items`` from that one on, in audit mode, judging ``rater`` on ``field``."""

    def __init__(
        self,
        transcript_id: int,
        *,
        items: list[int] | None = None,
        rater: str | None = None,
        field: str | None = None,
        title: str | None = None,
    ) -> None:
        self.transcript_id = transcript_id
        self.items = items
        self.rater = rater
        self.field = field
        self.title = title
        super().__init__()


@dataclass
class _FieldResult:
    report: dict[str, Any]
    cells: dict[int, dict[tuple[Any, Any], list[int]]]  # comparison index -> cell -> items


class StatsLoaded(Message):
    def __init__(self, fields: list[_FieldResult], error: str | None = None) -> None:
        self.fields = fields
        self.error = error
        super().__init__()


class TranscriptListScreen(Screen):
    """The transcripts in one confusion-matrix cell."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        title: str,
        transcripts: list[dict[str, Any]],
        *,
        rater: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__()
        self.heading = title
        self.transcripts = transcripts
        self.rater = rater
        self.field = field

    def compose(self) -> ComposeResult:
        yield Static(literal(self.heading), id="cell-title")
        options = [
            Option(
                literal(
                    f"#{t['id']}  {t['model'] or '?'} / {t['condition'] or '?'}  "
                    f"{' '.join((t['scratchpad'] or '').split())[:90]}"
                ),
                id=str(t["id"]),
            )
            for t in self.transcripts
        ]
        yield OptionList(*options, id="cell-transcripts")
        yield Footer()

    @on(OptionList.OptionSelected, "#cell-transcripts")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.post_message(
            TranscriptChosen(
                int(event.option.id),
                items=[t["id"] for t in self.transcripts],
                rater=self.rater,
                field=self.field,
                title=self.heading,
            )
        )


class StatsScreen(Screen):
    """Agreement tables and confusion matrices for one rubric."""

    DEFAULT_CSS = """
    StatsScreen #stats-status { height: auto; padding: 0 1; }
    StatsScreen #stats-body { height: 1fr; }
    StatsScreen #stats-lists { width: 36; }
    StatsScreen #stats-fields, StatsScreen #stats-comparisons { height: 1fr; }
    StatsScreen #stats-tables { width: 1fr; }
    StatsScreen #stats-agreement { height: auto; max-height: 16; }
    StatsScreen #stats-confusion { height: auto; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        store_path: str | Path,
        rubric_id: str,
        *,
        phase: str = "blind",
        resamples: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.store_path = Path(store_path)
        self.rubric_id = rubric_id
        self.phase = phase
        self.resamples = resamples
        self.seed = seed
        self.fields: list[_FieldResult] = []
        self.field_index = 0
        self.comparison_index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"Computing agreement for {self.rubric_id} ({self.phase} labels)…",
            id="stats-status",
            markup=False,
        )
        with Horizontal(id="stats-body"):
            with Vertical(id="stats-lists"):
                yield OptionList(id="stats-fields")
                yield OptionList(id="stats-comparisons")
            with Vertical(id="stats-tables"):
                yield DataTable(id="stats-agreement", cursor_type="row", zebra_stripes=True)
                yield Static("", id="stats-confusion-title", markup=False)
                yield DataTable(id="stats-confusion", cursor_type="cell")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stats-fields", OptionList).border_title = "Fields"
        self.query_one("#stats-comparisons", OptionList).border_title = "Rater vs reference"
        self.compute()

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        from db import Store
        from reviewer.agreement import analyse_field, confusion_items
        from reviewer.agreement.store_fields import store_field_specs

        try:
            store = Store(self.store_path)
            try:
                specs = store_field_specs(store, self.rubric_id, phase=self.phase)
                results = []
                for spec in specs:
                    report = analyse_field(spec, n_resamples=self.resamples, seed=self.seed)
                    cells = {
                        i: confusion_items(spec.ratings, v["rater"], v["reference"])
                        for i, v in enumerate(report["versus_reference"])
                    }
                    results.append(_FieldResult(report, cells))
            finally:
                store.close()
        except Exception as exc:  # shown on screen rather than crashing the app
            self.post_message(StatsLoaded([], error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(StatsLoaded(results))

    @on(StatsLoaded)
    def _loaded(self, message: StatsLoaded) -> None:
        status = self.query_one("#stats-status", Static)
        if message.error:
            status.update(Text(f"Could not compute agreement: {message.error}"))
            return
        self.fields = [f for f in message.fields if f.report["n_raters"] > 0]
        if not self.fields:
            status.update(Text(f"No labels for rubric {self.rubric_id} yet."))
            return
        status.update(
            Text(
                f"{self.rubric_id}: {len(self.fields)} field{'s' if len(self.fields) != 1 else ''}, "
                f"{self.phase} human labels; "
                f"95% item-bootstrap intervals ({self.resamples} resamples); "
                f"bands: {BAND_SOURCE}. Enter on a confusion cell lists its transcripts."
            )
        )
        fields = self.query_one("#stats-fields", OptionList)
        fields.clear_options()
        fields.add_options([Option(literal(f.report["field"])) for f in self.fields])
        fields.highlighted = 0
        self.show_field(0)

    @on(OptionList.OptionHighlighted, "#stats-fields")
    def _field_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.field_index:
            self.show_field(event.option_index)

    @on(OptionList.OptionHighlighted, "#stats-comparisons")
    def _comparison_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_confusion(event.option_index)

    def show_field(self, index: int) -> None:
        self.field_index = index
        report = self.fields[index].report
        table = self.query_one("#stats-agreement", DataTable)
        table.clear(columns=True)
        table.add_columns("coefficient", "value", "95% CI", "SE", "band / reason")
        for key, entry in report["overall"].items():
            ci = entry.get("ci")
            table.add_row(
                METRIC_NAMES.get(key, key),
                _fmt(entry["value"]),
                "—" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                _fmt(entry.get("se")),
                literal(entry.get("interpretation") or entry.get("reason") or ""),
            )
        for warning in report["warnings"]:
            table.add_row(Text("warning", style="yellow"), "", "", "", literal(warning))
        comparisons = self.query_one("#stats-comparisons", OptionList)
        comparisons.clear_options()
        comparisons.add_options(
            [
                Option(literal(f"{v['rater']} vs {v['reference']}"))
                for v in report["versus_reference"]
            ]
        )
        if report["versus_reference"]:
            comparisons.highlighted = 0
        self.show_confusion(0)

    def show_confusion(self, index: int) -> None:
        report = self.fields[self.field_index].report
        table = self.query_one("#stats-confusion", DataTable)
        title = self.query_one("#stats-confusion-title", Static)
        table.clear(columns=True)
        if not report["versus_reference"]:
            title.update("No rater to judge against a reference in this field.")
            return
        self.comparison_index = index
        v = report["versus_reference"][index]
        title.update(
            Text(
                f"{v['reference']} (rows) against {v['rater']} (columns): accuracy "
                f"{_fmt(v['accuracy'])}, precision {_fmt(v['precision'])}, recall "
                f"{_fmt(v['recall'])}, F1 {_fmt(v['f1'])}, AUROC {_fmt(v['auroc'])}"
            )
        )
        labels = v["confusion"]["labels"]
        table.add_column("reference \\ rater", key="label")
        for label in labels:
            table.add_column(literal(label), key=str(label))
        for label, row in zip(labels, v["confusion"]["matrix"], strict=True):
            table.add_row(literal(label), *(str(c) for c in row), key=str(label))

    @on(DataTable.CellSelected, "#stats-confusion")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        row, col = event.coordinate.row, event.coordinate.column
        result = self.fields[self.field_index]
        v = result.report["versus_reference"][self.comparison_index]
        labels = v["confusion"]["labels"]
        if col == 0 or row >= len(labels):
            return
        reference_label, rater_label = labels[row], labels[col - 1]
        items = result.cells[self.comparison_index].get((reference_label, rater_label), [])
        self.open_cell(
            f"{result.report['field']}: {v['reference']} said {reference_label}, "
            f"{v['rater']} said {rater_label} ({len(items)} transcripts)",
            items,
            rater=v["rater"],
            field=result.report["field"],
        )

    @work(thread=True, exclusive=True, group="cell")
    def open_cell(
        self, title: str, items: list[int], *, rater: str | None = None, field: str | None = None
    ) -> None:
        from db import Store
        from db.agreement_data import transcript_briefs

        store = Store(self.store_path)
        try:
            briefs = transcript_briefs(store, items)
        finally:
            store.close()
        self.app.call_from_thread(
            self.app.push_screen, TranscriptListScreen(title, briefs, rater=rater, field=field)
        )
