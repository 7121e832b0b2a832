"""``reviewer export``: gold labels and every label's provenance, as jsonl, csv, parquet or
a Hugging Face dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reviewer.commands._context import Context, pass_context


@click.command("export")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["jsonl", "csv", "parquet", "hf"]),
    help="jsonl: nested rows with full provenance; csv/parquet: one flat column per "
    "field and rater (provenance as JSON in labels_json); hf: a folder with "
    "data.jsonl and a README dataset card.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write (a folder for --format hf).",
)
@click.option(
    "--rubric",
    "rubric_ids",
    multiple=True,
    help="Rubric(s) to export labels of. Default: every rubric with labels.",
)
@click.option(
    "--gold-only",
    is_flag=True,
    help="Only transcripts with a resolved gold label on at least one field.",
)
@click.option(
    "--include-text/--no-text",
    default=True,
    show_default=True,
    help="Include system prompt, user input, scratchpad and output.",
)
@click.option(
    "--min-humans",
    type=int,
    default=2,
    show_default=True,
    help="Agreeing blind human labels needed for a gold label without adjudication.",
)
@click.option(
    "--imported-as-human",
    is_flag=True,
    help="Count imported labels (e.g. a published gold set) as human labels.",
)
@click.option(
    "--pseudonymize",
    is_flag=True,
    help="Replace every annotator name (human, adjudicator and imported raters) "
    "with a pseudonym such as rater-3f9a2c, the same in every export that uses the "
    "same --pseudonym-map.",
)
@click.option(
    "--pseudonym-map",
    "pseudonym_map",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="JSON file of name -> pseudonym, read if it exists and extended with new "
    "names (implies --pseudonymize). Default: OUT.pseudonyms.json beside the export. "
    "Keep it private: it undoes the pseudonyms.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def export(
    obj: Context,
    fmt: str,
    out: Path,
    rubric_ids: tuple[str, ...],
    gold_only: bool,
    include_text: bool,
    min_humans: int,
    imported_as_human: bool,
    pseudonymize: bool,
    pseudonym_map: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write one row per transcript with its gold label per field (or null and the reason it
    is unresolved) and every live label with its provenance.

    \b
    reviewer export --format jsonl --out labels.jsonl
    reviewer export --format hf --out af-gold --gold-only --imported-as-human
    reviewer export --format csv --out share.csv --pseudonymize --pseudonym-map ~/names.json

    Shareable by default: source paths are reduced to file names, and CSV cells that a
    spreadsheet would run as a formula (=, +, -, @, tab, CR first) start with a '.
    """
    from db.labels import GoldPolicy
    from reviewer.classify.base import secret_values
    from reviewer.commands._progress import Bars
    from reviewer.console import literal, make_console
    from reviewer.export import ExportError, ExportOptions, Pseudonyms, default_pseudonym_map
    from reviewer.export import export as run_export

    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    if min_humans < 1:
        raise click.ClickException("--min-humans must be at least 1")
    names = None
    if pseudonymize or pseudonym_map is not None:
        pseudonym_map = pseudonym_map or default_pseudonym_map(out)
        try:
            names = Pseudonyms.load(pseudonym_map)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
    options = ExportOptions(
        rubric_ids=list(rubric_ids) or None,
        gold_only=gold_only,
        include_text=include_text,
        policy=GoldPolicy(min_humans=min_humans, imported_as_human=imported_as_human),
        pseudonyms=names,
        redact=secret_values(),
    )
    bars = None if as_json else Bars(unit="transcripts")
    task = None
    card_task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bars.start()
            task = bars.add(f"exporting {out.name}", total)
        bars.update(task, done, total)

    def card_progress(done: int, total: int) -> None:
        nonlocal card_task
        if card_task is None:
            if task is None:
                bars.start()
            else:
                bars.remove(task)  # the rows are written: their bar gives way to the card's
            card_task = bars.add(
                "README.md: agreement with bootstrap intervals", total, unit="rubrics"
            )
        bars.update(card_task, done, total)

    try:
        try:
            report = run_export(
                obj.store,
                fmt,
                out,
                options,
                overwrite=overwrite,
                progress=None if bars is None else progress,
                card_progress=None if bars is None else card_progress,
            )
        finally:
            if task is not None or card_task is not None:
                bars.stop()
        if names is not None:
            names.save(pseudonym_map)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {exc.filename or out}: {exc.strerror or exc}"
        ) from None
    resolved = sum(n for (_, _, status), n in report.gold_status.items() if status != "unresolved")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "format": fmt,
                    "files": [str(p) for p in report.files],
                    "rows": report.rows,
                    "skipped_no_gold": report.skipped_no_gold,
                    "rubric_fields": report.rubric_fields,
                    "gold": [
                        {"rubric_id": r, "field": f, "status": s, "items": n}
                        for (r, f, s), n in sorted(report.gold_status.items())
                    ],
                    "labels_by_source": dict(sorted(report.labels_by_source.items())),
                    "pseudonym_map": None
                    if names is None
                    else {
                        "path": str(pseudonym_map),
                        "names": len(names.mapping),
                        "new": len(names.added),
                    },
                },
                indent=2,
            )
        )
        return
    console = make_console()
    files = ", ".join(str(p) for p in report.files)
    console.print(
        literal(
            f"wrote {report.rows} transcripts to {files}"
            + (f" ({report.skipped_no_gold} without gold left out)" if gold_only else "")
        )
    )
    labels = ", ".join(f"{s} {n}" for s, n in sorted(report.labels_by_source.items()))
    console.print(literal(f"labels: {labels or 'none'}; resolved gold field labels: {resolved}"))
    for (rid, f, status), n in sorted(report.gold_status.items()):
        console.print(literal(f"  {rid}.{f}: {status} {n}"))
    if names is not None:
        console.print(
            literal(
                f"annotator names pseudonymized: {len(names.mapping)} in "
                f"{pseudonym_map} ({len(names.added)} new); keep that file "
                "private, it turns the pseudonyms back into names"
            )
        )
