"""``reviewer classify``: label transcripts with an LLM classifier through a rubric."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reviewer.classify.registry import providers
from reviewer.cli import Context, pass_context


def _progress_callback(console, total_hint: int):
    """A Rich progress bar (items, calls/s, ETA, errors, spend) and its update function."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]classify[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items"),
        TextColumn("{task.fields[rate]:>7} calls/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("errors {task.fields[errors]}"),
        TextColumn("${task.fields[spend]:.4f}"),
        console=console,
        transient=False,
    )
    task = progress.add_task("classify", total=total_hint or None, rate="-", errors=0, spend=0.0)

    def update(stats) -> None:
        import time

        elapsed = max(time.monotonic() - stats.started, 1e-6)
        progress.update(
            task,
            total=stats.items or None,
            completed=stats.items_done,
            rate=f"{stats.calls_made / elapsed:.1f}",
            errors=stats.calls_failed + stats.samples_unparseable,
            spend=stats.cost_usd,
        )

    return progress, update


def _ids(ids: list[int]) -> str:
    from reviewer.classify.runner import MAX_IDS_SHOWN

    shown = ", ".join(str(i) for i in ids[:MAX_IDS_SHOWN])
    more = len(ids) - MAX_IDS_SHOWN
    return "transcript ids " + shown + (f" and {more} more (all in --json)" if more > 0 else "")


def _print_summary(console, summary: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from reviewer.console import literal

    if summary.get("dry_run"):
        table = Table(title="dry run: nothing was sent", show_header=False)
        for key in (
            "run",
            "mode",
            "items",
            "items_skipped_empty",
            "calls_cached",
            "calls_to_make",
            "samples_to_make",
            "est_input_tokens",
            "max_output_tokens",
            "est_cost_usd_upper",
            "token_estimate",
        ):
            table.add_row(key, literal(summary[key]))
        console.print(table)
        if not summary["price_known"]:
            console.print("no price for this model: give one with --prices FILE.toml")
        return
    table = Table(
        title=Text(f"classifier run {summary['run_id']}: {summary['status']}"), show_header=False
    )
    rows = [
        ("run (rater)", summary["run"]),
        (
            "items",
            f"{summary['items']} ({summary['items_labeled_now']} labeled now, "
            f"{summary['items_labeled_total']} by this run in all)",
        ),
        ("label events written", summary["label_events"]),
        (
            "calls",
            f"{summary['calls_made']} made, {summary['calls_cached']} from cache, "
            f"{summary['calls_failed']} failed (retried next run)",
        ),
        (
            "unparseable samples",
            f"{summary['samples_unparseable']} (stored raw, not labeled)"
            + (
                f", {summary['samples_reasked']} asked again"
                if summary["retry_unparseable"]
                else ""
            ),
        ),
        ("rate-limited responses", summary["rate_limited_responses"]),
        (
            "tokens",
            f"{summary['input_tokens']:,} in, {summary['output_tokens']:,} out, "
            f"{summary['cache_read_tokens']:,} cache read, "
            f"{summary['cache_write_tokens']:,} cache write",
        ),
        (
            "cost",
            f"${summary['cost_usd']:.4f} now, ${summary['run_cost_usd']:.4f} for the run"
            + ("" if summary["price_known"] else " (no price known for this model)"),
        ),
        ("elapsed", f"{summary['elapsed_s']:.1f} s"),
    ]
    if summary["mode"] == "batch":
        rows.append(
            (
                "batches",
                f"{summary['batches_submitted']} submitted, "
                f"{summary['batches_collected']} collected, "
                f"{summary['batches_pending']} pending",
            )
        )
    if summary["items_skipped_empty"]:
        rows.insert(2, ("skipped: no scratchpad", summary["items_skipped_empty"]))
    if summary["items_without_answer"]:
        rows.insert(2, ("items without an answer", summary["items_without_answer"]))
    for key, value in rows:
        table.add_row(key, literal(value))  # run names come from the user: shown literally
    console.print(table)
    if summary["n_fallback"]:
        console.print(Text(f"asked once per vote: {summary['n_fallback']}"))
    if summary["items_skipped_empty"]:
        console.print(
            Text(
                f"{summary['items_skipped_empty']} transcripts have an empty scratchpad (reasoning "
                "absent or redacted) and were not sent: " + _ids(summary["items_skipped_empty_ids"])
            )
        )
    if summary["items_without_answer"]:
        hint = (
            "raise --retry-unparseable to ask again"
            if summary["retry_unparseable"]
            else "run again with --retry-unparseable N to ask again"
        )
        console.print(
            Text(
                f"{summary['items_without_answer']} transcripts have no parseable answer ({hint}): "
                + _ids(summary["items_without_answer_ids"])
            )
        )
    if summary["stopped_reason"] == "max-cost":
        worst = summary.get("max_cost_next_call_usd")
        left = max(summary["max_cost_usd"] - summary["run_cost_usd"], 0.0)
        why = (
            f" (the next call could cost up to ${worst:.4f}, ${left:.4f} of the cap is left)"
            if worst is not None
            else ""
        )
        console.print(
            f"stopped before exceeding --max-cost ${summary['max_cost_usd']}{why}: "
            "raise it and run the same command again to go on"
        )
    elif summary["stopped_reason"] == "errors":
        console.print(
            Text(
                "stopped: calls fail and would go on failing (a refused key, an "
                "unknown model, a server that does not answer); the last error was: "
            )
            + literal(summary["last_error"])
            + Text("\nFix the cause and run the same command again: finished calls are kept.")
        )
    elif summary["status"] == "incomplete" and summary["calls_failed"] and summary["last_error"]:
        console.print(
            literal(
                f"some calls failed (last error: {summary['last_error']}): run "
                "the same command again to retry only those"
            )
        )
    elif summary["status"] == "waiting" and summary["mode"] == "online":
        console.print(
            f"{summary['items_waiting_in_batch']} items wait in a batch: run the same "
            "command with --batch to collect them"
        )
    elif summary["status"] == "waiting":
        console.print("batches are still running: run the same command again later to collect")
    elif summary["status"] == "incomplete" and summary["calls_failed"]:
        console.print("some calls failed: run the same command again to retry only those")


@click.command("classify")
@click.option(
    "--rubric",
    "rubric_ref",
    required=True,
    help="Built-in rubric id (see `reviewer rubrics list`) or a rubric .toml file.",
)
@click.option(
    "--model",
    "model_spec",
    required=True,
    metavar="PROVIDER:MODEL",
    help=f"e.g. {' or '.join(f'{c.name}:{c.example_model}' for c in providers().values())}. "
    f"Keys come only from {' / '.join(c.key_env for c in providers().values())}.",
)
@click.option(
    "--votes",
    type=click.IntRange(1, 128),
    default=None,
    help="Samples per item (default: the rubric's, 20).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(0, 2),
    default=None,
    help="Sampling temperature (default: the rubric's, 1.0).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Vote fraction at which a category is chosen (default: the rubric's, 0.4).",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(1),
    default=None,
    help="Output token cap per sample (default: the rubric's).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    default=16,
    show_default=True,
    help="Calls in flight at most (fewer while the provider rate-limits).",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Use the provider's batch API: the first run submits, later runs collect.",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(0),
    default=None,
    metavar="USD",
    help="Stop before the run's total spend could exceed this.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Estimate calls, tokens (chars/4) and cost; send nothing, write nothing.",
)
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="Another endpoint, e.g. an OpenAI-compatible server (default: "
    f"{' / '.join('$' + c.base_url_env for c in providers().values())}, else the provider's).",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N transcripts.")
@click.option(
    "--model-filter",
    default=None,
    metavar="MODEL",
    help="Only transcripts of this model (as imported).",
)
@click.option("--condition", default=None, help="Only transcripts of this condition.")
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML or JSON price table overriding the built-in one.",
)
@click.option(
    "--name",
    default=None,
    help="Run name, used as the rater of its labels (default: model/rubric/params).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=120.0,
    show_default=True,
    help="Seconds before one HTTP attempt is abandoned (and retried).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="SDK retries per call for 429, 5xx, timeouts and connection errors.",
)
@click.option(
    "--retry-unparseable",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    metavar="N",
    help="Ask again, up to N rounds, for votes whose answer did not parse (new samples, "
    "never the cached answer); the unparseable answers stay stored.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@pass_context
def classify(
    obj: Context,
    rubric_ref: str,
    model_spec: str,
    votes: int | None,
    temperature: float | None,
    threshold: float | None,
    max_tokens: int | None,
    concurrency: int,
    batch: bool,
    max_cost: float | None,
    dry_run: bool,
    base_url: str | None,
    limit: int | None,
    model_filter: str | None,
    condition: str | None,
    prices_path: Path | None,
    name: str | None,
    timeout: float,
    max_retries: int,
    retry_unparseable: int,
    as_json: bool,
) -> None:
    """Label transcripts with an LLM classifier, N votes per item, through a rubric.

    Every call is stored and reused: running the same command again finishes at once and
    costs nothing, and a run that was interrupted (Ctrl-C, a kill) resumes where it stopped.
    Labels are written as `classifier` events (rater = the run name) once an item's votes
    are in. Unparseable answers (and answers giving a field two different values) are stored
    raw and counted, never guessed. Transcripts whose scratchpad is empty are not sent when
    the rubric asks about the scratchpad; they are counted and listed.

    \b
    Exit status:
      0    finished: every item labeled (or skipped for want of a scratchpad)
      1    nothing was run: bad options, a missing key, no transcripts
      2    usage error
      3    incomplete: some calls failed, or some items have no parseable answer
           (run again to retry the failed calls; --retry-unparseable N re-asks)
      4    stopped before --max-cost could be exceeded
      5    stopped by errors: calls kept failing (refused key, unknown model, server down)
      6    waiting: answers still wait in a provider batch (run again with --batch)
      7    refused: another live process is running the same rubric version, model and
           parameters; nothing was sent (run again when it has finished: it resumes)
      130  interrupted (Ctrl-C); finished calls are kept, run again to resume
    """
    import asyncio

    from rich.console import Console

    from db.classifier import RunInProgress
    from db.labels import resolve_rubric
    from reviewer.classify.base import ConfigError, ProviderError, scrub
    from reviewer.classify.prices import PriceFileError, load_prices
    from reviewer.classify.runner import EXIT_STATUS, Options, Runner, exit_status
    from reviewer.console import echo_literal
    from rubrics import RubricError

    try:
        rubric = resolve_rubric(obj.store if obj.db_path.exists() else None, rubric_ref)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None
    spec = rubric.classifier
    if spec is None:
        raise click.ClickException(
            f"rubric {rubric.id!r} ({rubric.origin}) has no [classifier] section: add one with "
            "system, template and threshold to classify with it"
        )
    if batch and retry_unparseable:
        raise click.UsageError(
            "--retry-unparseable asks again at the end of an online run; a --batch run cannot "
            "(collect the batch, then run the same command without --batch to ask again)"
        )
    try:
        prices = load_prices(prices_path) if prices_path else {}
    except PriceFileError as exc:
        raise click.ClickException(str(exc)) from None
    if not obj.db_path.exists():
        raise click.ClickException(f"no database at {obj.db_path}: import transcripts first")
    opts = Options(
        rubric=rubric,
        model_spec=model_spec,
        votes=votes or spec.votes,
        temperature=spec.temperature if temperature is None else temperature,
        threshold=spec.threshold if threshold is None else threshold,
        max_tokens=max_tokens or spec.max_tokens,
        concurrency=concurrency,
        batch=batch,
        max_cost=max_cost,
        dry_run=dry_run,
        base_url=base_url,
        limit=limit,
        model_filter=model_filter,
        condition=condition,
        prices=prices,
        name=name,
        timeout=timeout,
        max_retries=max_retries,
        retry_unparseable=retry_unparseable,
    )
    console = Console(stderr=True, highlight=False)
    try:
        runner = Runner(obj.store, opts)
    except ProviderError as exc:
        raise click.ClickException(scrub(str(exc))) from None
    if not runner.transcript_ids():
        filters = ", ".join(
            f"{flag} {value}"
            for flag, value in (("--model-filter", model_filter), ("--condition", condition))
            if value
        )
        raise click.ClickException(
            f"no transcripts to classify in {obj.db_path}"
            + (f" with {filters}" if filters else "")
            + ": import some with `reviewer import`, or loosen the filters"
        )
    progress = None
    if not dry_run and not as_json and console.is_terminal:
        progress, update = _progress_callback(console, 0)
        runner.on_progress = update
    try:
        if progress is not None:
            with progress:
                summary = asyncio.run(runner.run())
        else:
            summary = asyncio.run(runner.run())
    except ConfigError as exc:
        raise click.ClickException(scrub(str(exc))) from None
    except RunInProgress as exc:
        echo_literal(f"Error: {scrub(str(exc))}", err=True)
        sys.exit(EXIT_STATUS["busy"])
    except ProviderError as exc:
        raise click.ClickException(
            f"{scrub(str(exc))}\nEvery finished call is saved: run the same command again to "
            "resume."
        ) from None
    except KeyboardInterrupt:
        console.print(
            "interrupted: every finished call is saved; run the same command again to resume"
        )
        sys.exit(EXIT_STATUS["interrupted"])
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print_summary(Console(highlight=False), summary)
    code = exit_status(summary)
    if code:
        sys.exit(code)
