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
    if "N" in entry:
        return f" n={entry['n']}/{entry['N']}"
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
    mark = ""
    if "clipped_from" in entry:
        mark = " " + notes.mark(
            "the correction fell outside [0, 1] and is shown at the bound; the interval is kept"
        ).removeprefix("— ")
    if entry.get("note"):
        mark += " " + notes.mark(entry["note"]).removeprefix("— ")
    return f"{entry['value']:.2f}{interval}{_n(entry)}{mark}"


def plan_line(plan: dict[str, Any]) -> str:
    """One line of the planner: how many more labelled items, and from which strata."""
    have, need = plan["labelled"], plan["needed"]
    if need is None:
        return f"no number of labels reaches width {plan['target_width']:g} ({plan['why']})"
    if plan.get("more", 0) == 0:
        return f"already within width {plan['target_width']:g} ({have} labelled)"
    where = ", ".join(f"{k}: {n}" for k, n in plan.get("by_stratum", {}).items())
    line = f"label about {plan['more']} more (to {need}) for width {plan['target_width']:g}"
    return (
        line
        + (f", from {where}" if where else "")
        + (f" ({plan['why']})" if plan.get("why") else "")
    )


def _shown(value: Any) -> Any:
    """A missing model or condition reads ``?``, as in ``reviewer info``."""
    return "?" if value is None else value


def _rate(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


GROUP_CHOICES = ("dataset", "prompt_variant", "model")


@click.command("analyze")
@click.option(
    "--rubric",
    "rubric_ids",
    multiple=True,
    help="Rubric id (repeatable; default: every rubric with labels).",
)
@click.option("--classifier", help="Classifier rater to use (default: the one with most labels).")
@click.option(
    "--reference",
    default="gold",
    show_default=True,
    help="The labels taken as the truth: gold (adjudicated, else unanimous blind "
    "humans), majority (strict majority of blind human labels) or a rater's name "
    "(e.g. an imported gold set; rater:NAME if it is called gold or majority).",
)
@click.option(
    "--min-humans",
    default=1,
    show_default=True,
    help="gold: blind humans needed for an unadjudicated item to count.",
)
@click.option(
    "--design",
    "design_queue",
    metavar="QUEUE",
    help="The queue that drew the human sample (default: the queue recorded for most "
    "reference items, or probabilities imported with a rater).",
)
@click.option(
    "--assume-random",
    is_flag=True,
    help="When the design is unknown, treat the labelled items as a simple random "
    "sample and show the corrected rate anyway (biased if they were not).",
)
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(GROUP_CHOICES),
    help="Group by these besides condition (repeatable; default: model).",
)
@click.option("--model", help="Only transcripts of this model.")
@click.option("--condition", help="Only transcripts of this condition.")
@click.option("--dataset", help="Only transcripts of this dataset.")
@click.option("--prompt-variant", help="Only transcripts of this prompt variant.")
@click.option(
    "--compare-variants",
    nargs=2,
    metavar="A B",
    help="Also the difference of gaps, variant A minus variant B, per model.",
)
@click.option(
    "--target-width",
    type=float,
    help="Planner: how many labelled items each group needs for a corrected interval "
    "this wide (e.g. 0.1).",
)
@click.option(
    "--pooled",
    is_flag=True,
    help="Pool the correction over all groups (one mean of reference - classifier for "
    "all): narrower, but biased if the classifier errs differently by group, e.g. by "
    "tier. Said in the output.",
)
@click.option(
    "--these-transcripts",
    is_flag=True,
    help="Estimate the rate among exactly these transcripts (the classifier labels them "
    "all), not the model's rate on prompts like them: intervals leave out the groups' "
    "own sampling variance.",
)
@click.option(
    "--six-way",
    is_flag=True,
    help="Instead: refused / partial / full, each with and without alignment-faking "
    "reasoning, per group (needs compliance and goal_guarding labels).",
)
@click.option(
    "--phase",
    type=click.Choice(["blind", "revealed"]),
    default="blind",
    show_default=True,
    help="Human labels used for the human estimates.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@pass_context
def analyze(
    obj: Context,
    rubric_ids,
    classifier,
    reference,
    min_humans,
    design_queue,
    assume_random,
    by,
    model,
    condition,
    dataset,
    prompt_variant,
    compare_variants,
    target_width,
    pooled,
    these_transcripts,
    six_way,
    phase,
    as_json,
) -> None:
    """Rates of each labelled behaviour per model and condition, and the gap free - paid.

    Each rate three ways: from the classifier's labels; from the reference labels of the
    human-labelled sample, weighted by the design that drew it; and corrected: the classifier's
    rate plus the design-weighted mean of (reference - classifier) over the sample (PPI++, a
    difference estimator), per group, with 95% intervals. When the design is unknown (items
    chosen by a queue that does not draw by chance, or labelled outside any queue), the
    corrected column is withheld unless --assume-random.

    \b
    reviewer analyze --design sample
    reviewer analyze --reference gold-106 --assume-random
    reviewer analyze --by prompt_variant --compare-variants base no-cot --target-width 0.1
    """
    from db.agreement_data import labelled_rubrics_of
    from reviewer.analysis import AnalysisError, motivation_analysis
    from reviewer.commands.stats import read_current_labels

    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    store = obj.store  # opened (and brought up to date) before a second connection opens
    attributes = _attributes_read_aside(obj.db_path)
    current = read_current_labels(store, scores=False)
    labelled = labelled_rubrics_of(current)
    unknown = [r for r in rubric_ids if r not in labelled]
    if unknown:
        raise click.ClickException(
            f"{obj.db_path}: no labels under rubric {unknown[0]!r} "
            f"(rubrics with labels: {', '.join(labelled) or 'none'})"
        )
    if classifier is not None:
        known = _raters(current, "classifier", list(rubric_ids) or labelled)
        if classifier not in known:
            raise click.ClickException(
                f"{obj.db_path}: no classifier labels by {classifier!r}"
                + (f" under rubric {', '.join(rubric_ids)}" if rubric_ids else "")
                + f"; classifiers with labels: {', '.join(known) or 'none'}"
            )
    if target_width is not None and not 0 < target_width < 2:
        raise click.ClickException(f"--target-width must be between 0 and 2, not {target_width}")
    if min_humans < 1:
        raise click.ClickException(f"--min-humans must be at least 1, not {min_humans}")
    filters = {
        k: v
        for k, v in (
            ("model", model),
            ("condition", condition),
            ("dataset", dataset),
            ("prompt_variant", prompt_variant),
        )
        if v is not None
    }
    if six_way:
        from reviewer.analysis import six_way_analysis

        try:
            report = six_way_analysis(
                obj.store,
                classifier=classifier,
                phase=phase,
                reference=reference,
                min_humans=min_humans,
                design=design_queue,
                assume_random=assume_random,
                by=tuple(by) or ("model",),
                filters=filters,
                current=current,
                attributes=attributes(),
            )
        except AnalysisError as exc:
            raise click.ClickException(f"{obj.db_path}: {exc}") from None
        if as_json:
            click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            _print_six_way(report)
        return
    try:
        report = motivation_analysis(
            obj.store,
            list(rubric_ids) or None,
            classifier=classifier,
            phase=phase,
            reference=reference,
            min_humans=min_humans,
            design=design_queue,
            assume_random=assume_random,
            by=tuple(by) or ("model",),
            filters=filters,
            compare_variants=tuple(compare_variants) if compare_variants else None,
            target_width=target_width,
            model_rate=not these_transcripts,
            pooled=pooled,
            current=current,
            attributes=attributes(),
        )
    except AnalysisError as exc:
        raise click.ClickException(f"{obj.db_path}: {exc}") from None
    if not report["rubrics"]:
        raise click.ClickException(f"{obj.db_path}: no labels yet, so nothing to analyse")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    _print(report)


def _attributes_read_aside(path):
    """Start reading every transcript's dataset, prompt variant, model and condition on a
    connection of its own, in a thread, while the labels are read (SQLite lets go of the
    interpreter while it reads, so the two use both cores: 0.4 s of 3.5 at 1M). Returns a
    function that waits for them and gives them, or raises what the reading raised."""
    import threading

    from reviewer.analysis import Attributes

    out: dict = {}

    def read() -> None:
        from db import Store

        try:
            store = Store(path)
            try:
                out["attributes"] = Attributes.read(store)
            finally:
                store.close()
        except BaseException as exc:  # handed to the caller, in its thread
            out["error"] = exc

    reader = threading.Thread(target=read, name="read transcript attributes", daemon=True)
    reader.start()

    def attributes():
        reader.join()
        if "error" in out:
            raise out["error"]
        return out["attributes"]

    return attributes


def _raters(current, source: str, rubric_ids: list[str]) -> list[str]:
    """The raters of a source with current labels under these rubrics (``raters``, from
    labels already read)."""
    import numpy as np

    wanted = [current.code("rubric", r) for r in rubric_ids]
    keep = np.isin(current.rubric, wanted) & (current.source == current.code("source", source))
    return sorted({current.raters[r] for r in set(current.rater[keep].tolist())})


def _print(report: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from reviewer.console import literal, make_console

    console = make_console()
    by = report["by"]
    if report.get("pooled"):
        console.print(
            Text(
                "correction pooled over all groups (--pooled): one mean of reference - "
                "classifier for every group, which assumes the classifier errs alike "
                "in each"
            ),
            style="yellow",
        )
    if report["filters"]:
        shown = ", ".join(f"{k}={v}" for k, v in report["filters"].items())
        console.print(Text("only transcripts with ") + literal(shown))
    for rubric in report["rubrics"]:
        for o in rubric["outcomes"]:
            v, ref, design = o["validation"], o["reference"], o["design"]
            console.print(Text("\n") + Text(f"{rubric['rubric']}: {o['outcome']}", style="bold"))
            line = (
                Text("reference: ")
                + literal(ref["name"])
                + Text(f" ({ref['rule']}), {ref['n_items']} items")
            )
            if ref["unresolved"]:
                line += Text(f", {ref['unresolved']} unresolved left out")
            console.print(line)
            for u in ref["unused"]:
                console.print(
                    Text("  not used: ")
                    + literal(f"{u['source']} rater {u['rater']}")
                    + Text(f" ({u['labels']} labels; --reference ")
                    + literal(u["rater"])
                    + Text(" to use them)"),
                    style="dim",
                )
            if design["source"] == "none":
                console.print(
                    Text(
                        "no reference labels yet: the human and corrected columns need "
                        "labelled items (see `reviewer queue create`)"
                    ),
                    style="yellow",
                )
            elif design["status"] == "unknown":
                console.print(
                    Text("design unknown: ")
                    + literal(design["note"] or "")
                    + Text("; corrected column withheld (--design QUEUE, or --assume-random)"),
                    style="yellow",
                )
            else:
                s = o["sample"]
                line = (
                    Text("design: ")
                    + literal(design["source"])
                    + Text(f"; {s['n']} labelled items with a classifier label")
                )
                if s["outside_design"]:
                    line += Text(f"; {s['outside_design']} labelled items outside it not used")
                console.print(line)
                if design["note"]:
                    console.print(
                        literal(design["note"]),
                        style="yellow" if design["status"] != "known" else "dim",
                    )
            console.print(
                Text("classifier ")
                + literal(o["classifier"] or "none")
                + Text(
                    f": sensitivity {_rate(v['sensitivity'], v['sensitivity_ci'])}, "
                    f"specificity {_rate(v['specificity'], v['specificity_ci'])} on "
                    f"{v['n_items']} items"
                    + (" (design-weighted)" if v["weighted"] else "")
                    + f"; classifier weight lambda {o['lambda']:.2f}"
                )
            )
            notes = Footnotes()
            table = Table(
                *by,
                "classifier",
                "human",
                "corrected",
                caption="n: items the rate rests on (corrected: labelled/all)",
                caption_justify="left",
            )
            needs = []
            for g in o["groups"]:
                table.add_row(
                    *(literal(_shown(g[c])) for c in by),
                    _cell(g["classifier"], notes),
                    _cell(g["human"], notes),
                    _cell(g["corrected"], notes),
                )
                if "plan" in g["corrected"]:
                    needs.append((g, g["corrected"]["plan"]))
            console.print(table)
            others = [c for c in by if c != "condition"]
            if o["gap_free_minus_paid"]:
                gaps = Table(
                    *others,
                    "gap: classifier",
                    "gap: human",
                    "gap: corrected",
                    title="free - paid",
                    title_justify="left",
                    caption="n: free/paid items",
                    caption_justify="left",
                )
                for g in o["gap_free_minus_paid"]:
                    gaps.add_row(
                        *(literal(_shown(g[c])) for c in others),
                        _cell(g["classifier"], notes),
                        _cell(g["human"], notes),
                        _cell(g["corrected"], notes),
                    )
                console.print(gaps)
            if o.get("gap_differences"):
                rest = [c for c in others if c != "prompt_variant"]
                a, b = o["gap_differences"][0]["variants"]
                diffs = Table(
                    *rest,
                    "human",
                    "corrected",
                    title_justify="left",
                    title=f"difference of gaps: {a} - {b}",
                )
                for d in o["gap_differences"]:
                    diffs.add_row(
                        *(literal(_shown(d[c])) for c in rest),
                        _cell(d.get("human", {"reason": "no estimate"}), notes),
                        _cell(d["corrected"], notes),
                    )
                console.print(diffs)
            for g, plan in needs:
                where = " x ".join(str(_shown(g[c])) for c in by)
                console.print(
                    Text("plan ") + literal(where) + Text(": ") + literal(plan_line(plan))
                )
            for line in notes.lines():
                console.print(literal(line), style="dim")
    console.print(
        Text(
            f"Target: {report['target']}. Intervals: {report['ci_method']}. "
            f"Correction: {report['correction']}.",
            style="dim",
        )
    )


def _print_six_way(report: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from reviewer.console import literal, make_console

    console = make_console()
    by = report["by"]
    ref, design = report["reference"], report["design"]
    console.print(Text("six-way breakdown: compliance x alignment faking", style="bold"))
    console.print(
        Text("reference: ")
        + literal(ref["name"])
        + Text(f", {ref['n_items']} items with both labels")
    )
    for u in ref["unused"]:
        console.print(
            Text("  not used: ")
            + literal(f"{u['source']} rater {u['rater']}")
            + Text(f" ({u['labels']} labels)"),
            style="dim",
        )
    if design["source"] == "none":
        console.print(Text("no item has both reference labels yet"), style="yellow")
    elif design["status"] == "unknown":
        console.print(
            Text("design unknown: ")
            + literal(design["note"] or "")
            + Text("; the corrected column is withheld (--design QUEUE, or --assume-random)"),
            style="yellow",
        )
    else:
        console.print(Text("design: ") + literal(design["source"]))
    notes = Footnotes()
    table = Table(
        *by,
        "outcome",
        "classifier",
        "human",
        "corrected",
        caption="each cell is its own rate; n: items the rate rests on",
        caption_justify="left",
    )
    rows = []
    for cell in report["cells"]:
        for g in cell["groups"]:
            rows.append((tuple(str(_shown(g[c])) for c in by), cell["outcome"], g))
    order = {c["outcome"]: k for k, c in enumerate(report["cells"])}
    for key, name, g in sorted(rows, key=lambda r: (r[0], order[r[1]])):
        table.add_row(
            *(literal(v) for v in key),
            name,
            _cell(g["classifier"], notes),
            _cell(g["human"], notes),
            _cell(g["corrected"], notes),
        )
    console.print(table)
    for line in notes.lines():
        console.print(literal(line), style="dim")
