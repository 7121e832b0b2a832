"""``reviewer label``: open the labeler."""

from __future__ import annotations

import os

import click

from reviewer.cli import Context, pass_context


def default_annotator() -> str:
    """$REVIEWER_ANNOTATOR, else the login name: labels must name a person."""
    env = os.environ.get("REVIEWER_ANNOTATOR")
    if env:
        return env
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "annotator"


@click.command("label")
@click.option(
    "--annotator",
    default=None,
    help="Your name on every label (default: $REVIEWER_ANNOTATOR, else your login).",
)
@click.option(
    "--rubric",
    "rubric",
    default="goal_guarding",
    show_default=True,
    help="Built-in rubric id or a path to your own rubric .toml.",
)
@click.option(
    "--queue",
    default=None,
    help="A named queue from `reviewer queue create`; default: every transcript, "
    "unlabeled first, in a random order seeded by your name.",
)
@click.option(
    "--no-blind",
    "no_blind",
    is_flag=True,
    help="Audit mode: show classifier and other labels before you commit. Your labels "
    "are then recorded as 'revealed', never as blind labels.",
)
@pass_context
def label(
    obj: Context, annotator: str | None, rubric: str, queue: str | None, no_blind: bool
) -> None:
    """Label scratchpads in the terminal, blind to other labels until you commit.

    Keys come from the rubric (goal_guarding: y/n alignment faking, 1-5 toggle motivations);
    enter commits, u undoes, s skips, f flags, c comments, p goes back, / finds, ? lists every
    key, q quits. Reopening continues where you left off.

    A queue of kind adjudication opens every rater's labels side by side: choose the final
    value, enter, and give the one-line reason the decision is stored with. A queue of kind
    errors opens each of a classifier's errors with its quotes highlighted: r tags why it erred.
    """
    import sqlite3

    if annotator is not None and not annotator.strip():
        raise click.ClickException(
            "--annotator is empty: give the name your labels are recorded under, "
            "e.g. --annotator maria (or set $REVIEWER_ANNOTATOR)"
        )
    if not obj.db_path.exists():
        raise click.ClickException(
            f"no database at {obj.db_path}: import transcripts or run `reviewer demo` first"
        )
    try:
        name = _check(obj, annotator, rubric, queue)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(
            f"{obj.db_path} is not a reviewer database ({exc}): pass --db with a file made by "
            "`reviewer import` or `reviewer demo`"
        ) from None
    from reviewer.tui.app import run_labeler

    run_labeler(obj.db_path, annotator=name, rubric=rubric, queue=queue, blind=not no_blind)


def _check(obj: Context, annotator: str | None, rubric: str, queue: str | None) -> str:
    """Every check that reads the database before the app opens; the annotator's name."""
    from db.labeling import QueueNotFoundError, no_assignments_note, queue_settings
    from db.labels import resolve_rubric
    from rubrics import RubricError

    try:
        resolve_rubric(obj.store, rubric)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None
    name = (annotator or default_annotator()).strip()
    if queue is not None:
        try:
            queue_settings(obj.store, queue)
        except QueueNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        empty = no_assignments_note(obj.store, queue, name)
        if empty is not None:
            raise click.ClickException(
                f"{empty}: pass --annotator with one of those names, or create a queue that "
                "includes you with `reviewer queue create`"
            )
    if obj.store.transcript_count() == 0:
        raise click.ClickException(f"{obj.db_path} holds no transcripts: import some first")
    return name
