"""Reading a large file in a second process while this one writes to the database.

Parsing and converting records (JSON, scratchpad splitting, classifier labels) costs about as
much as inserting them, and the two need not wait for each other: a child process runs the
reader, turns each item into what the parent stores (``transform``: for records, their encoded
rows) and sends them in small batches through a pipe, whose bounded buffer keeps memory flat
(the child blocks while the parent is busy). All database work stays in the parent. Small
files are read in-process: starting a process costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from importers.base import ImportOptions, reader_for

PREFETCH_MIN_BYTES = 16 * 1024 * 1024
BATCH = 200


Transform = Callable[[Any], Any]


def _identity(item: Any) -> Any:
    return item


def _produce(fmt: str, path: str, options: ImportOptions, transform: Transform, conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt means
    position = [0]
    options.on_progress = lambda n: position.__setitem__(0, n)
    batch: list[Any] = []
    try:
        for item in reader_for(fmt)(Path(path), options):
            batch.append(transform(item))
            if len(batch) >= BATCH:
                conn.send(("items", batch, position[0]))
                batch = []
        conn.send(("items", batch, position[0]))
        conn.send(("done", None, position[0]))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
        try:
            conn.send(("error", exc, position[0]))
        except Exception:  # noqa: BLE001 - unpicklable: send its text instead
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), position[0]))
    finally:
        conn.close()


def read_prefetched(
    fmt: str, path: Path, options: ImportOptions, transform: Transform = _identity
) -> Iterator[Any]:
    """``transform`` of each item of ``reader_for(fmt)(path, options)``, in a child process.

    ``transform`` must be picklable (a module-level function or an instance of a module-level
    class): the child is started with spawn."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    child_options = ImportOptions(**{**options.__dict__, "on_progress": None})
    process = ctx.Process(
        target=_produce, args=(fmt, str(path), child_options, transform, sender), daemon=True
    )
    process.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload, position = receiver.recv()
            except EOFError:
                raise RuntimeError(
                    f"the reader process for {path} stopped unexpectedly (exit code "
                    f"{process.exitcode})"
                ) from None
            if options.on_progress is not None:
                options.on_progress(position)
            if kind == "items":
                yield from payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join(timeout=5)


def read_records(
    fmt: str, path: Path, options: ImportOptions, size: int, transform: Transform = _identity
) -> Iterator[Any]:
    if size >= PREFETCH_MIN_BYTES:
        return read_prefetched(fmt, path, options, transform)
    return map(transform, reader_for(fmt)(path, options))
