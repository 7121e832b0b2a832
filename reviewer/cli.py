"""The ``reviewer`` command line. Heavy modules are imported inside commands, so that
``reviewer --help`` stays fast."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import click

from reviewer import __version__
from reviewer.console import echo_literal, printable


class Context:
    """What every command gets: the database path, opened on first use."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from db import SchemaTooNewError, Store
            from db.connection import upgrade_due

            due = upgrade_due(self.db_path)
            if due is not None:
                click.echo(
                    f"upgrading {printable(str(self.db_path))} from schema {due[0]} to {due[1]} "
                    "(once; a minute or so for a million transcripts) ...",
                    err=True,
                )
            try:
                self._store = Store(self.db_path)
            except SchemaTooNewError as exc:
                raise click.ClickException(str(exc)) from None
            except sqlite3.DatabaseError as exc:
                raise click.ClickException(
                    f"{self.db_path} is not a reviewer database ({exc}); give another path "
                    "with --db or $REVIEWER_DB"
                ) from None
            except OSError as exc:
                raise click.ClickException(f"cannot open {self.db_path}: {exc}") from None
        return self._store


pass_context = click.make_pass_decorator(Context)


def _default_db() -> Path:
    from db.connection import default_db_path

    return default_db_path()


class _LiteralErrors(click.Group):
    """Error messages name files, records and raters taken from the data: they are shown
    literally too (a terminal escape in a file name prints as text)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = "\n".join(printable(line) for line in exc.message.split("\n"))
            raise


@click.group(
    cls=_LiteralErrors,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="REVIEWER_DB",
    default=None,
    help="SQLite database to use. Default: $REVIEWER_DB, else "
    "$XDG_DATA_HOME/reviewer/reviewer.db (~/.local/share/reviewer/reviewer.db).",
)
@click.version_option(__version__, prog_name="reviewer")
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None) -> None:
    """Label, audit and measure alignment-faking reasoning in model scratchpads.

    Import transcripts, label them blind in the terminal beside LLM classifier labels,
    measure agreement, and export gold labels.
    """
    ctx.obj = Context(db_path or _default_db())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def info(obj: Context, as_json: bool) -> None:
    """What the database holds: transcripts by model and condition, and per label source the
    events split into labels, annotator acts (_skip, _flag, _comment, _reveal) and retracted
    events, with the current labels (one per transcript, field and rater) that stats uses."""
    if not obj.db_path.exists():
        raise click.ClickException(
            f"no database at {obj.db_path}: import transcripts or run `reviewer demo` first"
        )
    summary = obj.store.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.table import Table

    from reviewer.console import literal, make_console

    console = make_console()
    head = literal(summary["path"])
    head.stylize("bold")
    head.append(
        f": {summary['transcripts']:,} transcripts, {summary['imports']} imports, "
        f"{summary['rubric_versions']} rubric versions"
    )
    console.print(head)
    table = Table("model", "condition", "transcripts", title="Transcripts")
    for row in summary["by_model_condition"]:
        table.add_row(literal(row["model"]), literal(row["condition"]), f"{row['transcripts']:,}")
    console.print(table)
    labels = Table(
        "source",
        "events",
        "labels",
        "acts",
        "retracted",
        "current labels",
        "raters",
        "transcripts",
        title="Label events",
        caption="events = labels + acts + retracted. labels: live events on rubric "
        "fields, revisions included; acts: annotators' _skip/_flag/_comment/_reveal; "
        "retracted: withdrawn by undo or retract. current labels: (transcript, "
        "field, rater) with a live label, what `reviewer stats` uses (before its "
        "blind/revealed choice); raters and transcripts: those with one.",
    )
    for row in summary["labels_by_source"]:
        labels.add_row(
            literal(row["source"]),
            f"{row['events']:,}",
            f"{row['labels']:,}",
            f"{row['acts']:,}",
            f"{row['retracted']:,}",
            f"{row['current_labels']:,}",
            str(row["raters"]),
            f"{row['transcripts']:,}",
        )
    console.print(labels)
    if summary["unfinished"]:
        console.print(_unfinished_table(summary["unfinished"]))


def _unfinished_table(rows: list[dict]):
    """Imports and classifier runs that did not finish, and what to do about each."""
    from rich.table import Table

    from reviewer.console import literal

    hints = {
        "interrupted": "its process ended early; what it committed stays: run it again",
        "failed": "see `reviewer import` output; nothing or the chunks committed stay",
        "alive": "still working",
        "elsewhere": "running on another host",
        "unknown": "no process recorded: `reviewer doctor --repair` once nothing runs",
    }
    table = Table(
        "kind", "id", "file or run", "status", "new", "started", "note", title="Not finished"
    )
    for row in rows:
        state = row.get("owner") or row["status"]
        table.add_row(
            row["kind"],
            str(row["id"]),
            literal(row["name"]),
            literal(row["status"]),
            "" if row["n_new"] is None else f"{row['n_new']:,}",
            literal((row["started_at"] or "")[:19]),
            hints.get(state, ""),
        )
    return table


@cli.group()
def rubrics() -> None:
    """List, show and validate rubrics (built-in ids or paths to .toml files)."""


@rubrics.command("list")
@pass_context
def rubrics_list(obj: Context) -> None:
    """The built-in rubrics, then the rubric versions stored in the database (if it exists)."""
    from rubrics import builtin_rubric_paths, load_rubric

    for rubric_id, path in sorted(builtin_rubric_paths().items()):
        rubric = load_rubric(path)
        fields = ", ".join(f"{f.id} ({f.kind})" for f in rubric.fields)
        echo_literal(f"{rubric_id}  v{rubric.version}  {rubric.content_hash[:12]}  {fields}")
    if obj.db_path.exists():
        from db.dataset import stored_rubrics

        stored = stored_rubrics(obj.store)
        echo_literal(f"\nstored in {obj.db_path}:" if stored else f"\nnone stored in {obj.db_path}")
        for row in stored:
            echo_literal(
                f"{row['rubric_id']}  v{row['version']}  {row['hash'][:12]}  "
                f"{row['created_at'][:19]}  from {row['origin'] or '?'}"
            )


@rubrics.command("show")
@click.argument("rubric")
@pass_context
def rubrics_show(obj: Context, rubric: str) -> None:
    """Every field and category of RUBRIC (a built-in id, a .toml path, or a rubric stored
    in the database: its newest version), with definitions, rules and keys."""
    from db.labels import resolve_rubric
    from rubrics import RubricError

    try:
        r = resolve_rubric(obj.store if obj.db_path.exists() else None, rubric)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None
    echo_literal(f"{r.id} v{r.version} ({r.content_hash[:12]}): {r.title}")
    echo_literal(r.description.strip())
    for f in r.fields:
        echo_literal(f"\n{f.id} [{f.kind}]: {f.question}")
        for c in f.categories:
            echo_literal(f"  [{c.key}] {c.id}: {' '.join(c.definition.split())}")
            for rule in c.rules:
                echo_literal(f"        - {rule}")


@rubrics.command("validate")
@click.argument("paths", nargs=-1, required=True)
def rubrics_validate(paths: tuple[str, ...]) -> None:
    """Check rubric files; exit 1 if any has a problem."""
    from rubrics import RubricError, resolve_rubric

    failed = False
    for path in paths:
        try:
            r = resolve_rubric(path)
        except RubricError as exc:
            failed = True
            echo_literal(str(exc), err=True)
        else:
            echo_literal(f"{path}: ok ({r.id} v{r.version}, {r.content_hash[:12]})")
    if failed:
        sys.exit(1)


# Each command lives in reviewer/commands/; their heavy imports wait until they run.
from reviewer.commands.analyze import analyze  # noqa: E402
from reviewer.commands.classify import classify  # noqa: E402
from reviewer.commands.demo import demo  # noqa: E402
from reviewer.commands.export import export  # noqa: E402
from reviewer.commands.import_cmd import import_cmd  # noqa: E402
from reviewer.commands.label import label  # noqa: E402
from reviewer.commands.operations import backup, doctor, merge  # noqa: E402
from reviewer.commands.queue import queue  # noqa: E402
from reviewer.commands.report import report  # noqa: E402
from reviewer.commands.stats import stats  # noqa: E402

for _command in (
    analyze,
    backup,
    classify,
    demo,
    doctor,
    export,
    import_cmd,
    label,
    merge,
    queue,
    report,
    stats,
):
    cli.add_command(_command)


def main() -> None:
    cli()
