"""Reading a large file in a second process while this one writes to the database.

Parsing and converting records (JSON, scratchpad splitting, classifier labels) costs about as
much as inserting them, and the two need not wait for each other: a child process runs the
reader, turns each item into what the parent stores (``transform``: for records, their encoded
rows) and sends them in small batches through a pipe, whose bounded buffer keeps memory flat
(the child blocks while the parent is busy). All database work stays in the parent. Small
files are read in-process: starting a process costs more than it saves.

A large JSON array laid out one record per group of lines (as the alignment-faking pipeline
writes its results) is cut into parts, one reader process each, so that parsing is shared
too, not only converting (``read_in_parts``); the cuts are checked as the parts are read,
and where one does not hold the file is read on whole. Other shareable files get readers
that each parse the whole file and convert every n-th record (``read_prefetched``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from importers.base import ImportOptions, Rejected, reader_for
from importers.jsonstream import array_cuts

PREFETCH_MIN_BYTES = 16 * 1024 * 1024
BATCH = 200
# Converting a hughes record (scratchpad split, quotes located, rows encoded) costs several
# times parsing it, so two readers that both parse everything but convert half each finish
# sooner when a core is free. Only formats whose reader yields one item per record.
READERS = 2
SHARDABLE = frozenset({"hughes"})
# Parts of a file read by processes of their own, at most (one per core, the writer aside).
MAX_PARTS = 4
# Free space wanted beside the database, in file sizes, before reading in parts: the staging
# file and the later parts' spooled items each take about the file's size (encoded rows are
# about 0.95 of the hughes JSON they come from).
SPOOL_ROOM = 3


# Where Linux tells each CPU's time spent busy and idle since boot.
PROC_STAT = "/proc/stat"
# How long spare_cores watches the CPUs: long enough to see a busy core as busy.
IDLE_SAMPLE_SECONDS = 0.1


def spare_cores() -> float:
    """Cores this process may use that other work is not using now: the idle time of the
    CPUs it may run on, watched for ``IDLE_SAMPLE_SECONDS`` (``/proc/stat``); where that
    cannot be read, its usable cores less the one-minute load average. The load average lags
    a minute behind: just after a busy spell (generating the very file to import, say) it
    counts as busy cores that are idle now, and the import would take one reader where two
    are faster. (A container limited by a CPU quota rather than a set of CPUs looks freer
    than it is, by either measure.)"""
    from db.connection import usable_cores

    idle = _idle_cores(IDLE_SAMPLE_SECONDS)
    if idle is not None:
        return idle
    usable = usable_cores()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return usable - load


def _cpu_times() -> dict[int, tuple[int, int]]:
    """Per CPU: (idle, total) clock ticks since boot."""
    times = {}
    with open(PROC_STAT, encoding="ascii") as f:
        for line in f:
            name, _, rest = line.partition(" ")
            if name.startswith("cpu") and name[3:].isdigit():
                # user nice system idle iowait irq softirq steal (guest time is within user)
                ticks = [int(x) for x in rest.split()[:8]]
                times[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks))
    return times


def _idle_cores(seconds: float) -> float | None:
    """How many of this process's CPUs were idle over the next ``seconds``, in cores (None
    where the kernel does not say)."""
    try:
        cpus = os.sched_getaffinity(0)
        before = _cpu_times()
        time.sleep(seconds)
        after = _cpu_times()
    except (AttributeError, OSError, ValueError, IndexError):
        return None
    idle = 0.0
    for cpu in cpus:
        if cpu not in before or cpu not in after:
            return None
        total = after[cpu][1] - before[cpu][1]
        if total > 0:
            idle += (after[cpu][0] - before[cpu][0]) / total
        else:  # no tick counted on it in the interval: nothing ran there
            idle += 1.0
    return idle


def reader_count(fmt: str) -> int:
    """Two readers parse the file twice to convert it in half the time: worth it only when
    two cores are free. On a busy machine (measured with another job on one of two cores)
    the second reader only adds its parse: 7.6 s of CPU against 5.8 s for one, and longer."""
    if fmt not in SHARDABLE:
        return 1
    return READERS if spare_cores() >= 1.5 else 1


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


class SpoolFailed(Exception):
    """What a reader process sent could not be kept on disk (the disk is full, say)."""


class ReaderStopped(RuntimeError):
    """A reader process ended without saying it was done (killed, or out of memory)."""


class _Spool:
    """Everything a reader process sends, kept in an unnamed file until it is wanted: the
    reader of a later part of a file runs ahead while the parts before it are consumed, with
    memory flat. A thread drains the pipe into the file as fast as the reader fills it."""

    def __init__(self, directory: Path | None):
        self._file = tempfile.TemporaryFile(dir=directory, prefix="reviewer-import-")  # noqa: SIM115
        self._receiver = None
        self._written = 0
        self._read = 0
        self._ended = False
        self._failure: OSError | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._drain, name="import-spool", daemon=True)

    def start(self, receiver) -> None:
        self._receiver = receiver
        self._thread.start()

    def _drain(self) -> None:
        fd = self._file.fileno()
        try:
            while True:
                try:
                    data = self._receiver.recv_bytes()
                except (EOFError, OSError):  # the reader has finished, or is gone
                    return
                view = memoryview(len(data).to_bytes(8, "little") + data)
                size = len(view)
                while view:
                    view = view[os.write(fd, view) :]
                with self._changed:
                    self._written += size
                    self._changed.notify()
        except OSError as exc:
            with self._changed:
                self._failure = exc
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify()

    def _pread(self, size: int) -> bytes:
        data = os.pread(self._file.fileno(), size, self._read)
        while len(data) < size:  # a regular file answers in full; this is only to be sure
            more = os.pread(self._file.fileno(), size - len(data), self._read + len(data))
            if not more:
                raise SpoolFailed("the spool file is shorter than what was written to it")
            data += more
        self._read += size
        return data

    def recv(self) -> Any:
        with self._changed:
            while self._written == self._read:
                if self._failure is not None:
                    raise SpoolFailed(str(self._failure))
                if self._ended:
                    raise EOFError
                self._changed.wait()
        size = int.from_bytes(self._pread(8), "little")
        return pickle.loads(self._pread(size))

    def close(self) -> bool:
        """Close the file once the thread has stopped; False (nothing closed) if it has not,
        so that it cannot write to a descriptor reused meanwhile."""
        if self._thread.is_alive():
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                return False
        self._file.close()
        return True


class _Reader:
    """One reader process and the items it has sent that are not consumed yet; with
    ``spool``, what it sends is kept in a file (in that folder, or the system's temporary
    one if it is None) until it is consumed."""

    def __init__(
        self,
        ctx,
        fmt: str,
        path: Path,
        options: ImportOptions,
        transform: Transform,
        spool: Path | None | bool = False,
    ):
        self.path = path
        # The spool's file first: if it cannot be made, no process has been started.
        self.spool = None if spool is False else _Spool(spool or None)
        self.receiver, sender = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_produce, args=(fmt, str(path), options, transform, sender), daemon=True
        )
        try:
            self.process.start()
        except BaseException:
            if self.spool is not None:
                self.spool.close()
            raise
        sender.close()
        if self.spool is not None:
            self.spool.start(self.receiver)
        self.items: deque[Any] = deque()
        self.done = False

    def next(self, on_progress: Callable[[int], None] | None) -> Any:
        while not self.items:
            if self.done:
                return _END
            try:
                message = self.receiver.recv() if self.spool is None else self.spool.recv()
                kind, payload, position = message
            except EOFError:
                raise ReaderStopped(
                    f"the reader process for {self.path} stopped unexpectedly (exit code "
                    f"{self.process.exitcode})"
                ) from None
            if on_progress is not None:
                on_progress(position)
            if kind == "items":
                self.items.extend(payload)
            elif kind == "error":
                raise payload
            else:
                self.done = True
        return self.items.popleft()

    def close(self) -> None:
        if self.spool is None:
            self.receiver.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        if self.spool is not None and self.spool.close():  # its thread stops at the pipe's end
            self.receiver.close()


_END = object()


def read_prefetched(
    fmt: str,
    path: Path,
    options: ImportOptions,
    transform: Transform = _identity,
    readers: int = 1,
) -> Iterator[Any]:
    """``transform`` of each item of ``reader_for(fmt)(path, options)``, in child processes.

    With ``readers`` > 1 each child parses the whole file but converts only every n-th
    record (``ImportOptions.shard``), and the items are merged back in file order: the
    format's reader must yield exactly one item per record, and end with the fatal rejection
    if there is one. ``transform`` must be picklable (a module-level function or an instance
    of a module-level class): the children are started with spawn."""
    ctx = multiprocessing.get_context("spawn")
    children: list[_Reader] = []
    try:
        for k in range(readers):
            shard = (k, readers) if readers > 1 else None
            child_options = ImportOptions(
                **{**options.__dict__, "on_progress": None, "shard": shard}
            )
            children.append(_Reader(ctx, fmt, path, child_options, transform))
        i = 0
        while True:
            # Record i was converted by reader i mod n; progress is told by the first one.
            item = children[i % readers].next(options.on_progress if i % readers == 0 else None)
            if item is _END:
                return
            yield item
            if isinstance(item, Rejected) and (item.fatal or item.kind in ("empty", "file")):
                return  # nothing after it can be read, by any of the readers
            i += 1
    finally:
        for child in children:
            child.close()


_NOTHING = object()


def read_in_parts(
    fmt: str,
    path: Path,
    options: ImportOptions,
    transform: Transform,
    cuts: list[tuple[int, int]],
    spool: Path | None = None,
) -> Iterator[Any]:
    """``read_prefetched`` with one reader process per part of a JSON array, cut at
    ``cuts`` (``importers.jsonstream.array_cuts``): each parses only its part. The first
    part's items are passed on as they come; the later parts' readers run at the same time,
    their items kept in files (in the folder ``spool``) until their turn.

    A cut is a guess, confirmed by reading: a part must parse to its end as a whole array
    of exactly the records predicted. Where one does not (or a part ends in an error, whose
    words and place must be those of a whole read), the parts' readers are stopped and one
    reader reads on through the whole file from the first record not yet passed on. A
    part's last item is held back until its part is confirmed: a wrong cut can make only the
    last item before it wrong."""
    size = path.stat().st_size
    parts = []
    previous_comma, first = None, 0
    for comma, before in [*cuts, (size, None)]:
        start = 0 if previous_comma is None else previous_comma + 1
        parts.append(((start, comma, first), None if before is None else before - first))
        previous_comma, first = comma, before
    ctx = multiprocessing.get_context("spawn")
    children: list[_Reader] = []
    passed = 0
    told = [0]
    tell = options.on_progress

    def progress(position: int) -> None:  # never backwards, even when the whole file is read on
        if tell is not None and position > told[0]:
            told[0] = position
            tell(position)

    options = ImportOptions(**{**options.__dict__, "on_progress": progress})
    try:
        for k, (span, _) in enumerate(parts):
            child_options = ImportOptions(
                **{**options.__dict__, "on_progress": None, "shard": None, "span": span}
            )
            children.append(
                _Reader(ctx, fmt, path, child_options, transform, spool=False if k == 0 else spool)
            )
        for child, (_, expected) in zip(children, parts, strict=True):
            held, count, confirmed = _NOTHING, 0, False
            while True:
                try:
                    item = child.next(options.on_progress)
                except (SpoolFailed, ReaderStopped):  # the whole file's reader may do better
                    break
                if item is _END:
                    confirmed = expected is None or count == expected
                    break
                if isinstance(item, Rejected) and (item.fatal or item.kind in ("empty", "file")):
                    break
                if held is not _NOTHING:
                    yield held
                    passed += 1
                held = item
                count += 1
            if not confirmed:
                break
            if held is not _NOTHING:
                yield held
                passed += 1
        else:
            return
    finally:
        for child in children:
            child.close()
    rest = ImportOptions(**{**options.__dict__, "shard": None, "first_record": passed})
    yield from read_prefetched(fmt, path, rest, transform, 1)


def part_cuts(fmt: str, path: Path, spool: Path | None = None) -> list[tuple[int, int]] | None:
    """Where to cut ``path`` for ``read_in_parts``: only a format that yields one item per
    record, read as one JSON array (a name ending ``.jsonl`` or ``.ndjson`` is read line by
    line), with a core for each part, and room beside the database for the later parts'
    items on top of the staging file (each about the file's size)."""
    from db.connection import usable_cores

    parts = min(usable_cores(), MAX_PARTS)
    if fmt not in SHARDABLE or parts < 2 or path.suffix.lower() in (".jsonl", ".ndjson"):
        return None
    try:
        size = path.stat().st_size
        free = shutil.disk_usage(spool if spool is not None else tempfile.gettempdir()).free
    except OSError:
        return None
    if free < SPOOL_ROOM * size:
        return None
    return array_cuts(path, parts)


def read_records(
    fmt: str,
    path: Path,
    options: ImportOptions,
    size: int,
    transform: Transform = _identity,
    spool: Path | None = None,
) -> Iterator[Any]:
    """``transform`` of each item of ``reader_for(fmt)(path, options)``: a large file in
    reader processes, in parts where it can be cut (``spool``: the folder to keep a later
    part's items in meanwhile)."""
    if size >= PREFETCH_MIN_BYTES:
        cuts = part_cuts(fmt, path, spool)
        if cuts:
            return read_in_parts(fmt, path, options, transform, cuts, spool)
        return read_prefetched(fmt, path, options, transform, reader_count(fmt))
    return map(transform, reader_for(fmt)(path, options))
