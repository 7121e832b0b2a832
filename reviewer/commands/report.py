"""``reviewer report``: the study's results as one offline HTML file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from reviewer.commands._context import Context, pass_context


@click.command("report")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write, e.g. report.html.",
)
@click.option(
    "--reference",
    default="gold",
    show_default=True,
    help="The labels taken as the truth for rates (as in `reviewer analyze`): gold, "
    "majority or a rater's name.",
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
    help="The queue that drew the human sample (default: as `reviewer analyze`).",
)
@click.option(
    "--assume-random",
    is_flag=True,
    help="When the design is unknown, treat the labelled items as a simple random "
    "sample and show corrected rates anyway (biased if they were not; said in the "
    "report).",
)
@click.option(
    "--classifier", help="Classifier rater for the rates (default: the one with most labels)."
)
@click.option(
    "--phase",
    type=click.Choice(["blind", "revealed"]),
    default="blind",
    show_default=True,
    help="Human labels used.",
)
@click.option(
    "--resamples",
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the agreement intervals.",
)
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--json", "as_json", is_flag=True, help="Also print every number of the report as JSON."
)
@pass_context
def report(
    obj: Context,
    out: Path,
    reference: str,
    min_humans: int,
    design_queue: str | None,
    assume_random: bool,
    classifier: str | None,
    phase: str,
    resamples: int,
    seed: int,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write the study's results as one self-contained HTML file.

    Per model: stacked bars of refused / partial / full compliance, each with and without
    alignment-faking reasoning, free tier next to paid; the compliance gap and the
    alignment-faking rate with 95% intervals three ways (classifier, human, corrected), and
    the difference between prompt variants when there are several; motivation rates per
    model and tier; agreement per field (humans with each other, each classifier with the
    humans) with verdicts, confusion matrices, a calibration curve of classifier score
    against human labels and the auditors' error reasons; and provenance: the database, its
    counts, rubric versions, reference, design, date and the command that prints each number.

    The page has no script and loads nothing (charts are inline SVG), so it opens offline
    and prints as it looks.

    \b
    reviewer report --out report.html
    reviewer report --out report.html --design sample --reference gold
    """
    from reviewer.analysis import AnalysisError
    from reviewer.report import ReportOptions, write_report

    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    if out.exists() and out.is_dir():
        raise click.ClickException(
            f"{out} is a folder: give --out a file path, e.g. {out / 'report.html'}"
        )
    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} exists: choose another --out or pass --overwrite")
    if not out.parent.exists():
        raise click.ClickException(f"{out.parent}: no such folder for --out")
    if min_humans < 1:
        raise click.ClickException(f"--min-humans must be at least 1, not {min_humans}")
    if resamples < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--resamples")
    from db.agreement_data import labelled_rubrics_of
    from reviewer.commands._progress import progress
    from reviewer.commands.analyze import _raters
    from reviewer.commands.stats import read_current_labels

    current = read_current_labels(obj.store)
    labelled = labelled_rubrics_of(current)
    if not labelled:
        raise click.ClickException(f"{obj.db_path}: no labels yet, so nothing to report")
    if classifier is not None and classifier not in _raters(current, "classifier", labelled):
        known = _raters(current, "classifier", labelled)
        raise click.ClickException(
            f"{obj.db_path}: no classifier labels by {classifier!r}; "
            f"classifiers with labels: {', '.join(known) or 'none'}"
        )
    options = ReportOptions(
        reference=reference,
        min_humans=min_humans,
        design=design_queue,
        assume_random=assume_random,
        classifier=classifier,
        phase=phase,
        resamples=resamples,
        seed=seed,
    )
    click.echo(f"reading {obj.db_path} and drawing the charts ...", err=True)
    started = time.monotonic()
    try:
        with progress("analysing", unit="parts") as update:
            data = write_report(obj.store, out, options, current=current, on_progress=update)
    except AnalysisError as exc:
        raise click.ClickException(f"{obj.db_path}: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    from reviewer.console import echo_literal

    echo_literal(
        f"wrote {out} ({data['bytes'] / 1024:,.0f} KB, {data['charts']} charts) in "
        f"{time.monotonic() - started:.1f} s; open it in a browser (works offline)"
    )
