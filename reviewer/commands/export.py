"""``reviewer export``: gold labels and every label's provenance, as jsonl, csv, parquet or
a Hugging Face dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reviewer.commands._context import Context, pass_context


@click.command("export")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["jsonl", "csv", "parquet", "hf"]),
              help="jsonl: nested rows with full provenance; csv/parquet: one flat column per "
              "field and rater (provenance as JSON in labels_json); hf: a folder with "
              "data.jsonl and a README dataset card.")  # fmt: skip
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="File to write (a folder for --format hf).")  # fmt: skip
@click.option("--rubric", "rubric_ids", multiple=True,
              help="Rubric(s) to export labels of. Default: every rubric with labels.")  # fmt: skip
@click.option("--gold-only", is_flag=True,
              help="Only transcripts with a resolved gold label on at least one field.")  # fmt: skip
@click.option("--include-text/--no-text", default=True, show_default=True,
              help="Include system prompt, user input, scratchpad and output.")  # fmt: skip
@click.option("--min-humans", type=int, default=2, show_default=True,
              help="Agreeing blind human labels needed for a gold label without adjudication.")  # fmt: skip
@click.option("--imported-as-human", is_flag=True,
              help="Count imported labels (e.g. a published gold set) as human labels.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def export(obj: Context, fmt: str, out: Path, rubric_ids: tuple[str, ...], gold_only: bool,
           include_text: bool, min_humans: int, imported_as_human: bool, overwrite: bool,
           as_json: bool) -> None:  # fmt: skip
    """Write one row per transcript with its gold label per field (or null and the reason it
    is unresolved) and every live label with its provenance.

    \b
    reviewer export --format jsonl --out labels.jsonl
    reviewer export --format hf --out af-gold --gold-only --imported-as-human
    """
    from db.labels import GoldPolicy
    from reviewer.export import ExportError, ExportOptions
    from reviewer.export import export as run_export

    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    if min_humans < 1:
        raise click.ClickException("--min-humans must be at least 1")
    options = ExportOptions(
        rubric_ids=list(rubric_ids) or None,
        gold_only=gold_only,
        include_text=include_text,
        policy=GoldPolicy(min_humans=min_humans, imported_as_human=imported_as_human),
    )
    try:
        report = run_export(obj.store, fmt, out, options, overwrite=overwrite)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    resolved = sum(n for (_, _, status), n in report.gold_status.items() if status != "unresolved")
    if as_json:
        click.echo(json.dumps({
            "format": fmt, "files": [str(p) for p in report.files], "rows": report.rows,
            "skipped_no_gold": report.skipped_no_gold, "rubric_fields": report.rubric_fields,
            "gold": [{"rubric_id": r, "field": f, "status": s, "items": n}
                     for (r, f, s), n in sorted(report.gold_status.items())],
            "labels_by_source": dict(sorted(report.labels_by_source.items())),
        }, indent=2))  # fmt: skip
        return
    files = ", ".join(str(p) for p in report.files)
    click.echo(f"wrote {report.rows} transcripts to {files}"
               + (f" ({report.skipped_no_gold} without gold left out)" if gold_only else ""))  # fmt: skip
    labels = ", ".join(f"{s} {n}" for s, n in sorted(report.labels_by_source.items()))
    click.echo(f"labels: {labels or 'none'}; resolved gold field labels: {resolved}")
    for (rid, f, status), n in sorted(report.gold_status.items()):
        click.echo(f"  {rid}.{f}: {status} {n}")
