"""Progress of long work on stderr: a bar on a terminal, a line every few seconds otherwise
(a log, a pipe, a batch job), so that nobody watches a silent command wonder if it hangs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LINE_EVERY_SECONDS = 10.0


@contextmanager
def progress(
    label: str, total: int | None = None, *, unit: str = ""
) -> Iterator[Callable[[int, int | None], None]]:
    """Yields ``update(done, total)``. On a terminal: a rich bar (removed at the end).
    Elsewhere: ``label: done of total (p%), elapsed`` every ``LINE_EVERY_SECONDS``, and once
    at the end if any line was printed."""
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from reviewer.console import make_console

        columns = (
            TextColumn(label, markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=make_console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total)

            def update(done: int, new_total: int | None = None) -> None:
                bar.update(task, completed=done, total=new_total or total)

            yield update
        return

    started = time.monotonic()
    state = {"next": started + LINE_EVERY_SECONDS, "printed": None, "last": None}

    def line(done: int, of: int | None) -> None:
        elapsed = time.monotonic() - started
        where = f"{done:,} of {of:,}{unit} ({100 * done / of:.0f}%)" if of else f"{done:,}{unit}"
        print(f"{label}: {where}, {elapsed:.0f} s", file=sys.stderr, flush=True)
        state["printed"] = (done, of)

    def update(done: int, new_total: int | None = None) -> None:
        state["last"] = (done, new_total or total)
        if time.monotonic() >= state["next"]:
            line(done, new_total or total)
            state["next"] = time.monotonic() + LINE_EVERY_SECONDS

    yield update
    if state["printed"] is not None and state["last"] not in (None, state["printed"]):
        line(*state["last"])
