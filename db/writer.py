"""One thread that runs an app's database work, a job at a time, in the order it was handed in.

A screen must never wait on SQLite, and its acts must reach the database in the order they
were typed (an undo typed right after a commit undoes that commit). Handing every job to one
thread gives both: ``submit`` returns at once with a ``Future``, jobs run first come first
served on the writer's own connection (one connection per thread: ``Store`` keeps them), and
``close`` lets the queued work finish before the thread ends.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from db.store import Store

T = TypeVar("T")


class SerialWriter:
    def __init__(self, store: Store, *, name: str = "reviewer-db") -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue ``job``; its result (or exception) arrives in the returned future."""
        return self._pool.submit(job)

    def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the writer thread after everything queued before it; wait for it."""
        return self.submit(job).result()

    def close(self, *, wait: bool = True) -> None:
        """Finish the queued jobs, close the writer thread's connection, stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._pool.submit(self._close_connection)
        self._pool.shutdown(wait=wait)

    def _close_connection(self) -> Any:
        self.store.close()
