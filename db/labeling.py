"""What an annotator labels next, and the acts they record while labeling.

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

from db.models import LabelEvent
from db.store import _EVENT_COLUMNS, Store, _dumps, _event, utc_now

HUMAN = "human"
META_FIELDS = ("_flag", "_skip", "_comment", "_reveal")
NEVER_UNDONE = ("_reveal",)


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
    labeled: set[int] = field(default_factory=set)
    skipped: dict[int, int] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    _assigned: list[int] | None = None
    _order: SeededOrder | None = None
    _max_id: int = 0
    _total: int | None = None

    def __post_init__(self) -> None:
        if self.queue is not None:
            settings = queue_settings(self.store, self.queue)
            self.blind = bool(settings["blind"])
            self.reason = settings["kind"]
            self.queue_rubric = settings["rubric_id"]
            self._assigned = assigned_ids(self.store, self.queue, self.annotator)
        else:
            row = self.store.execute("SELECT MAX(id) FROM transcripts")
            self._max_id = row[0][0] or 0
            self._order = SeededOrder(self._max_id, order_key(self.seed, self.annotator))
            _ = self.total
        self.reload_done()

    def reload_done(self) -> None:
        self.labeled, self.skipped = acted_ids(self.store, self.annotator, self.rubric_id)
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
    return {"name": queue.name, "kind": queue.kind, "rubric_id": queue.rubric_id,
            "blind": queue.blind, "params": queue.params}  # fmt: skip


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


_LIVE = "e.retracts IS NULL AND NOT EXISTS (SELECT 1 FROM label_events r WHERE r.retracts = e.id)"


def acted_ids(store: Store, annotator: str, rubric_id: str) -> tuple[set[int], dict[int, int]]:
    """Items ``annotator`` has a live label on under the rubric, and the items they skipped
    (with the id of the newest live skip, for 'skipped longest ago first')."""
    labeled: set[int] = set()
    skipped: dict[int, int] = {}
    for tid, field_id, event_id in store.execute(
        "SELECT e.transcript_id, e.field, e.id FROM label_events e WHERE e.rater = ? "
        f"AND e.rubric_id = ? AND e.source = 'human' AND {_LIVE} "
        "AND (substr(e.field, 1, 1) != '_' OR e.field = '_skip')",
        (annotator, rubric_id),
    ):
        if field_id == "_skip":
            skipped[tid] = max(skipped.get(tid, 0), event_id)
        else:
            labeled.add(tid)
    return labeled, skipped


def done_ids(store: Store, annotator: str, rubric_id: str) -> set[int]:
    """Items with a live committed label or a live skip by ``annotator`` under the rubric."""
    labeled, skipped = acted_ids(store, annotator, rubric_id)
    return labeled | set(skipped)


# -- reading an item's labels ---------------------------------------------------------------


def own_events(
    store: Store, transcript_id: int, annotator: str, rubric_id: str
) -> list[LabelEvent]:
    """The annotator's live events on an item (labels of every phase and meta acts)."""
    rows = store.execute(
        f"SELECT {_EVENT_COLUMNS} FROM label_events e WHERE e.transcript_id = ? "
        f"AND e.rater = ? AND e.source = 'human' AND e.rubric_id = ? AND {_LIVE} ORDER BY e.id",
        (transcript_id, annotator, rubric_id),
    )
    return [_event(r) for r in rows]


def others_labels(
    store: Store, transcript_id: int, annotator: str, rubric_id: str
) -> list[LabelEvent]:
    """Every current label on the item that is not this annotator's own: what blind hides."""
    return [
        e
        for e in store.current_labels(rubric_id=rubric_id, transcript_ids=[transcript_id])
        if not e.field.startswith("_") and not (e.source == HUMAN and e.rater == annotator)
    ]


def has_others_labels(store: Store, transcript_id: int, annotator: str, rubric_id: str) -> bool:
    return bool(
        store.execute(
            "SELECT 1 FROM label_events e WHERE e.transcript_id = ? AND e.rubric_id = ? "
            "AND substr(e.field, 1, 1) != '_' AND e.retracts IS NULL "
            "AND NOT (e.source = 'human' AND e.rater = ?) LIMIT 1",
            (transcript_id, rubric_id, annotator),
        )
    )


# -- recording acts -----------------------------------------------------------------------


@dataclass
class CommitResult:
    event_ids: list[int]
    phase: str
    revealed: bool


def _insert(conn, tid, rubric_id, rubric_hash, field_id, value, rater, phase, *, evidence=None,
            note=None, seconds=None, created_at) -> int:  # fmt: skip
    cur = conn.execute(
        "INSERT INTO label_events(transcript_id, rubric_hash, rubric_id, field, value, source, "
        "rater, phase, evidence, note, seconds, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (tid, rubric_hash, rubric_id, field_id, _dumps(value), HUMAN, rater, phase,
         None if evidence is None else _dumps(evidence), note, seconds, created_at),
    )  # fmt: skip
    return cur.lastrowid


def commit_phase(store: Store, transcript_id: int, annotator: str, rubric_id: str) -> str:
    """'blind' for a first label made without seeing anyone else's, else 'revealed'."""
    rows = store.execute(
        "SELECT 1 FROM label_events e WHERE e.transcript_id = ? AND e.rater = ? "
        "AND e.source = 'human' AND e.rubric_id = ? "
        f"AND (e.field = '_reveal' OR (e.phase = 'blind' AND {_LIVE})) LIMIT 1",
        (transcript_id, annotator, rubric_id),
    )
    return "revealed" if rows else "blind"


def commit_label(
    store: Store,
    transcript_id: int,
    *,
    annotator: str,
    rubric_id: str,
    rubric_hash: str | None,
    values: dict[str, Any],
    evidence: list[dict[str, Any]] | None = None,
    seconds: float | None = None,
    blind_mode: bool = True,
) -> CommitResult:
    """Record one commit: an event per field, written together with one timestamp.

    The phase is decided here, inside the transaction: 'blind' only when the annotator has no
    blind label for the item yet, has never been shown others' labels on it, and works in blind
    mode. A blind commit on an item that others have labeled also records ``_reveal``: from
    then on the blind label is frozen (undo will not retract it).
    """
    evidence = evidence or []
    with store.transaction() as db:
        conn = db.conn
        phase = commit_phase(store, transcript_id, annotator, rubric_id)
        if not blind_mode:
            phase = "revealed"
        now = utc_now()
        ids = []
        for field_id, value in values.items():
            spans = [span for span in evidence if span.get("field") == field_id]
            ids.append(
                _insert(conn, transcript_id, rubric_id, rubric_hash, field_id, value, annotator,
                        phase, evidence=spans or None, seconds=seconds, created_at=now)
            )  # fmt: skip
        revealed = False
        if phase == "blind" and has_others_labels(store, transcript_id, annotator, rubric_id):
            _insert(conn, transcript_id, rubric_id, rubric_hash, "_reveal", True, annotator,
                    None, created_at=now)  # fmt: skip
            revealed = True
    return CommitResult(ids, phase, revealed)


def record_reveal(
    store: Store, transcript_id: int, *, annotator: str, rubric_id: str, rubric_hash: str | None
) -> bool:
    """Note that the annotator has now seen others' labels on the item (once)."""
    with store.transaction() as db:
        if db.conn.execute(
            "SELECT 1 FROM label_events WHERE transcript_id = ? AND rater = ? AND source = 'human' "
            "AND rubric_id = ? AND field = '_reveal' LIMIT 1",
            (transcript_id, annotator, rubric_id),
        ).fetchone():
            return False
        _insert(db.conn, transcript_id, rubric_id, rubric_hash, "_reveal", True, annotator, None,
                created_at=utc_now())  # fmt: skip
    return True


def record_meta(
    store: Store,
    transcript_id: int,
    *,
    annotator: str,
    rubric_id: str,
    rubric_hash: str | None,
    kind: str,
    value: Any = True,
    note: str | None = None,
    seconds: float | None = None,
) -> int:
    """A flag, skip or comment, as a label event so that undo covers it."""
    if kind not in META_FIELDS or kind in NEVER_UNDONE:
        raise ValueError(f"unknown annotator act {kind!r}")
    with store.transaction() as db:
        return _insert(db.conn, transcript_id, rubric_id, rubric_hash, kind, value, annotator,
                       None, note=note, seconds=seconds, created_at=utc_now())  # fmt: skip


# -- undo ---------------------------------------------------------------------------------


@dataclass
class UndoResult:
    """What an undo did: the events it retracted, or why it stopped.

    ``frozen`` lists items whose blind label is newer than the act undone (or than nothing):
    undo passed over them because a blind label compared with others' labels stays as it was.
    """

    retracted: list[LabelEvent]
    transcript_id: int | None = None
    refused: str | None = None
    frozen: list[int] = field(default_factory=list)

    @property
    def frozen_note(self) -> str:
        if not self.frozen:
            return ""
        items = ", ".join(f"#{t}" for t in self.frozen[:3]) + (
            " ..." if len(self.frozen) > 3 else ""
        )
        return f"the blind label on {items} stays frozen after reveal (revise it instead)"


_FROZEN = (
    "e.phase = 'blind' AND EXISTS (SELECT 1 FROM label_events v WHERE v.transcript_id = "
    "e.transcript_id AND v.rater = e.rater AND v.source = 'human' AND v.rubric_id = e.rubric_id "
    "AND v.field = '_reveal')"
)


def undo_last_act(store: Store, annotator: str) -> UndoResult:
    """Retract the annotator's most recent act that may be undone (one commit's events
    together).

    A blind label the annotator has already compared with others' labels is frozen: undo
    passes over it (and says so) rather than reopening a label that is no longer blind, so
    that the acts before it can still be undone.
    """
    with store.transaction() as db:
        row = db.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM label_events e WHERE e.rater = ? "
            f"AND e.source = 'human' AND e.field != '_reveal' AND {_LIVE} "
            f"AND NOT ({_FROZEN}) ORDER BY e.id DESC LIMIT 1",
            (annotator,),
        ).fetchone()
        last = None if row is None else _event(row)
        frozen = [
            tid
            for (tid,) in db.conn.execute(
                "SELECT e.transcript_id FROM label_events e WHERE e.rater = ? "
                f"AND e.source = 'human' AND e.id > ? AND {_LIVE} AND {_FROZEN} "
                "GROUP BY e.transcript_id ORDER BY MAX(e.id) DESC LIMIT 4",
                (annotator, 0 if last is None else last.id),
            )
        ]
        if last is None:
            refused = "nothing left to undo"
            if frozen:
                refused += f" ({UndoResult([], frozen=frozen).frozen_note})"
            return UndoResult([], transcript_id=frozen[0] if frozen else None,
                              refused=refused, frozen=frozen)  # fmt: skip
        group = [
            _event(r)
            for r in db.conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM label_events e WHERE e.rater = ? "
                "AND e.source = 'human' AND e.transcript_id = ? AND e.created_at = ? "
                f"AND e.field != '_reveal' AND {_LIVE} AND NOT ({_FROZEN}) ORDER BY e.id",
                (annotator, last.transcript_id, last.created_at),
            )
        ]
        for event in group:
            store.retract(event.id, rater=annotator, note="undo")
    return UndoResult(group, transcript_id=last.transcript_id, frozen=frozen)


def event_json(event: LabelEvent) -> dict[str, Any]:
    """A plain dict of an event (for messages and debugging output)."""
    return json.loads(json.dumps(event.__dict__, default=str))
