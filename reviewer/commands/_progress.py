"""Progress of long commands on stderr: Rich bars on a terminal, a line now and then
otherwise (a log, a pipe, a CI job), so that long work is never silent.

Made from the bars ``reviewer import`` showed; import, export and the demo build share it:
``Bars`` for several tasks at once, ``progress`` for one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from reviewer.console import echo_literal, make_console

# Seconds between two progress lines when stderr is not a terminal ($REVIEWER_PROGRESS_SECONDS).
LINE_EVERY = 10.0
# Variables that make Rich treat any stream as a terminal.
_FORCING = ("FORCE_COLOR", "FORCE_TERMINAL", "TTY_COMPATIBLE")


class _NoBars:
    """Stands in for Rich's Progress where no bar can show."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def add_task(self, description: str, total: int | None = None) -> object:
        return object()

    def update(self, task, **fields) -> None: ...

    def remove_task(self, task) -> None: ...


class Bars:
    """Progress bars on stderr, one per task, removed when done.

    On a terminal: Rich bars (description, bar, percent, time left). Elsewhere, with
    ``lines``: one line per task at most every ``every`` seconds, e.g.
    ``exporting labels.jsonl: 40,000 of 200,000 transcripts (20%), 12 s``, and one when
    the task ends.
    """

    def __init__(self, *, lines: bool = True, every: float | None = None, unit: str = ""):
        self.terminal = False
        self._progress = _NoBars()
        # Rich only where a bar can show: off a terminal (a pipe, a log, a script) its import
        # would be a sixth of a second of a three-second command for nothing.
        if sys.stderr.isatty() or any(os.environ.get(v) for v in _FORCING):
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            console = make_console(stderr=True)
            self.terminal = console.is_terminal
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
                disable=not self.terminal,
            )
        self.lines = lines and not self.terminal
        if every is None:
            try:
                every = float(os.environ.get("REVIEWER_PROGRESS_SECONDS", LINE_EVERY))
            except ValueError:
                every = LINE_EVERY
        self.every = every
        self.unit = unit
        # id -> [description, total, done, started, last line, done then, unit]
        self._tasks: dict = {}

    def start(self) -> None:
        self._progress.start()

    def add(self, description: str, total: int | None, *, unit: str | None = None) -> object:
        """A new task; ``unit`` names what it counts when not the bars' own unit."""
        task = self._progress.add_task(description, total=total)
        now = time.monotonic()
        self._tasks[task] = [
            description,
            total,
            0,
            now,
            now,
            None,
            self.unit if unit is None else unit,
        ]
        return task

    def update(self, task, done: int, total: int | None = None) -> None:
        if total is not None:
            self._progress.update(task, completed=done, total=total)
        else:
            self._progress.update(task, completed=done)
        state = self._tasks.get(task)
        if state is None:
            return
        state[2] = done
        if total is not None:
            state[1] = total
        now = time.monotonic()
        if self.lines and now - state[4] >= self.every:
            state[4], state[5] = now, done
            self._line(state, now)

    def remove(self, task) -> None:
        state = self._tasks.pop(task, None)
        if state is not None and self.lines and state[5] is not None and state[5] != state[2]:
            self._line(state, time.monotonic())  # where it ended, if it said anything
        self._progress.remove_task(task)

    def stop(self) -> None:
        for task in list(self._tasks):
            self.remove(task)
        self._progress.stop()

    def _line(self, state: list, now: float) -> None:
        description, total, done, started = state[:4]
        unit = f" {state[6]}" if state[6] else ""
        if total:
            text = f"{description}: {done:,} of {total:,}{unit} ({100 * done / total:.0f}%)"
        else:
            text = f"{description}: {done:,}{unit}"
        echo_literal(f"{text}, {now - started:.0f} s", err=True)


@contextmanager
def progress(
    label: str,
    total: int | None = None,
    *,
    enabled: bool = True,
    minimum_total: int = 0,
    quiet_seconds: float = 1.0,
    unit: str = "",
) -> Iterator[Callable[..., None] | None]:
    """One task's progress: yields ``update(done, total=None)``, or None when not ``enabled``.

    Nothing shows for work whose total is below ``minimum_total`` or that is over within
    ``quiet_seconds``; then a bar on a terminal, otherwise ``label: done of total unit (p%),
    elapsed`` every few seconds and once where it ended.
    """
    if not enabled:
        yield None
        return
    bars = Bars(unit=unit)
    started = time.monotonic()
    task: list = []

    def update(done: int, new_total: int | None = None) -> None:
        if not task:
            of = total if new_total is None else new_total
            if (of or 0) < minimum_total or time.monotonic() - started < quiet_seconds:
                return
            bars.start()
            task.append(bars.add(label, of))
        bars.update(task[0], done, new_total)

    try:
        yield update
    finally:
        if task:
            bars.stop()
