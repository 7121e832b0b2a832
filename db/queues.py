"""Queues and assignments: who should label what, in which order, and how far they got.

Queues are versioned, never lost. Creating a queue under a name that exists fails unless
``replace=True``: then the current queue and all its assignments move to the archive name
``NAME@vK`` (K = its version) and the new one takes the plain name as version K+1. So the
plain name, looked up exactly (``WHERE name = ?``), is always the current queue, and every
older version stays readable under its archive name. No assignment is ever deleted.

An assignment's ``annotator`` is a name, or ``''`` for "anyone": an annotator works through
their own rows and the shared ones, merged in position order.

Whether an item is done is derived from label events, never stored: an item is done for an
annotator when they have a live (unretracted) committed label on every required field of the
queue's rubric. A live ``_skip`` event moves an item to the end of their queue, oldest skip
first, so undoing a skip (a retraction) brings it back to its place.

What the labeler needs (all take a ``Store``; ``queue`` is a name as the user typed it)::

    q = get_queue(store, "week1")             # Queue | None: .name, .kind, .rubric_id, .blind
    a = next_assignment(store, "week1", "ann", after_position=prev.position)
    # Assignment | None: .transcript_id, .position, .reason; None = finished
    p = queue_progress(store, "week1", "ann")  # Progress: .done, .skipped, .total, .remaining

A skip is ``db.labels.record_meta(..., kind="_skip")``; undo is ``db.labels.undo_last_act``.
Errors are ``QueueError`` with a message fit for the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from db import labels
from db.store import Store, utc_now

VERSION_SEP = "@v"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class QueueError(ValueError):
    """A queue request that cannot be carried out; the message says what to do instead."""


@dataclass(frozen=True)
class Queue:
    name: str  # the stored name: NAME for version 1, NAME@vK after replacements
    base_name: str
    version: int
    kind: str
    rubric_id: str | None
    blind: bool
    params: dict[str, Any]
    created_at: str


@dataclass(frozen=True)
class Assignment:
    id: int
    queue: str
    annotator: str
    transcript_id: int
    position: int
    reason: str


@dataclass(frozen=True)
class Progress:
    done: int
    skipped: int
    total: int

    @property
    def remaining(self) -> int:
        return self.total - self.done


def split_name(stored: str) -> tuple[str, int]:
    """``NAME@v3`` -> ("NAME", 3); ``NAME`` -> ("NAME", 1)."""
    base, sep, tail = stored.rpartition(VERSION_SEP)
    if sep and base and tail.isdigit():
        return base, int(tail)
    return stored, 1


def _queue(row: tuple) -> Queue:
    name, kind, rubric_id, blind, params, created_at = row
    params = json.loads(params)
    base, version = split_name(name)
    if VERSION_SEP not in name:
        version = int(params.get("version", 1))
    return Queue(name, base, version, kind, rubric_id, bool(blind), params, created_at)


_QUEUE_COLUMNS = "name, kind, rubric_id, blind, params, created_at"
_ASSIGNMENT_COLUMNS = "id, queue, annotator, transcript_id, position, reason"


def list_queues(store: Store, *, all_versions: bool = False) -> list[Queue]:
    """The current queues by name; with ``all_versions`` the archived versions too."""
    queues = [_queue(r) for r in store.execute(f"SELECT {_QUEUE_COLUMNS} FROM queues")]
    if not all_versions:
        queues = [q for q in queues if VERSION_SEP not in q.name]
    return sorted(queues, key=lambda q: (q.base_name, q.version))


def _exact(store: Store, name: str) -> Queue | None:
    rows = store.execute(f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE name = ?", (name,))
    return _queue(rows[0]) if rows else None


def get_queue(store: Store, name: str) -> Queue | None:
    """The current queue ``NAME``, or the version asked for with ``NAME@vK``."""
    queue = _exact(store, name)
    if queue is None and VERSION_SEP in name:
        base, version = split_name(name)
        current = _exact(store, base)
        if current is not None and current.version == version:
            queue = current
    return queue


def _require(store: Store, name: str) -> Queue:
    queue = get_queue(store, name)
    if queue is None:
        known = ", ".join(q.base_name for q in list_queues(store)) or "none yet"
        raise QueueError(f"no queue named {name!r} (queues: {known}); create it first")
    return queue


def create_queue(
    store: Store,
    name: str,
    *,
    kind: str,
    assignments: Iterable[tuple[str, int, str]],
    rubric_id: str | None = None,
    blind: bool = True,
    params: dict[str, Any] | None = None,
    replace: bool = False,
    allow_empty: bool = False,
) -> tuple[Queue, int]:
    """Store a queue and its assignments ``(annotator, transcript_id, reason)`` in one
    transaction; positions follow the iteration order per annotator. Returns the queue and
    the number of assignments written. An assignment may carry two more members, its
    inclusion probability and stratum (the sampling design); without them both are NULL.

    An empty queue is refused (and nothing stored) unless ``allow_empty``. An existing name
    is an error unless ``replace``, which archives the current version (see the module doc).
    """
    if not NAME_PATTERN.match(name) or VERSION_SEP in name:
        raise QueueError(
            f"bad queue name {name!r}: use letters, digits, '.', '_' or '-' (up to 80 "
            f"characters, starting with a letter or digit, without {VERSION_SEP!r})"
        )
    params = dict(params or {})
    with store.transaction() as db:
        previous = _exact(store, name)
        if previous is not None and not replace:
            raise QueueError(
                f"queue {name!r} exists (version {previous.version}, "
                f"{previous.kind}); pass --replace to add a new version (the old one is kept)"
            )
        stored = name
        params["version"] = 1
        if previous is not None:
            archived = _archive(db.conn, previous)
            params["version"] = previous.version + 1
            params["replaces"] = archived
        now = utc_now()
        db.conn.execute(
            f"INSERT INTO queues({_QUEUE_COLUMNS}) VALUES (?,?,?,?,?,?)",
            (stored, kind, rubric_id, int(blind), json.dumps(params, sort_keys=True), now),
        )
        positions: dict[str, int] = {}
        batch: list[tuple] = []
        written = 0
        for row in assignments:
            annotator, transcript_id, reason = row[:3]
            probability, stratum = (row[3], row[4]) if len(row) > 3 else (None, None)
            if probability is not None and not 0 < probability <= 1:
                raise QueueError(
                    f"inclusion probability {probability!r} of transcript {transcript_id} is "
                    "not in (0, 1]"
                )
            pos = positions.get(annotator, 0)
            positions[annotator] = pos + 1
            batch.append((stored, annotator, transcript_id, pos, reason, probability, stratum, now))
            if len(batch) >= 5000:
                written += _insert_assignments(db.conn, batch)
                batch = []
        if batch:
            written += _insert_assignments(db.conn, batch)
        if not written and not allow_empty:
            raise QueueError(
                f"no items match queue {name!r}: nothing was stored; widen the filters or "
                "label/classify items first"
            )
    queue = get_queue(store, stored)
    assert queue is not None
    return queue, written


def _archive(conn, queue: Queue) -> str:
    """Move the current queue and its assignments to ``NAME@vK``; returns that name."""
    archived = f"{queue.name}{VERSION_SEP}{queue.version}"
    conn.execute(
        f"INSERT INTO queues({_QUEUE_COLUMNS}) VALUES (?,?,?,?,?,?)",
        (
            archived,
            queue.kind,
            queue.rubric_id,
            int(queue.blind),
            json.dumps(queue.params, sort_keys=True),
            queue.created_at,
        ),
    )
    conn.execute("UPDATE assignments SET queue = ? WHERE queue = ?", (archived, queue.name))
    conn.execute("DELETE FROM queues WHERE name = ?", (queue.name,))  # now without assignments
    return archived


def _insert_assignments(conn, batch: list[tuple]) -> int:
    conn.executemany(
        "INSERT INTO assignments(queue, annotator, transcript_id, position, reason, "
        "inclusion_probability, stratum, created_at) VALUES (?,?,?,?,?,?,?,?)",
        batch,
    )
    return len(batch)


@dataclass(frozen=True)
class DesignRow:
    """One assignment's place in the sampling design of its queue."""

    queue: str
    annotator: str
    transcript_id: int
    inclusion_probability: float | None
    stratum: str | None


def queue_design(store: Store, queue: str) -> list[DesignRow]:
    """Every assignment of the queue with its inclusion probability and stratum."""
    q = _require(store, queue)
    rows = store.execute(
        "SELECT queue, annotator, transcript_id, inclusion_probability, stratum "
        "FROM assignments WHERE queue = ? ORDER BY annotator, position",
        (q.name,),
    )
    return [DesignRow(*r) for r in rows]


def designs_of_items(store: Store, transcript_ids: Sequence[int]) -> list[DesignRow]:
    """Every assignment, in any queue or version, of the given transcripts."""
    out: list[DesignRow] = []
    ids = list(transcript_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out += [
            DesignRow(*r)
            for r in store.execute(
                "SELECT queue, annotator, transcript_id, inclusion_probability, stratum "
                f"FROM assignments WHERE transcript_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY queue, annotator, position",
                chunk,
            )
        ]
    return out


def queue_members(
    store: Store, queue: str, annotator: str | None = None, *, limit: int | None = None
) -> list[Assignment]:
    """The queue's assignments in position order: all of them, or those an annotator works
    through (their own and the shared ones)."""
    q = _require(store, queue)
    if annotator is None:
        rows = store.execute(
            f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE queue = ? "
            "ORDER BY annotator, position LIMIT ?",
            (q.name, -1 if limit is None else limit),
        )
    else:
        rows = store.execute(
            f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE queue = ? "
            "AND annotator IN (?, '') ORDER BY position, annotator DESC LIMIT ?",
            (q.name, annotator, -1 if limit is None else limit),
        )
    return [Assignment(*r) for r in rows]


def queue_annotators(store: Store, queue: str) -> list[tuple[str, int]]:
    """(annotator, assignments) per annotator of the queue; '' means shared."""
    q = _require(store, queue)
    return [
        (a, n)
        for a, n in store.execute(
            "SELECT annotator, COUNT(*) FROM assignments WHERE queue = ? GROUP BY annotator "
            "ORDER BY annotator",
            (q.name,),
        )
    ]


_FIELDS_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}


def required_fields(store: Store, rubric_id: str) -> list[str]:
    """The fields an annotator must label for an item to count as done under ``rubric_id``:
    from the newest registered version of the rubric, else the built-in of that id.

    Parsed once per rubric version (by content hash): this runs on every next item."""
    from rubrics import RubricError

    rows = store.execute(
        "SELECT hash FROM rubrics WHERE rubric_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (rubric_id,),
    )
    key = (rubric_id, rows[0][0] if rows else "builtin")
    if key not in _FIELDS_CACHE:
        try:
            rubric = labels.resolve_rubric(store, rubric_id)
        except RubricError as exc:
            raise QueueError(f"cannot read rubric {rubric_id!r}: {exc}") from None
        required = [f.id for f in rubric.fields if f.required]
        _FIELDS_CACHE[key] = tuple(required or [f.id for f in rubric.fields])
    return list(_FIELDS_CACHE[key])


def _resolve_fields(
    store: Store, q: Queue, rubric_id: str | None, fields: Sequence[str] | None
) -> tuple[str, list[str]]:
    rubric = rubric_id or q.rubric_id
    if rubric is None:
        raise QueueError(f"queue {q.name!r} has no rubric: say which rubric to label under")
    chosen = list(fields) if fields is not None else required_fields(store, rubric)
    if not chosen:
        raise QueueError(f"rubric {rubric!r} has no fields to label")
    return rubric, chosen


def next_assignment(
    store: Store,
    queue: str,
    annotator: str,
    rubric_id: str | None = None,
    *,
    fields: Sequence[str] | None = None,
    after_position: int | None = None,
) -> Assignment | None:
    """The item ``annotator`` should label next in ``queue``, or None when all are done.

    First the not-done, not-skipped assignments in position order; then the skipped ones,
    the one skipped longest ago first. ``rubric_id`` defaults to the queue's rubric and
    ``fields`` to that rubric's required fields.

    The cost grows with the number of done items before the answer. A labeler that knows
    where it is passes ``after_position`` (the position of the item just finished): the
    search starts after it and falls back to the start of the queue only when nothing
    after it is left, so the answer is the same whenever the items before the hint are done.
    """
    if not annotator:
        raise QueueError("say who is labeling: an annotator name is required")
    q = _require(store, queue)
    rubric, chosen = _resolve_fields(store, q, rubric_id, fields)
    if q.kind in SETTLED_KINDS:
        return _next_settled(store, q, annotator, rubric)
    done = labels.done_clause(chosen)
    done_params = labels.done_params(rubric, chosen, annotator)
    # One ordered index walk per owner ('' and the annotator): an IN over both would sort.
    # With a hint, look after it first, then from the start (an undone item may be earlier).
    starts = [-1] if after_position is None else [after_position, -1]
    for start in starts:
        candidates: list[tuple[tuple[int, int], tuple]] = []
        for rank, owner in ((0, annotator), (1, "")):
            row = store.db.conn.execute(
                "SELECT a.id, a.queue, a.annotator, a.transcript_id, a.position, a.reason "
                "FROM assignments a WHERE a.queue = ? AND a.annotator = ? AND a.position > ? "
                f"AND NOT {done} AND {labels.not_skipped_clause()} ORDER BY a.position LIMIT 1",
                [q.name, owner, start, *done_params, annotator],
            ).fetchone()
            if row is not None:
                candidates.append(((row[4], rank), row))
        if candidates:
            return Assignment(*min(candidates)[1])
    # Driven by the annotator's own skip events, so the end of a long queue stays cheap.
    row = store.db.conn.execute(
        "SELECT a.id, a.queue, a.annotator, a.transcript_id, a.position, a.reason, "
        f"MAX(s.skip_id) AS last_skip FROM ({labels.skipped_items_sql()}) s JOIN assignments a "
        "ON a.queue = ? AND a.annotator IN (?, '') AND a.transcript_id = s.transcript_id "
        f"WHERE NOT {done} GROUP BY a.id ORDER BY last_skip, a.position LIMIT 1",
        [annotator, q.name, annotator, *done_params],
    ).fetchone()
    return None if row is None else Assignment(*row[:6])


# Kinds whose items are done by something other than the annotator's own labels (anyone's
# adjudication, the auditor's error reason): decided by ``labels.queue_done_ids``. These queues
# are short, so their members are walked in Python.
SETTLED_KINDS = ("adjudication", "disagreement", "errors")


def _next_settled(store: Store, q: Queue, annotator: str, rubric: str) -> Assignment | None:
    done, skipped = labels.queue_done_ids(store, annotator, rubric, q.kind)
    members = queue_members(store, q.name, annotator)
    for a in members:
        if a.transcript_id not in done and a.transcript_id not in skipped:
            return a
    waiting = [a for a in members if a.transcript_id in skipped and a.transcript_id not in done]
    return min(waiting, key=lambda a: skipped[a.transcript_id], default=None)


_TOTALS: dict[tuple[str, str, str], int] = {}


def _total(store: Store, stored_name: str, created_at: str, annotator: str) -> int:
    """Distinct items of an annotator in a queue version; cached per version (name and
    creation time), since a version never gains or loses assignments."""
    key = (str(store.path), stored_name, created_at, annotator)
    if key not in _TOTALS:
        own, shared = (
            store.execute(
                "SELECT COUNT(*) FROM assignments WHERE queue = ? AND annotator = ?",
                (stored_name, who),
            )[0][0]
            for who in (annotator, "")
        )
        both = 0
        if own and shared:
            both = store.execute(
                "SELECT COUNT(*) FROM assignments a JOIN assignments b ON b.queue = a.queue "
                "AND b.annotator = '' AND b.transcript_id = a.transcript_id "
                "WHERE a.queue = ? AND a.annotator = ?",
                (stored_name, annotator),
            )[0][0]
        _TOTALS[key] = own + shared - both
    return _TOTALS[key]


def queue_progress(
    store: Store,
    queue: str,
    annotator: str,
    rubric_id: str | None = None,
    *,
    fields: Sequence[str] | None = None,
) -> Progress:
    """How many of the annotator's items (own and shared) are done, skipped, and in all.

    Counted from the annotator's own events, so it stays fast on a very long queue.
    """
    q = _require(store, queue)
    rubric, chosen = _resolve_fields(store, q, rubric_id, fields)
    total = _total(store, q.name, q.created_at, annotator)
    if q.kind in SETTLED_KINDS:
        members = {a.transcript_id for a in queue_members(store, q.name, annotator)}
        done_ids, skipped = labels.queue_done_ids(store, annotator, rubric, q.kind)
        return Progress(
            done=len(members & done_ids),
            total=total,
            skipped=len({t for t in skipped if t in members} - done_ids),
        )
    in_queue = (
        "EXISTS (SELECT 1 FROM assignments a WHERE a.queue = ? AND a.annotator IN (?, '') "
        "AND a.transcript_id = d.transcript_id)"
    )
    done = store.execute(
        f"SELECT COUNT(*) FROM ({labels.done_items_sql(len(chosen))}) d WHERE {in_queue}",
        [annotator, rubric, *chosen, len(chosen), q.name, annotator],
    )[0][0]
    skipped = store.execute(
        f"SELECT COUNT(DISTINCT d.transcript_id) FROM ({labels.skipped_items_sql()}) d "
        f"WHERE {in_queue} AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.queue = ? "
        f"AND a.annotator IN (?, '') AND a.transcript_id = d.transcript_id "
        f"AND {labels.done_clause(chosen)})",
        [
            annotator,
            q.name,
            annotator,
            q.name,
            annotator,
            *labels.done_params(rubric, chosen, annotator),
        ],
    )[0][0]
    return Progress(done=done, skipped=skipped, total=total)
