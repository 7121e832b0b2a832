"""``reviewer backup``, ``reviewer doctor`` and ``reviewer merge``: keeping a database whole
on a shared server, and moving labels between copies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reviewer.commands._context import Context, pass_context
from reviewer.commands._progress import progress
from reviewer.console import echo_literal

# Databases smaller than this are copied without a progress bar.
PROGRESS_FROM_PAGES = 25_000


def _page_progress(label: str, enabled: bool):
    """A progress bar on stderr for a large database (``_progress.progress``); yields the
    callback ``(done, total)`` in pages."""
    return progress(label, enabled=enabled, minimum_total=PROGRESS_FROM_PAGES, quiet_seconds=0.0)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@click.command("backup")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def backup(obj: Context, out: Path, overwrite: bool, as_json: bool) -> None:
    """Copy the database to OUT, safely while others write to it.

    The copy is the database as committed at the moment the backup starts (SQLite's online
    backup, from one read snapshot: labels still in the write-ahead log are included, and
    writes made during the copy are not). It is a single file, checked before it is kept
    (integrity check, and every table's row count against the database's); OUT appears only
    once it has passed. Open it like any database: `reviewer --db OUT info`.

    \b
    reviewer backup backups/labels-$(date +%F).db
    """
    from db.backup import BackupError
    from db.backup import backup as run_backup

    with _page_progress("backing up", not as_json) as progress:
        try:
            report = run_backup(obj.db_path, out, overwrite=overwrite, on_progress=progress)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    counts = report.row_counts
    echo_literal(
        f"backed up {obj.db_path} to {out}: {_size(report.bytes)}, "
        f"{counts.get('transcripts', 0):,} transcripts, {counts.get('label_events', 0):,} "
        f"label events, in {report.seconds:.1f} s; verified (integrity ok, row counts match)"
    )


@click.command("doctor")
@click.option(
    "--repair",
    is_flag=True,
    help="Put right what is safe to: recreate missing or altered triggers and the "
    "live-label view, rebuild the full-text index, mark imports and classifier runs "
    "whose process is gone as interrupted, migrate, checkpoint the log.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="quick_check instead of integrity_check, and no full-text content check "
    "(for a very large database).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_context
def doctor(obj: Context, repair: bool, quick: bool, as_json: bool) -> None:
    """Check that the database is whole; exit status 0 when healthy, 1 when not.

    Checks: schema version, integrity_check, foreign keys, the append-only triggers and the
    full-text triggers and the live-label view (present, as defined), the full-text index
    against the transcripts, the write-ahead log's size, imports and classifier runs left
    running or interrupted, rows pointing at missing transcripts, the label counts `info`
    shows against a recount, and the statistics' cache of live labels against the labels.
    Without --repair
    nothing is written. With --repair, what can be put right without losing anything is,
    then every check runs again; damage it cannot repair is reported with what to do.

    \b
    reviewer doctor
    reviewer doctor --repair
    """
    from db.doctor import DoctorError, examine
    from db.doctor import repair as run_repair

    try:
        before = examine(obj.db_path, quick=quick)
        actions = None
        after = before
        if repair:
            actions = run_repair(obj.db_path, before)
            after = examine(obj.db_path, quick=quick)
    except DoctorError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        out = after.as_dict()
        if repair:
            out["repaired"] = actions
            out["before"] = before.as_dict()["checks"]
        click.echo(json.dumps(out, indent=2))
    else:
        _print_checks(after, actions)
    sys.exit(0 if after.healthy else 1)


def _print_checks(exam, actions: list[str] | None) -> None:
    from rich.table import Table

    from reviewer.console import literal, make_console

    console = make_console()
    table = Table("check", "status", "detail", title=f"reviewer doctor: {exam.path}")
    style = {"ok": "green", "warning": "yellow", "problem": "bold red"}
    for check in exam.checks:
        status = literal(check.status)
        status.stylize(style[check.status])
        table.add_row(check.name, status, literal(check.detail))
    console.print(table)
    for action in actions or []:
        console.print(literal(f"repaired: {action}"))
    repairable = [c.name for c in exam.checks if c.status != "ok" and c.repairable]
    verdict = "healthy" if exam.healthy else "NOT healthy"
    hint = f"; `reviewer doctor --repair` can fix: {', '.join(repairable)}" if repairable else ""
    console.print(literal(f"{verdict}{hint}"))


@click.command("merge")
@click.argument("other", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def merge(obj: Context, other: Path, as_json: bool) -> None:
    """Bring in what OTHER (an offline copy of the database) has and this one lacks.

    Adds its system prompts, rubric versions, transcripts (matched by uid), classifier runs
    and label events (matched by transcript uid, rubric version, field, source, rater, phase,
    value, time and the event a retraction withdraws). Nothing here is changed or removed:
    merging the same copy twice adds nothing, and two copies merged into each other hold the
    same live labels. Reports conflicts: an annotator with two different blind labels on one
    item (e.g. labeled in both copies), which gold and agreement resolve by the newest.
    Queues and the classifier call cache stay with their copy. Take a `reviewer backup`
    first if in doubt; OTHER is only read.

    \b
    reviewer --db main.db merge laptop-copy.db
    """
    from db.merge import MergeError
    from db.merge import merge as run_merge

    store = obj.store
    bar = _page_progress("merging", not as_json)
    with bar as progress:
        try:
            report = run_merge(
                store,
                other,
                on_progress=None if progress is None else (lambda _what, d, t: progress(d, t)),
            )
        except MergeError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    from reviewer.console import literal, make_console

    console = make_console()
    e = report.events
    lines = [
        f"merged {other} into {obj.db_path} in {report.seconds:.1f} s "
        f"(recorded as import {report.import_id})",
        f"  transcripts: {report.transcripts_new:,} new of {report.transcripts_read:,}",
        f"  label events: {e.added:,} new of {e.read:,} ({e.present:,} already here"
        + (
            f", {e.already_retracted:,} retractions of events already retracted here"
            if e.already_retracted
            else ""
        )
        + (
            f", {e.without_transcript:,} without a transcript left out"
            if e.without_transcript
            else ""
        )
        + ")",
        f"  rubric versions: {report.rubrics_new} new; system prompts: {report.prompts_new} "
        f"new; classifier runs: {report.runs_new} new, {report.runs_matched} already here",
    ]
    for line in lines:
        console.print(literal(line))
    if report.conflicts:
        console.print(
            literal(
                f"{len(report.conflicts)} conflict(s): one annotator, two "
                "different blind labels on an item (the newest counts):"
            )
        )
        for c in report.conflicts[:20]:
            values = " vs ".join(json.dumps(v, ensure_ascii=False) for v in c["values"])
            console.print(
                literal(
                    f"  transcript {c['transcript_id']} {c['rubric_id']}."
                    f"{c['field']} by {c['rater']}: {values}"
                )
            )
        if len(report.conflicts) > 20:
            console.print(
                literal(f"  ... and {len(report.conflicts) - 20} more (--json lists all)")
            )
    else:
        console.print(literal("no conflicts"))
