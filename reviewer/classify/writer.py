"""A database writer thread, so that SQLite commits never stall the event loop.

At a few hundred calls per second a commit on the event loop's thread (a few milliseconds on
a busy disk) would hold back every response waiting to be read. The writer runs each write in
its own thread, on its own connection, as soon as it arrives; writes that queue up while a
commit is under way go into the next commit together (group commit), so a kill loses at most
the calls still in flight, and nothing is held back on purpose.

A database that another process keeps busy makes the writer wait, never drop: a group that
could not get the write lock within the store's wait is tried again, for as long as it takes
(each answer was paid for), and ``on_busy`` is told each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from db.connection import DatabaseBusyError
from db.store import Store

MAX_GROUP = 256


class Writer:
    def __init__(self, store: Store, on_busy: Callable[[str], None] | None = None):
        self.store = store
        self.on_busy = on_busy
        self.busy_retries = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending: list[tuple] = []
        self._thread = threading.Thread(target=self._loop, name="reviewer-db-writer", daemon=True)
        self._thread.start()

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
        if pending:
            self._queue.put(pending)

    def close(self) -> None:
        self._hand_off()
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        stop = False
        try:
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                group = list(first)
                while len(group) < MAX_GROUP:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    group.extend(item)
                self._run(group)
        finally:
            self.store.close()

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
