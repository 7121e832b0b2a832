"""``reviewer demo``: build the seeded demo database if needed, then open the labeler on it."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from reviewer.cli import Context

PROGRESS_FROM = 5_000
"""Builds this large or larger show a progress bar; smaller ones finish before it would help."""


@click.command()
@click.option(
    "--size",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="How many transcripts to generate when the database is built.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the demo.")
@click.option("--build-only", is_flag=True, help="Build the database and stop; don't open the app.")
@click.option(
    "--annotator",
    default=None,
    help="Name your labels are recorded under in the labeler. Default: $USER, else 'annotator'.",
)
@click.pass_obj
def demo(obj: Context, size: int, seed: int, build_only: bool, annotator: str | None) -> None:
    """Build a demo database of made-up alignment-faking transcripts and open the labeler.

    The demo has five fictional models answering free-tier and paid-tier users, scratchpads in
    every motivation style of the goal_guarding rubric, and simulated classifier labels (20
    votes each) that are sometimes wrong. The same --seed always gives the same data.

    If the database already holds demo transcripts it is opened as it is (delete the file to
    rebuild it). A database holding any other transcripts is refused: the demo never mixes
    invented data into real data.
    """
    from db.demo import transcript_counts_by_dataset
    from reviewer.demo import DATASET

    path = obj.db_path
    if not path.exists():
        # A new file: built aside and moved into place when complete (reviewer.demo).
        _build(obj, path, size=size, seed=seed, new_file=True)
    else:
        store = obj.store
        demo_count, other_count = transcript_counts_by_dataset(store, DATASET)
        if other_count:
            raise click.ClickException(
                f"{path} already holds {other_count:,} transcripts that are not demo data; the "
                "demo will not add invented transcripts to them. Give the demo its own file, "
                "e.g. `reviewer --db demo.db demo`."
            )
        if demo_count:
            builds = [i for i in store.imports() if i["format"] == "demo"]
            if builds and builds[-1]["status"] != "done":
                asked = json.loads(builds[-1]["options"]).get("size", "?")
                click.echo(
                    f"warning: the demo build in {path} did not finish ({demo_count:,} of "
                    f"{asked:,} transcripts); delete the file to build it again.",
                    err=True,
                )
            click.echo(
                f"{path} already holds {demo_count:,} demo transcripts; using them as they are "
                "(delete the file to build it again with other options)."
            )
        else:
            _build(obj, path, size=size, seed=seed, new_file=False)

    if build_only:
        return
    try:
        from reviewer.tui.app import run_labeler
    except ImportError as exc:
        raise click.ClickException(
            f"the labeler is not available in this build ({exc}); the demo database is ready "
            f"at {path}: inspect it with `reviewer --db {path} info`."
        ) from None
    run_labeler(
        path, annotator=annotator or os.environ.get("USER") or "annotator", rubric="goal_guarding"
    )


def _build(obj: Context, path, *, size: int, seed: int, new_file: bool) -> None:
    from db.demo import BuildFileLost
    from reviewer.commands._progress import progress
    from reviewer.demo import build_demo, build_demo_file

    def run(update=None) -> dict:
        if new_file:
            try:
                return build_demo_file(path, size=size, seed=seed, progress=update)
            except (FileExistsError, BuildFileLost) as exc:
                raise click.ClickException(str(exc)) from None
        return build_demo(obj.store, size=size, seed=seed, progress=update)

    started = time.perf_counter()
    if size >= PROGRESS_FROM:
        with progress("building demo", size, quiet_seconds=0.0, unit="transcripts") as update:
            counts = run(update)
    else:
        counts = run()
    elapsed = time.perf_counter() - started

    store = obj.store
    summary = store.summary()
    verb = "Created" if new_file else "Filled the empty database"
    click.echo(
        f"{verb} {path}: {counts['transcripts']:,} demo transcripts (seed {seed}) and "
        f"{counts['label_events']:,} classifier label events, in {elapsed:.1f} s."
    )
    for model in counts["models"]:
        per = {
            r["condition"]: r["transcripts"]
            for r in summary["by_model_condition"]
            if r["model"] == model
        }
        click.echo(f"  {model:<22} free {per.get('free', 0):>9,}   paid {per.get('paid', 0):>9,}")
