"""``reviewer import``: read transcript files of any supported format into the database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from importers.base import formats, importable_suffixes
from reviewer.cli import Context, pass_context

_FORMATS_HELP = "\n".join(
    f"  {f.name:<8} {f.description}" + (f"\n           needs {f.needs}" if f.needs else "")
    for f in formats().values()
)


def _for(option: str) -> str:
    """Which formats an option means something to (as each importer declares), as a prefix
    for its help; nothing when it means something to all of them."""
    names = [f.name for f in formats().values() if option in f.options]
    return "" if len(names) == len(formats()) else f"{', '.join(names)}: "


EPILOG = f"""\b
Formats (detected from the file when --format is not given):
{_FORMATS_HELP}

\b
Examples:
  reviewer import results/alignment_faking/helpful_only/claude-3-opus/results_seed1_*.json
  reviewer import results/          (every results file below the folder)
  reviewer import my_run.json --model claude-3-opus
  reviewer import logs/*.eval --condition free
  reviewer import ../shared/data/labels/gold_106.jsonl --format table \\
      --map scratchpad=text --map label.alignment_faking=label \\
      --value potential_faking=yes --value aligned=no --rater gold
  reviewer import logs/run.eval --map label.alignment_faking=metadata.gold_af_label \\
      --value potential_faking=yes --value aligned=no --rater gold

A folder stands for the files in it and below it whose type is known ({", ".join(importable_suffixes())}), imported one by one in path order; hidden files,
the database's own files and files of other types are left out, and said so. A file found
in a folder whose format cannot be told is skipped (status "skipped", with the reason), not
failed; pass --format to read them all as one format.

A hughes file takes its model from its path; when the path names none, the file is refused
unless --model NAME is given (or --allow-unknown-model), since the model is part of each
transcript's identity and a later import with --model would add a second copy.

Each file is read and checked whole before anything is written: a file with a bad record is
rejected, with the file name, the record and what was wrong, and the database is left as it
was. With --skip-bad the good records are imported and each bad one is written, with its
reason, to DB.rejected.jsonl beside the database. Importing the same file again adds
nothing; every run is recorded in the imports table.

The checked records are staged in a scratch file beside the database (DB.import-*.staging,
deleted afterwards, or by the next import if the process was killed) and then copied in short
transactions, so an annotator or a classifier run can write to the same database while a
long import runs. If an import is killed during
that copy, its run stays "running" (or "interrupted") in the imports table with part of
the file in: run the same import again to complete it; records already in count as
duplicates and their labels are not added twice.
"""


_STATUS_STYLE = {"done": "green", "skipped": "yellow"}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _folder_note(folder) -> str:
    """What importing a folder will do, said before it starts."""
    note = (
        f"{folder.folder}: a folder: importing {_plural(len(folder.files), 'file')} of a known "
        "type found in it and below it, in path order"
    )
    if folder.skipped:
        names = ", ".join(str(p) for p in folder.skipped[:5])
        more = f", and {len(folder.skipped) - 5:,} more" if len(folder.skipped) > 5 else ""
        note += f"; skipping {_plural(len(folder.skipped), 'file')} of another type ({names}{more})"
    return note


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r} should look like NAME=VALUE", param_hint=option)
        pairs[key.strip()] = value.strip()
    return pairs


class _RichProgress:
    """Progress on stderr (``Bars``: a bar on a terminal, a line now and then otherwise):
    bytes read and checked, then records copied into the database."""

    def __init__(self):
        from reviewer.commands._progress import Bars

        self._progress = Bars()
        self._tasks: list = []
        self._name = ""

    def start(self, path: Path, total_bytes: int) -> None:
        self._progress.start()
        self._name = path.name
        self._tasks = [self._progress.add(f"reading {path.name}", total_bytes)]

    def update(self, bytes_read: int) -> None:
        if self._tasks:
            self._progress.update(self._tasks[0], bytes_read)

    def copied(self, records_done: int, records_total: int) -> None:
        if len(self._tasks) == 1:
            self._tasks.append(self._progress.add(f"writing {self._name} (records)", records_total))
        if len(self._tasks) == 2:
            self._progress.update(self._tasks[1], records_done)

    def stop(self) -> None:
        for task in self._tasks:
            self._progress.remove(task)
        self._tasks = []
        self._progress.stop()


@click.command(
    "import", epilog=EPILOG, context_settings={"max_content_width": 100}, no_args_is_help=True
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(formats())),
    help="The files' format (default: detect).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="TARGET=COLUMN",
    help=_for("maps") + "where a target comes from. Tables: a column per target, e.g. "
    "scratchpad=text, label.alignment_faking=label, score.alignment_faking=conf, "
    "note.alignment_faking=notes (note=COLUMN: for every mapped label); targets: scratchpad, "
    "completion, output, turns, user_input, system_prompt, model, condition, dataset, "
    "prompt_variant, source_ref. Other formats map labels only, from a dotted path into each "
    "record, e.g. label.alignment_faking=metadata.gold_af_label.",
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="SOURCE=CATEGORY",
    help=_for("values") + "turn a label value of the file into a rubric category, e.g. aligned=no.",
)
@click.option("--rater", help=_for("rater") + "who made the imported labels (default: imported).")
@click.option(
    "--label-source",
    type=click.Choice(["imported", "human", "classifier", "adjudication"]),
    default="imported",
    show_default=True,
    help=_for("label_source") + "the source recorded for imported labels. adjudication: "
    "decisions made elsewhere (they count as gold like the labeler's); needs --rater and the "
    "reason via --map note=COLUMN.",
)
@click.option(
    "--rubric", help=_for("rubric") + "rubric id or .toml path holding the mapped label fields."
)
@click.option("--model", help="Model name for every record (overrides the file and path).")
@click.option(
    "--allow-unknown-model",
    is_flag=True,
    help=_for("allow_unknown_model") + "import a file whose path names no model, with no model "
    "(refused otherwise: "
    "the model is part of each transcript's identity, so pass --model NAME instead).",
)
@click.option("--condition", help="Condition for every record, e.g. free, paid.")
@click.option("--dataset", help="Dataset/experiment name for every record.")
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the good records; write each bad one with its reason to DB.rejected.jsonl.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object instead of the table and messages: the database, and per file "
    "its status, counts, error, hint and warnings (every key is described in docs/formats.md).",
)
@pass_context
def import_cmd(
    obj: Context,
    paths: tuple[Path, ...],
    fmt: str | None,
    maps: tuple[str, ...],
    values: tuple[str, ...],
    rater: str | None,
    label_source: str,
    rubric: str | None,
    model: str | None,
    allow_unknown_model: bool,
    condition: str | None,
    dataset: str | None,
    skip_bad: bool,
    as_json: bool,
) -> None:
    """Import transcripts (and the labels they carry) from PATH... (files or folders) into the
    database."""
    from rich.table import Table
    from rich.text import Text

    from importers.base import ImportOptions
    from importers.run import expand_paths, import_files
    from reviewer.console import literal, make_console

    options = ImportOptions(
        model=model,
        condition=condition,
        dataset=dataset,
        rater=rater,
        label_source=label_source,
        rubric=rubric,
        maps=_pairs(maps, "--map"),
        values=_pairs(values, "--value"),
        allow_unknown_model=allow_unknown_model,
    )
    if (options.maps or options.values) and fmt and "maps" not in formats()[fmt].options:
        raise click.UsageError(f"--map and --value apply to the formats {_for('maps')[:-2]}")
    err = make_console(stderr=True)

    def lines(text: str, style: str) -> None:
        # A message's own line breaks stay breaks; literal() would show them as \n.
        for line in text.split("\n"):
            err.print(literal(line, style=style), soft_wrap=True)

    def report(result) -> None:
        if result.error and not as_json:
            lines(result.error, "red")
        if result.hint and not as_json:
            lines(f"{result.path}: {result.hint}", "yellow")

    expanded = expand_paths(paths, obj.db_path)
    if not as_json:
        for folder in (f for f in expanded.folders if f.files):
            err.print(literal(_folder_note(folder)), soft_wrap=True)
    shown = {
        str(f.path): str(f.path.relative_to(f.folder)) if f.folder else f.path.name
        for f in expanded.files
    }
    results = import_files(
        obj.store,
        expanded.files,
        fmt=fmt,
        options=options,
        skip_bad=skip_bad,
        progress=None if as_json else _RichProgress(),
        on_result=report,
        warn=None
        if as_json
        else lambda text: err.print(literal(text, style="yellow"), soft_wrap=True),
    )
    failed = [r for r in results if r.status not in ("done", "skipped")]
    if as_json:
        click.echo(
            json.dumps(
                {"database": str(obj.db_path), "files": [r.as_dict() for r in results]}, indent=2
            )
        )
    else:
        table = Table(title=literal(f"Imported into {obj.db_path}"))
        longest = max((len(shown.get(r.path, r.path)) for r in results), default=4)
        table.add_column("file", overflow="fold", min_width=min(longest, 24))
        for name in ("format", "read", "new", "duplicate", "rejected", "labels", "status"):
            table.add_column(name, justify="left" if name in ("format", "status") else "right")
        for r in results:
            table.add_row(
                literal(shown.get(r.path, r.path)),
                literal(r.format or "?"),
                f"{r.n_read:,}",
                f"{r.n_new:,}",
                f"{r.n_duplicate:,}",
                f"{r.n_rejected:,}",
                f"{r.n_labels:,}",
                Text(r.status, style=_STATUS_STYLE.get(r.status, "red")),
            )
        make_console().print(table)
        rejected = {r.rejected_path for r in results if r.rejected_path}
        for path in sorted(rejected):
            n = sum(r.n_rejected for r in results if r.rejected_path == path)
            err.print(
                literal(f"{n:,} rejected record(s) with their reasons: {path}"), soft_wrap=True
            )
    if failed:
        sys.exit(1)
