"""What an annotator labels next (the acts they record are ``db.labels``').

The labeler keeps no state of its own that matters: the order of items is a pure function of
(seed, annotator) or of a named queue's assignments, and everything the annotator does is a
label event. Reopening the app therefore resumes exactly where the annotator left off.

The default order is a keyed pseudo-random permutation of transcript ids (a small Feistel
network with cycle walking), so that the n-th item of a million-item database is found in
microseconds without shuffling, storing or even counting the ids first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from db.labels import acted_ids, queue_done_ids
from db.store import Store


class QueueNotFoundError(LookupError):
    """A named queue that the database does not hold."""


# -- the default order -------------------------------------------------------------------


class SeededOrder:
    """A bijection position -> id over 1..max_id, keyed by (seed, annotator)."""

    ROUNDS = 4

    def __init__(self, max_id: int, key: str):
        self.max_id = max_id
        bits = max(2, (max(max_id, 1) - 1).bit_length())
        bits += bits % 2
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        self._keys = [int.from_bytes(digest[i * 8 : i * 8 + 8], "big") for i in range(4)]

    def _round(self, value: int, key: int) -> int:
        x = (value * 0x9E3779B97F4A7C15 + key) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
        return x & self._mask

    def _encrypt(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self._half) | right

    def id_at(self, position: int) -> int:
        """The transcript id at ``position`` (0-based, < max_id)."""
        x = position
        while True:
            x = self._encrypt(x)
            if x < self.max_id:
                return x + 1


def order_key(seed: int, annotator: str) -> str:
    return f"{seed}:{annotator}"


# -- queues ------------------------------------------------------------------------------


@dataclass
class QueueEntry:
    position: int
    transcript_id: int


@dataclass
class LabelQueue:
    """The items one annotator labels under one rubric, in order, minus what they have done.

    ``queue=None`` is every transcript in the annotator's seeded order. A named queue is its
    rows in ``assignments`` for this annotator or for everyone (annotator ''), by position.
    """

    store: Store
    annotator: str
    rubric_id: str
    queue: str | None = None
    seed: int = 0
    blind: bool = True
    reason: str = "random"
    queue_rubric: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # An explicit list of items (e.g. a statistics cell to audit), labeled as a ``reason``
    # queue; None: the named queue or the seeded order.
    items: list[int] | None = None
    labeled: set[int] = field(default_factory=set)
    skipped: dict[int, int] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    _assigned: list[int] | None = None
    _order: SeededOrder | None = None
    _max_id: int = 0
    _total: int | None = None

    def __post_init__(self) -> None:
        if self.items is not None:
            self._assigned = list(dict.fromkeys(self.items))
            self.blind = False
        elif self.queue is not None:
            settings = queue_settings(self.store, self.queue)
            self.blind = bool(settings["blind"])
            self.reason = settings["kind"]
            self.queue_rubric = settings["rubric_id"]
            self.params = dict(settings["params"] or {})
            self._assigned = assigned_ids(self.store, self.queue, self.annotator)
        else:
            row = self.store.execute("SELECT MAX(id) FROM transcripts")
            self._max_id = row[0][0] or 0
            self._order = SeededOrder(self._max_id, order_key(self.seed, self.annotator))
            _ = self.total
        self.reload_done()

    def reload_done(self) -> None:
        if self.queue is None and self.items is None:
            self.labeled, self.skipped = acted_ids(self.store, self.annotator, self.rubric_id)
        else:
            self.labeled, self.skipped = queue_done_ids(
                self.store, self.annotator, self.rubric_id, self.reason
            )
        self.done = self.labeled | set(self.skipped)

    def mark_labeled(self, transcript_id: int) -> None:
        self.labeled.add(transcript_id)
        self.done.add(transcript_id)

    def mark_skipped(self, transcript_id: int) -> None:
        self.skipped[transcript_id] = max(self.skipped.values(), default=0) + 1
        self.done.add(transcript_id)

    @property
    def total(self) -> int:
        """Items in the queue (counted once: the labeler adds no transcripts)."""
        if self._assigned is not None:
            return len(self._assigned)
        if self._total is None:
            self._total = self.store.transcript_count()
        return self._total

    @property
    def done_count(self) -> int:
        """Items labeled (skips are not done: they come back at the end)."""
        if self._assigned is not None:
            return sum(1 for t in self._assigned if t in self.labeled)
        return len(self.labeled)

    @property
    def skipped_count(self) -> int:
        pending = (t for t in self.skipped if t not in self.labeled)
        if self._assigned is not None:
            members = set(self._assigned)
            return sum(1 for t in pending if t in members)
        return sum(1 for _ in pending)

    def __len__(self) -> int:
        return len(self._assigned) if self._assigned is not None else self._max_id

    def entries(self, start: int = 0) -> Iterator[QueueEntry]:
        """Every entry from ``start`` on, done or not."""
        if self._assigned is not None:
            for pos in range(start, len(self._assigned)):
                yield QueueEntry(pos, self._assigned[pos])
            return
        assert self._order is not None
        for pos in range(start, self._max_id):
            yield QueueEntry(pos, self._order.id_at(pos))

    def next_entry(self, start: int = 0, *, exclude: set[int] | frozenset = frozenset()):
        """The next item to label: the first not labeled or skipped at or after ``start``
        (wrapping to the beginning), else the item skipped longest ago that is still
        unlabeled. Skipping moves an item to the end; it is never lost."""
        for begin in (start, 0) if start else (0,):
            for entry in self.entries(begin):
                if entry.transcript_id in self.done or entry.transcript_id in exclude:
                    continue
                if self._assigned is None and not _exists(self.store, entry.transcript_id):
                    continue
                return entry
        members = set(self._assigned) if self._assigned is not None else None
        for tid, _ in sorted(self.skipped.items(), key=lambda item: item[1]):
            if tid in self.labeled or tid in exclude:
                continue
            if members is not None and tid not in members:
                continue
            return QueueEntry(self.position_of(tid) or 0, tid)
        return None

    def position_of(self, transcript_id: int) -> int | None:
        if self._assigned is not None:
            try:
                return self._assigned.index(transcript_id)
            except ValueError:
                return None
        return None


def _exists(store: Store, transcript_id: int) -> bool:
    return bool(store.execute("SELECT 1 FROM transcripts WHERE id = ?", (transcript_id,)))


def queue_settings(store: Store, name: str) -> dict[str, Any]:
    """A queue's kind, rubric and blind flag (``NAME`` or an archived ``NAME@vK``)."""
    from db.queues import get_queue, list_queues

    queue = get_queue(store, name)
    if queue is None:
        listing = ", ".join(q.base_name for q in list_queues(store)) or "none yet"
        raise QueueNotFoundError(
            f"no queue named {name!r} (queues: {listing}); create one with `reviewer queue create`"
        )
    return {
        "name": queue.name,
        "kind": queue.kind,
        "rubric_id": queue.rubric_id,
        "blind": queue.blind,
        "params": queue.params,
    }


def assigned_ids(store: Store, queue: str, annotator: str) -> list[int]:
    """Transcript ids assigned to ``annotator`` or to everyone in ``queue``, by position."""
    from db.queues import queue_members

    seen: set[int] = set()
    ordered: list[int] = []
    for assignment in queue_members(store, queue, annotator):
        if assignment.transcript_id not in seen:
            seen.add(assignment.transcript_id)
            ordered.append(assignment.transcript_id)
    return ordered


def no_assignments_note(store: Store, queue: str, annotator: str) -> str | None:
    """Why ``annotator`` has nothing in ``queue`` when the queue holds nothing for them (or
    for everyone), naming whom it is assigned to; None when they have assignments."""
    from db.queues import queue_annotators

    if assigned_ids(store, queue, annotator):
        return None
    names = [name or "everyone" for name, _ in queue_annotators(store, queue)]
    holders = f"assigned to: {', '.join(names)}" if names else "it has no assignments at all"
    return f"queue {queue} has no assignments for {annotator} ({holders})"


def next_item(
    store: Store, annotator: str, rubric_id: str, queue: str | None = None, *, seed: int = 0
) -> int | None:
    """The transcript the annotator should label next (where they left off), or None."""
    entry = LabelQueue(store, annotator, rubric_id, queue, seed=seed).next_entry()
    return None if entry is None else entry.transcript_id


_ITEM_COLUMNS = (
    "t.id, t.model, t.condition, t.dataset, t.prompt_variant, t.user_input, t.scratchpad, "
    "t.scratchpad_blocks, t.output, t.source_ref, p.text"
)


def item_transcript(store: Store, transcript_id: int) -> dict[str, Any] | None:
    """What the labeling screen shows of a transcript (not its full turns), or None."""
    cur = store.db.conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM transcripts t "
        "LEFT JOIN prompts p ON p.hash = t.system_prompt_hash WHERE t.id = ?",
        (transcript_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    keys = (
        "id",
        "model",
        "condition",
        "dataset",
        "prompt_variant",
        "user_input",
        "scratchpad",
        "scratchpad_blocks",
        "output",
        "source_ref",
        "system_prompt",
    )
    item = dict(zip(keys, row, strict=True))
    item["scratchpad_blocks"] = [tuple(b) for b in json.loads(item["scratchpad_blocks"] or "[]")]
    return item
