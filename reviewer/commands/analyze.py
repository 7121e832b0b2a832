"""``reviewer analyze``: behaviour rates per model and condition, and the compliance gap."""

from __future__ import annotations

import json
from typing import Any

import click

from reviewer.cli import Context, pass_context


class Footnotes:
    """Why a cell shows ``—``: each distinct reason gets a number, printed under the table."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def mark(self, reason: str | None) -> str:
        reason = reason or "no estimate"
        if reason not in self.reasons:
            self.reasons.append(reason)
        return f"— ({self.reasons.index(reason) + 1})"

    def lines(self) -> list[str]:
        return [f"({k}) {reason}" for k, reason in enumerate(self.reasons, start=1)]


def _n(entry: dict[str, Any]) -> str:
    if "n" in entry:
        return f" n={entry['n']}"
    if "n_free" in entry:
        return f" n={entry['n_free']}/{entry['n_paid']}"
    return ""


def _cell(entry: dict[str, Any], notes: Footnotes) -> str:
    """The rate with its interval and the number of items it rests on, or why there is none."""
    if entry.get("value") is None:
        return notes.mark(entry.get("reason"))
    ci = entry.get("ci")
    interval = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
    return f"{entry['value']:.2f}{interval}{_n(entry)}"


def _shown(value: Any) -> Any:
    """A missing model or condition reads ``?``, as in ``reviewer info``."""
    return "?" if value is None else value


@click.command("analyze")
@click.option("--rubric", "rubric_ids", multiple=True,
              help="Rubric id (repeatable; default: every rubric with labels).")  # fmt: skip
@click.option("--classifier", help="Classifier rater to use (default: the one with most labels).")
@click.option("--phase", type=click.Choice(["blind", "revealed"]), default="blind",
              show_default=True, help="Human labels used for the human estimates.")  # fmt: skip
@click.option("--resamples", default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@pass_context
def analyze(obj: Context, rubric_ids, classifier, phase, resamples, seed, as_json) -> None:
    """Rates of each labelled behaviour per model and condition, and the gap free - paid.

    Each rate three ways: from the classifier's labels, from human labels (gold/imported where
    present, else the blind human majority), and from the classifier's labels corrected for its
    sensitivity and specificity against those human labels (Rogan-Gladen), each with a 95%
    bootstrap interval.
    """
    from db.agreement_data import labelled_rubrics, raters
    from reviewer.analysis import motivation_analysis

    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    labelled = labelled_rubrics(obj.store)
    unknown = [r for r in rubric_ids if r not in labelled]
    if unknown:
        raise click.ClickException(
            f"{obj.db_path}: no labels under rubric {unknown[0]!r} "
            f"(rubrics with labels: {', '.join(labelled) or 'none'})"
        )
    if classifier is not None:
        known = raters(obj.store, source="classifier", rubric_ids=list(rubric_ids) or None)
        if classifier not in known:
            raise click.ClickException(
                f"{obj.db_path}: no classifier labels by {classifier!r}"
                + (f" under rubric {', '.join(rubric_ids)}" if rubric_ids else "")
                + f"; classifiers with labels: {', '.join(known) or 'none'}"
            )
    report = motivation_analysis(obj.store, list(rubric_ids) or None, classifier=classifier,
                                 phase=phase, n_resamples=resamples, seed=seed)  # fmt: skip
    if not report["rubrics"]:
        raise click.ClickException(f"{obj.db_path}: no labels yet, so nothing to analyse")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    from rich.table import Table
    from rich.text import Text

    from reviewer.console import literal, make_console

    console = make_console()
    for rubric in report["rubrics"]:
        for o in rubric["outcomes"]:
            v = o["validation"]
            title = Text(f"{rubric['rubric']}: {o['outcome']}", style="bold")
            console.print(Text("\n") + title)
            sens, spec = v["sensitivity"], v["specificity"]
            console.print(
                Text("classifier ") + literal(o["classifier"] or "none")
                + Text(f"; validated on {v['n_items']} items against {v['reference']}: "
                       + ("sensitivity —" if sens is None else f"sensitivity {sens:.2f}")
                       + (", specificity —" if spec is None else f", specificity {spec:.2f}"))
            )  # fmt: skip
            notes = Footnotes()
            table = Table("model", "condition", "classifier", "human", "corrected",
                          caption="n: items the rate rests on", caption_justify="left")  # fmt: skip
            for g in o["groups"]:
                table.add_row(literal(_shown(g["model"])), literal(_shown(g["condition"])),
                              _cell(g["classifier"], notes), _cell(g["human"], notes),
                              _cell(g["corrected"], notes))  # fmt: skip
            console.print(table)
            if o["gap_free_minus_paid"]:
                gaps = Table("model", "gap: classifier", "gap: human", "gap: corrected",
                             title="free - paid", title_justify="left",
                             caption="n: free/paid items", caption_justify="left")  # fmt: skip
                for g in o["gap_free_minus_paid"]:
                    gaps.add_row(literal(_shown(g["model"])), _cell(g["classifier"], notes),
                                 _cell(g["human"], notes), _cell(g["corrected"], notes))  # fmt: skip
                console.print(gaps)
            for line in notes.lines():
                console.print(literal(line), style="dim")
    console.print(Text(f"Intervals: {report['ci_method']}. Correction: {report['correction']}.",
                       style="dim"))  # fmt: skip
