"""Progress of long work on stderr: a bar on a terminal, a line now and then otherwise.

Commands hand the callback this yields (``update(done, total)``) to the work; nothing shows
for work that ends within ``quiet_seconds``, so short runs print nothing extra.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Off a terminal (a log file, CI): one line at most this often.
LINE_EVERY_SECONDS = 5.0


@contextmanager
def progress(
    label: str,
    enabled: bool = True,
    *,
    minimum_total: int = 0,
    quiet_seconds: float = 1.0,
    unit: str = "",
) -> Iterator[Callable[[int, int], None] | None]:
    """Yields ``update(done, total)``, or None when disabled. Work whose total is below
    ``minimum_total``, or that is over within ``quiet_seconds``, shows nothing."""
    if not enabled:
        yield None
        return
    started = time.monotonic()
    if not sys.stderr.isatty():
        last = [started]

        def line(done: int, total: int) -> None:
            now = time.monotonic()
            if total < minimum_total or done >= total or now - started < quiet_seconds:
                return
            if now - last[0] >= LINE_EVERY_SECONDS or last[0] == started:
                last[0] = now
                share = f" ({100 * done / total:.0f}%)" if total else ""
                print(f"{label}: {done:,} of {total:,}{unit}{share}", file=sys.stderr, flush=True)

        yield line
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn(label), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, auto_refresh=True) as bar:
        task = bar.add_task(label, total=None, visible=False)

        def update(done: int, total: int) -> None:
            if total >= minimum_total and time.monotonic() - started >= quiet_seconds:
                bar.update(task, completed=done, total=total, visible=True)

        yield update
