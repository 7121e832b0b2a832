"""The classifier's database writes, off the event loop, on the app's serial writer.

At a few hundred calls per second a commit on the event loop's thread (a few milliseconds on
a busy disk) would hold back every response waiting to be read. Writes go to ``db.writer``'s
one writer thread, on its own connection, as soon as they arrive; writes that queue up while
a commit is under way go into the next commit together (group commit), so a kill loses at
most the calls still in flight, and nothing is held back on purpose.

A database that another process keeps busy makes the writer wait, never drop: a group that
could not get the write lock within the store's wait is tried again, for as long as it takes
(each answer was paid for), and ``on_busy`` is told each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from db.connection import DatabaseBusyError
from db.store import Store
from db.writer import SerialWriter

MAX_GROUP = 256


class Writer:
    """The runner's side of the app's one serial database writer (``db.writer``): writes made
    in one turn of the event loop are handed over together, and whatever piled up while a
    commit ran goes into the next commit (up to ``MAX_GROUP`` writes)."""

    def __init__(self, store: Store, on_busy: Callable[[str], None] | None = None):
        self.store = store
        self.on_busy = on_busy
        self.busy_retries = 0
        self._serial = SerialWriter(store, name="reviewer-classify-db")
        self._pending: list[tuple] = []  # this loop turn's writes (event-loop thread only)
        self._queued: list[tuple] = []  # handed over, not yet written
        self._lock = threading.Lock()
        self._draining = False

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the writer thread, committed before this returns."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._hand_off)
        self._pending.append((fn, args, kwargs, future, loop))
        return await future

    def _hand_off(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        with self._lock:
            self._queued.extend(pending)
            if self._draining:
                return
            self._draining = True
        self._serial.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                group, self._queued = self._queued[:MAX_GROUP], self._queued[MAX_GROUP:]
                if not group:
                    self._draining = False
                    return
            self._run(group)

    def close(self) -> None:
        """Write what is still queued, then stop the writer thread."""
        self._hand_off()
        self._serial.close()

    def _run(self, group: list[tuple]) -> None:
        while True:
            results: list[tuple[Any, Any, Any, BaseException | None]] = []
            try:
                with self.store.transaction():
                    for fn, args, kwargs, future, loop in group:
                        try:
                            results.append((future, loop, fn(*args, **kwargs), None))
                        except Exception as exc:  # one bad write must not sink the others
                            results.append((future, loop, None, exc))
            except DatabaseBusyError as exc:  # nothing was written: wait again, drop nothing
                self.busy_retries += 1
                if self.on_busy is not None:
                    self.on_busy(f"{exc}; {len(group)} write(s) kept, trying again")
                continue
            except Exception as exc:  # the commit itself failed: every caller hears of it
                results = [(future, loop, None, exc) for _, _, _, future, loop in group]
            break
        by_loop: dict[Any, list[tuple]] = {}
        for future, loop, value, exc in results:
            by_loop.setdefault(loop, []).append((future, value, exc))
        for loop, settled in by_loop.items():
            # A closed loop has nobody waiting for these any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, value, exc in settled:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
