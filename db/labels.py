"""Label events: the one module that writes them and says what they mean.

Everything the project knows about a label is decided here, once:

- **Writing.** This is the only code that inserts into ``label_events``: an annotator's commit,
  reveal, skip, flag and comment; an undo (a retraction event); a classifier's labels; an
  adjudication; and the labels an import or the demo brings (``copy_staged_labels``). Values
  are encoded by one encoder (``encode_value``), so equal values are equal text and an import
  can tell a label it already has. Every write runs under the write lock, taken up front.
- **Live.** An event is live when it is not a retraction and no retraction points at it: the
  view ``live_label_events`` (migration m002) is that rule, and every reader reads through it.
  The *current* label of a (transcript, rubric, field, rater, phase) is its newest live event.
- **Blind and frozen.** A human's first label on an item, made before they saw anyone else's,
  is ``blind``; once they have seen others' labels on the item (a ``_reveal`` act) that blind
  label is *frozen*: undo passes over it, and later commits are ``revealed`` revisions.
- **Adjudicated.** A decision by an adjudicator: source ``adjudication``, phase
  ``adjudicated``, with its reason in ``note``.
- **Gold.** Per item and field: the newest live adjudication; else the blind human label when
  enough distinct humans gave one and all agree; anything else is unresolved, with a reason.
- **Rubric versions.** A rubric named by path is that file; by id, the newest version the
  database has registered, else the built-in of that id (``resolve_rubric``).

Functions take a ``Store`` (anything with ``.db.conn`` and ``.transaction()``) and use the
calling thread's connection.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db.models import PHASES, SOURCES, LabelEvent
from db.seek import distinct_keys, in_key

if TYPE_CHECKING:
    from db.store import Store
    from rubrics import Rubric

HUMAN = "human"
CLASSIFIER = "classifier"
ADJUDICATION = "adjudication"
IMPORTED = "imported"
BLIND, REVEALED, ADJUDICATED = PHASES
REVEAL = "_reveal"
SKIP = "_skip"
FLAG = "_flag"
COMMENT = "_comment"
META_FIELDS = (FLAG, SKIP, COMMENT, REVEAL)
# An annotator's acts that undo may retract (a reveal cannot be unseen).
UNDOABLE_ACTS = (FLAG, SKIP, COMMENT)
# Sources whose events by an annotator make an item done for them in a queue.
DONE_SOURCES = (HUMAN, ADJUDICATION)

LIVE = "live_label_events"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def is_meta(field_id: str) -> bool:
    """Annotator acts (``_skip``, ``_flag``, ``_comment``, ``_reveal``) are not labels."""
    return field_id.startswith("_")


# -- one encoding of a value -----------------------------------------------------------------


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, same text, faster.

    ``json.dumps`` builds a new C encoder on every call, which costs more than encoding the
    small values stored here; this builds one and keeps it. No circular-reference check: the
    values come from parsed files and from this program.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    if make is None:
        return plain.encode
    encoder = make(
        None, plain.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


encode_json = _json_encoder()


def encode_value(value: Any) -> str:
    """The stored text of a label value: two labels are the same value exactly when their
    encodings are equal (imports rely on it to add nothing twice)."""
    return encode_json(value)


def _optional_json(value: Any) -> str | None:
    return None if value is None else encode_json(value)


def _loads(text: str | None) -> Any:
    """A stored value decoded; text that is not JSON (written by another tool straight into
    the database) is returned as that text, so one odd row cannot stop a reader."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


EVENT_COLUMNS = (
    "id, transcript_id, rubric_id, rubric_hash, field, value, source, rater, phase, score, "
    "scores, evidence, note, seconds, retracts, run_id, created_at"
)
_E_COLUMNS = ", ".join("e." + c.strip() for c in EVENT_COLUMNS.split(","))


def _event(row: Sequence[Any]) -> LabelEvent:
    (
        id_,
        tid,
        rubric_id,
        rubric_hash,
        field_id,
        value,
        source,
        rater,
        phase,
        score,
        scores,
        evidence,
        note,
        seconds,
        retracts,
        run_id,
        created_at,
    ) = row
    return LabelEvent(
        id=id_,
        transcript_id=tid,
        rubric_id=rubric_id,
        rubric_hash=rubric_hash,
        field=field_id,
        value=_loads(value),
        source=source,
        rater=rater,
        phase=phase,
        score=score,
        scores=_loads(scores),
        evidence=_loads(evidence),
        note=note,
        seconds=seconds,
        retracts=retracts,
        run_id=run_id,
        created_at=created_at,
    )


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


# -- writing ------------------------------------------------------------------------------------

_INSERT_COLUMNS = (
    "transcript_id",
    "rubric_hash",
    "rubric_id",
    "field",
    "value",
    "source",
    "rater",
    "phase",
    "score",
    "scores",
    "evidence",
    "note",
    "seconds",
    "retracts",
    "run_id",
    "import_id",
    "created_at",
)
_INSERT = (
    f"INSERT INTO label_events({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
)


@dataclass(frozen=True)
class NewEvent:
    """One event to append; ``value`` is the decoded value (encoded on insert)."""

    transcript_id: int
    rubric_id: str
    field: str
    value: Any
    source: str
    rater: str
    phase: str | None = None
    rubric_hash: str | None = None
    score: float | None = None
    scores: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] | None = None
    note: str | None = None
    seconds: float | None = None
    retracts: int | None = None
    run_id: int | None = None
    import_id: int | None = None

    def check(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown label source {self.source!r}; expected one of {SOURCES}")
        if self.phase is not None and self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}; expected one of {PHASES}")
        if not self.rater:
            raise ValueError("a label event needs a rater")

    def row(self, created_at: str) -> tuple:
        value = None if self.retracts is not None else encode_value(self.value)
        return (
            self.transcript_id,
            self.rubric_hash,
            self.rubric_id,
            self.field,
            value,
            self.source,
            self.rater,
            self.phase,
            self.score,
            _optional_json(self.scores),
            _optional_json(self.evidence),
            self.note,
            self.seconds,
            self.retracts,
            self.run_id,
            self.import_id,
            created_at,
        )


def _insert(conn, events: Sequence[NewEvent], created_at: str | None = None) -> list[int]:
    """Insert events on a connection already inside a write transaction; returns their ids."""
    now = created_at or utc_now()
    ids = []
    for event in events:
        event.check()
        ids.append(conn.execute(_INSERT, event.row(now)).lastrowid)
    return ids


def append_events(store: Store, events: Sequence[NewEvent]) -> list[int]:
    """Append events in one transaction, with one timestamp (one act); returns their ids."""
    with store.transaction() as db:
        return _insert(db.conn, events)


def append(store: Store, transcript_id: int, **columns: Any) -> int:
    """Append one event and commit it; returns its id (see ``NewEvent`` for the columns)."""
    return append_events(store, [NewEvent(transcript_id, **columns)])[0]


def retract(
    store: Store, event_id: int, *, rater: str | None = None, note: str | None = None
) -> int:
    """Append an event that withdraws ``event_id``; the original row is untouched."""
    with store.transaction() as db:
        target = _one(db.conn, "e.id = ?", (event_id,), table="label_events")
        if target is None:
            raise ValueError(f"no label event with id {event_id}")
        if target.retracts is not None:
            raise ValueError(f"event {event_id} is itself a retraction")
        if _retracted(db.conn, event_id):
            raise ValueError(f"event {event_id} is already retracted")
        return _retract(db.conn, target, rater or target.rater, note)


def retract_raters(store: Store, rater_like: str, *, note: str) -> int:
    """Retract every live event of the raters whose name matches the LIKE pattern (e.g. a
    benchmark's made-up annotators); returns how many."""
    with store.transaction() as db:
        targets = [
            _event(r)
            for r in db.conn.execute(
                f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE e.rater LIKE ?", (rater_like,)
            )
        ]
        for target in targets:
            _retract(db.conn, target, target.rater, note)
    return len(targets)


def _retract(conn, target: LabelEvent, rater: str, note: str | None) -> int:
    return _insert(
        conn,
        [
            NewEvent(
                target.transcript_id,
                target.rubric_id,
                target.field,
                None,
                target.source,
                rater,
                target.phase,
                target.rubric_hash,
                note=note,
                retracts=target.id,
                run_id=target.run_id,
            )
        ],
    )[0]


def _retracted(conn, event_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM label_events WHERE retracts = ? LIMIT 1", (event_id,))
    return row.fetchone() is not None


def _one(conn, where: str, params: Sequence[Any], *, table: str = LIVE) -> LabelEvent | None:
    row = conn.execute(
        f"SELECT {_E_COLUMNS} FROM {table} e WHERE {where} ORDER BY e.id DESC LIMIT 1", params
    ).fetchone()
    return None if row is None else _event(row)


# -- an annotator's acts ------------------------------------------------------------------------


@dataclass
class CommitResult:
    event_ids: list[int]
    phase: str
    revealed: bool


def commit_phase(store: Store, transcript_id: int, annotator: str, rubric_id: str) -> str:
    """'blind' for a first label made without seeing anyone else's, else 'revealed'.

    Seen means a ``_reveal`` act (live or not: a reveal cannot be unseen) or a live blind
    label already there (the annotator's second commit is a revision)."""
    rows = store.db.conn.execute(
        "SELECT 1 FROM label_events e WHERE e.transcript_id = ? AND e.rater = ? "
        "AND e.source = 'human' AND e.rubric_id = ? AND e.field = ? "
        "UNION ALL SELECT 1 FROM live_label_events e WHERE e.transcript_id = ? AND e.rater = ? "
        "AND e.source = 'human' AND e.rubric_id = ? AND e.phase = 'blind' LIMIT 1",
        (transcript_id, annotator, rubric_id, REVEAL, transcript_id, annotator, rubric_id),
    ).fetchone()
    return REVEALED if rows else BLIND


def has_others_labels(store: Store, transcript_id: int, annotator: str, rubric_id: str) -> bool:
    """Whether anyone else (another human, a classifier, an import, an adjudicator) has a
    live label on the item: what a blind commit reveals."""
    return (
        store.db.conn.execute(
            "SELECT 1 FROM live_label_events e WHERE e.transcript_id = ? AND e.rubric_id = ? "
            "AND substr(e.field, 1, 1) != '_' AND NOT (e.source = 'human' AND e.rater = ?) "
            "LIMIT 1",
            (transcript_id, rubric_id, annotator),
        ).fetchone()
        is not None
    )


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

    The phase is decided inside the transaction: 'blind' only when the annotator has no live
    blind label for the item, has never been shown others' labels on it, and works in blind
    mode. A blind commit on an item that others have labeled also records ``_reveal``: from
    then on the blind label is frozen (undo will not retract it).
    """
    evidence = evidence or []
    with store.transaction() as db:
        phase = commit_phase(store, transcript_id, annotator, rubric_id)
        if not blind_mode:
            phase = REVEALED
        events = [
            NewEvent(
                transcript_id,
                rubric_id,
                field_id,
                value,
                HUMAN,
                annotator,
                phase,
                rubric_hash,
                seconds=seconds,
                evidence=[s for s in evidence if s.get("field") == field_id] or None,
            )
            for field_id, value in values.items()
        ]
        revealed = phase == BLIND and has_others_labels(store, transcript_id, annotator, rubric_id)
        if revealed:
            events.append(
                NewEvent(
                    transcript_id,
                    rubric_id,
                    REVEAL,
                    True,
                    HUMAN,
                    annotator,
                    rubric_hash=rubric_hash,
                )
            )
        ids = _insert(db.conn, events)
    return CommitResult(ids[: len(values)], phase, revealed)


def record_reveal(
    store: Store, transcript_id: int, *, annotator: str, rubric_id: str, rubric_hash: str | None
) -> bool:
    """Note that the annotator has now seen others' labels on the item (once)."""
    with store.transaction() as db:
        if db.conn.execute(
            "SELECT 1 FROM label_events WHERE transcript_id = ? AND rater = ? AND source = 'human' "
            "AND rubric_id = ? AND field = ? LIMIT 1",
            (transcript_id, annotator, rubric_id, REVEAL),
        ).fetchone():
            return False
        _insert(
            db.conn,
            [
                NewEvent(
                    transcript_id,
                    rubric_id,
                    REVEAL,
                    True,
                    HUMAN,
                    annotator,
                    rubric_hash=rubric_hash,
                )
            ],
        )
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
    if kind not in UNDOABLE_ACTS:
        raise ValueError(f"unknown annotator act {kind!r}")
    return append(
        store,
        transcript_id,
        rubric_id=rubric_id,
        field=kind,
        value=value,
        source=HUMAN,
        rater=annotator,
        rubric_hash=rubric_hash,
        note=note,
        seconds=seconds,
    )


def adjudicate(
    store: Store,
    transcript_id: int,
    *,
    adjudicator: str,
    rubric_id: str,
    rubric_hash: str | None,
    values: dict[str, Any],
    reason: str,
    seconds: float | None = None,
) -> list[int]:
    """Record an adjudicator's final decision on an item's fields, with the required reason."""
    if not reason or not reason.strip():
        raise ValueError("an adjudication needs a reason")
    return append_events(
        store,
        [
            NewEvent(
                transcript_id,
                rubric_id,
                field_id,
                value,
                ADJUDICATION,
                adjudicator,
                ADJUDICATED,
                rubric_hash,
                note=reason.strip(),
                seconds=seconds,
            )
            for field_id, value in values.items()
        ],
    )


# -- adjudication and audit: what leaves a queue, an auditor's error reasons ------------------

ERROR = "_error"
# Queue kinds an adjudication settles for everyone: an adjudicated item leaves them.
SETTLED_BY_ADJUDICATION = ("adjudication", "disagreement")


def adjudicated_ids(store: Store, rubric_id: str) -> set[int]:
    """Items with a live adjudication on some field of ``rubric_id``."""
    rows = store.db.conn.execute(
        f"SELECT DISTINCT e.transcript_id FROM {LIVE} e WHERE e.rubric_id = ? "
        f"AND e.source = '{ADJUDICATION}' AND substr(e.field, 1, 1) != '_'",
        (rubric_id,),
    )
    return {r[0] for r in rows}


def queue_done_ids(
    store: Store, annotator: str, rubric_id: str, kind: str
) -> tuple[set[int], dict[int, int]]:
    """``acted_ids`` as a queue of ``kind`` counts it: in an adjudication queue an item is
    done once anyone adjudicated it (a rater's own label settles nothing), in a disagreement
    queue also then; in an errors queue once the auditor recorded an error reason on it."""
    labeled, skipped = acted_ids(store, annotator, rubric_id)
    if kind == "adjudication":
        labeled = adjudicated_ids(store, rubric_id)
    elif kind in SETTLED_BY_ADJUDICATION:
        labeled |= adjudicated_ids(store, rubric_id)
    elif kind == "errors":
        labeled = {
            r[0]
            for r in store.db.conn.execute(
                f"SELECT DISTINCT e.transcript_id FROM {LIVE} e WHERE e.rater = ? "
                f"AND e.rubric_id = ? AND e.source = '{HUMAN}' AND e.field = '{ERROR}'",
                (annotator, rubric_id),
            )
        }
    return labeled, skipped


def record_error_reason(
    store: Store,
    transcript_id: int,
    *,
    auditor: str,
    rubric_id: str,
    rubric_hash: str | None,
    field: str,
    classifier: str,
    classifier_value: Any,
    codes: Sequence[str],
    note: str | None = None,
    reference_value: Any = None,
    seconds: float | None = None,
) -> int:
    """An auditor's reasons why ``classifier`` was wrong on ``field`` of an item: reason
    codes (the rubric's ``audit_reasons``) and free text. An act like a comment (field
    ``_error``), so undo covers it and it is never a label."""
    text = (note or "").strip() or None
    chosen = sorted(set(codes))
    if not chosen and text is None:
        raise ValueError("an error reason needs a reason code or a text")
    value = {
        "field": field,
        "classifier": classifier,
        "said": classifier_value,
        "reference": reference_value,
        "codes": chosen,
    }
    return append(
        store,
        transcript_id,
        rubric_id=rubric_id,
        field=ERROR,
        value=value,
        source=HUMAN,
        rater=auditor,
        rubric_hash=rubric_hash,
        note=text,
        seconds=seconds,
    )


def item_comments(store: Store, transcript_id: int, rubric_id: str) -> list[LabelEvent]:
    """Every live comment on an item under the rubric (all authors), oldest first."""
    rows = store.db.conn.execute(
        f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE e.transcript_id = ? AND e.rubric_id = ? "
        f"AND e.field = '{COMMENT}' ORDER BY e.id",
        (transcript_id, rubric_id),
    )
    return [_event(r) for r in rows]


# Each step is one seek in ``label_events_values``, which begins with the rubric id: the
# distinct rubric ids of a million transcripts' events in a few milliseconds.
_RUBRIC_IDS_SQL = (
    "WITH RECURSIVE rubric(x) AS (SELECT MIN(rubric_id) FROM label_events UNION ALL "
    "SELECT (SELECT MIN(rubric_id) FROM label_events WHERE rubric_id > rubric.x) FROM rubric "
    "WHERE rubric.x IS NOT NULL) SELECT x FROM rubric WHERE x IS NOT NULL"
)


def event_rubric_ids(store: Store) -> list[str]:
    """Every rubric id any event (live or not, label or act) was recorded under, sorted."""
    return [r[0] for r in store.db.conn.execute(_RUBRIC_IDS_SQL)]


def error_reasons(
    store: Store, rubric_id: str | None = None, *, transcript_ids: Iterable[int] | None = None
) -> list[LabelEvent]:
    """Every live error reason (all auditors; each one, not only the newest), oldest first."""
    where, params = _filters(rubric_id=rubric_id)
    if not _among(where, params, transcript_ids):
        return []
    if rubric_id is None and transcript_ids is None:
        # Each rubric's error reasons are one range of ``label_events_values``; no index
        # begins with the field, so without the rubrics every event would be walked.
        rubrics = event_rubric_ids(store)
        if not rubrics:
            return []
        where.append(f"e.rubric_id IN ({_marks(rubrics)})")
        params += rubrics
    rows = store.db.conn.execute(
        # unlikely(): error reasons are few, which the statistics cannot tell the planner
        # (it would walk every event rather than each rubric's range of error reasons).
        f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE unlikely(e.field = '{ERROR}') "
        f"{''.join(' AND ' + w for w in where)} ORDER BY e.id",
        params,
    )
    return [_event(r) for r in rows]


# -- undo ---------------------------------------------------------------------------------------


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


# The frozen-blind rule: a live blind label whose rater has since seen others' labels.
_FROZEN = (
    "(e.phase IS 'blind' AND EXISTS (SELECT 1 FROM label_events v WHERE v.transcript_id = "
    "e.transcript_id AND v.rater = e.rater AND v.source = e.source AND v.rubric_id = "
    f"e.rubric_id AND v.field = '{REVEAL}'))"
)
# What an annotator may undo: their own live labels, acts and adjudications, except a reveal
# and a frozen blind label.
_UNDOABLE = f"e.rater = ? AND e.source IN {DONE_SOURCES!r} AND e.field != '{REVEAL}'"


def undo_last_act(store: Store, annotator: str) -> UndoResult:
    """Retract the annotator's most recent act that may be undone (one commit's events
    together: those with its timestamp on its item).

    A blind label the annotator has already compared with others' labels is frozen: undo
    passes over it (and says so) rather than reopening a label that is no longer blind, so
    that the acts before it, and the flags, skips and comments after it, can still be undone.
    """
    with store.transaction() as db:
        conn = db.conn
        last = _one(conn, f"{_UNDOABLE} AND NOT {_FROZEN}", (annotator,))
        frozen = [
            tid
            for (tid,) in conn.execute(
                f"SELECT e.transcript_id FROM {LIVE} e WHERE {_UNDOABLE} AND e.id > ? "
                f"AND {_FROZEN} GROUP BY e.transcript_id ORDER BY MAX(e.id) DESC LIMIT 4",
                (annotator, 0 if last is None else last.id),
            )
        ]
        if last is None:
            refused = "nothing left to undo"
            if frozen:
                refused += f" ({UndoResult([], frozen=frozen).frozen_note})"
            return UndoResult(
                [], transcript_id=frozen[0] if frozen else None, refused=refused, frozen=frozen
            )
        group = [
            _event(r)
            for r in conn.execute(
                f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE {_UNDOABLE} AND e.transcript_id = ? "
                f"AND e.created_at = ? AND NOT {_FROZEN} ORDER BY e.id",
                (annotator, last.transcript_id, last.created_at),
            )
        ]
        for event in group:
            _retract(conn, event, annotator, "undo")
    return UndoResult(group, transcript_id=last.transcript_id, frozen=frozen)


# -- classifier labels ------------------------------------------------------------------------


def write_classifier_labels(store: Store, labels: list[dict[str, Any]]) -> list[int]:
    """One item's classifier labels (one per field), committed together."""
    return append_events(store, [NewEvent(source=CLASSIFIER, **label) for label in labels])


def run_labeled_transcripts(store: Store, run_id: int) -> set[int]:
    """Transcripts a classifier run has a live label on."""
    return {
        r[0]
        for r in store.db.conn.execute(
            f"SELECT DISTINCT transcript_id FROM {LIVE} WHERE run_id = ? AND source = ?",
            (run_id, CLASSIFIER),
        )
    }


# -- operations: counts for reconcile and doctor, merging another copy ---------------------


def import_label_count(store: Store, import_id: int) -> int:
    """Label events an import added (retracted since or not): what it committed."""
    return store.db.conn.execute(
        "SELECT COUNT(*) FROM label_events WHERE import_id = ?", (import_id,)
    ).fetchone()[0]


def orphan_event_count(store: Store) -> int:
    """Label events whose transcript is missing (possible only with foreign keys off)."""
    return store.db.conn.execute(
        "SELECT COUNT(*) FROM label_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM transcripts t WHERE t.id = e.transcript_id)"
    ).fetchone()[0]


# One event from another copy of a database, as stored there (values encoded), with its
# transcript's uid in place of the other copy's transcript id.
_FOREIGN = (
    "SELECT e.id, t.uid, e.rubric_hash, e.rubric_id, e.field, e.value, e.source, e.rater, "
    "e.phase, e.score, e.scores, e.evidence, e.note, e.seconds, e.retracts, e.run_id, "
    "e.created_at FROM label_events e LEFT JOIN transcripts t ON t.id = e.transcript_id "
    "ORDER BY e.id"
)
# The same event: transcript, rubric version, field, source, rater, phase, value, time and
# the event it retracts. (Import id, score, notes and the run follow from these.)
_SAME_EVENT = (
    "SELECT id FROM label_events WHERE transcript_id = ? AND rubric_id = ? AND field = ? "
    "AND rubric_hash IS ? AND source = ? AND rater = ? AND phase IS ? AND value IS ? "
    "AND created_at = ? AND retracts IS ? ORDER BY id LIMIT 1"
)


@dataclass
class MergedEvents:
    """What ``merge_events`` did with another copy's events."""

    read: int = 0
    added: int = 0
    present: int = 0  # the same event was here already
    already_retracted: int = 0  # a retraction whose target this copy had retracted itself
    without_transcript: int = 0  # orphans in the other copy (or their retractions): left out
    touched: set[int] = field(default_factory=set)  # transcripts that gained events


def merge_events(
    store: Store,
    other: Any,
    *,
    run_ids: dict[int, int],
    import_id: int | None,
    chunk: int = 2000,
    on_progress: Callable[[int, int], None] | None = None,
) -> MergedEvents:
    """Append the events of another copy (``other``: a connection to it, inside a read
    transaction) that this database lacks; idempotent.

    Events are matched by the key of ``_SAME_EVENT``, transcripts by uid (they must have been
    merged first), classifier runs through ``run_ids`` (other id -> id here). Retractions
    point at the event they withdraw *here*: its own id, or the id of the same event already
    here. A retraction of an event this copy has retracted already is not added twice (an
    event is retracted at most once); the event stays retracted. Each ``chunk`` of events
    commits on its own, so a killed merge keeps what it wrote and running it again completes
    it. Values are copied as stored, so equal values stay equal text.
    """
    conn = store.db.conn
    total = other.execute("SELECT COUNT(*) FROM label_events").fetchone()[0]
    targets = {
        r[0]
        for r in other.execute(
            "SELECT DISTINCT retracts FROM label_events WHERE retracts IS NOT NULL"
        )
    }
    here: dict[int, int] = {}  # other id -> id here, for events some retraction targets
    result = MergedEvents()
    rows = other.execute(_FOREIGN)
    while batch := rows.fetchmany(chunk):
        transcript_ids: dict[str, int | None] = {}
        with store.transaction():
            for row in batch:
                result.read += 1
                local_id = _merge_one(conn, row, transcript_ids, here, run_ids, import_id, result)
                if local_id is not None and row[0] in targets:
                    here[row[0]] = local_id
        if on_progress is not None:
            on_progress(result.read, total)
    return result


def _merge_one(conn, row, transcript_ids, here, run_ids, import_id, result) -> int | None:
    (
        other_id,
        uid,
        rubric_hash,
        rubric_id,
        field_id,
        value,
        source,
        rater,
        phase,
        score,
        scores,
        evidence,
        note,
        seconds,
        retracts,
        run_id,
        created_at,
    ) = row
    if uid not in transcript_ids:
        found = conn.execute("SELECT id FROM transcripts WHERE uid = ?", (uid,)).fetchone()
        transcript_ids[uid] = None if found is None else found[0]
    transcript_id = transcript_ids[uid]
    target = None if retracts is None else here.get(retracts)
    if transcript_id is None or (retracts is not None and target is None):
        result.without_transcript += 1
        return None
    same = conn.execute(
        _SAME_EVENT,
        (
            transcript_id,
            rubric_id,
            field_id,
            rubric_hash,
            source,
            rater,
            phase,
            value,
            created_at,
            target,
        ),
    ).fetchone()
    if same is not None:
        result.present += 1
        return same[0]
    if target is not None:
        earlier = conn.execute(
            "SELECT id FROM label_events WHERE retracts = ? LIMIT 1", (target,)
        ).fetchone()
        if earlier is not None:
            result.already_retracted += 1
            return earlier[0]
    new_id = conn.execute(
        _INSERT,
        (
            transcript_id,
            rubric_hash,
            rubric_id,
            field_id,
            value,
            source,
            rater,
            phase,
            score,
            scores,
            evidence,
            note,
            seconds,
            target,
            run_ids.get(run_id),
            import_id,
            created_at,
        ),
    ).lastrowid
    result.added += 1
    result.touched.add(transcript_id)
    return new_id


def blind_conflicts(store: Store, transcript_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Items where one annotator has two different live blind labels on a field (e.g. the
    same item labeled in two copies of the database): gold and agreement take the newest,
    so these need a look. Multi-label answers compare as sets."""
    ids = sorted(transcript_ids)
    found: dict[tuple, dict[Any, list[int]]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for tid, rubric_id, field_id, rater, value, event_id in store.db.conn.execute(
            f"SELECT e.transcript_id, e.rubric_id, e.field, e.rater, e.value, e.id FROM {LIVE} e "
            f"WHERE e.source = '{HUMAN}' AND e.phase = '{BLIND}' "
            f"AND e.transcript_id IN ({_marks(part)})",
            part,
        ):
            key = (tid, rubric_id, field_id, rater)
            found.setdefault(key, {}).setdefault(canonical_value(_loads(value)), []).append(
                event_id
            )
    return [
        {
            "transcript_id": tid,
            "rubric_id": rubric_id,
            "field": field_id,
            "rater": rater,
            "values": [list(v) if isinstance(v, tuple) else v for v in sorted(values, key=str)],
            "event_ids": sorted(i for v in values.values() for i in v),
        }
        for (tid, rubric_id, field_id, rater), values in sorted(found.items())
        if len(values) > 1
    ]


def live_event_keys(store: Store) -> set[tuple]:
    """Every live event as (transcript uid, rubric id, rubric hash, field, source, rater,
    phase, value, created_at): what two databases must share to hold the same live labels,
    whatever their ids."""
    return set(
        store.db.conn.execute(
            "SELECT t.uid, e.rubric_id, e.rubric_hash, e.field, e.source, e.rater, e.phase, "
            f"e.value, e.created_at FROM {LIVE} e JOIN transcripts t ON t.id = e.transcript_id"
        )
    )


# -- labels that arrive with transcripts (imports, the demo) --------------------------------


def copy_staged_labels(
    conn,
    *,
    schema: str,
    start: int,
    end: int,
    import_id: int | None,
    created_at: str,
    new_after: int | None = None,
) -> int:
    """Copy the labels staged in ``schema`` for records with seq in [start, end).

    A label is the same as another when it is for the same transcript, rubric, field, source,
    rater and value (encoded by ``encode_value``). Each record's labels are added, for a new
    transcript or a known one (a second rater's file over the same transcripts), except those
    already stored (even if retracted since) or carried by an earlier record of the same file:
    a file imported twice, or an interrupted import run again, adds nothing twice. Human
    labels that arrive this way are blind (they were made away from this tool's reveal).

    ``new_after``: the largest transcript id before this transaction inserted the chunk's
    transcripts. The labels of transcripts above it are then copied without the look-ups a
    known transcript needs (no event can refer to a transcript inserted this transaction) and
    counted at once by SQLite (``_count_events_after``, the rule the demo build counts its own
    by): the append trigger's per-row look-ups of live events were most of the copy's cost.
    """
    if new_after is None:
        return conn.execute(
            _copy_labels_sql(schema, known=True), (import_id, created_at, start, end)
        ).rowcount
    known = conn.execute(
        _copy_labels_sql(schema, known=True, transcripts="AND t.id <= ?"),
        (import_id, created_at, start, end, new_after),
    ).rowcount
    from db.bulk import trigger_set_aside

    with trigger_set_aside(conn, COUNT_APPEND_TRIGGER) as deferred:
        last_event = conn.execute("SELECT IFNULL(MAX(id), 0) FROM main.label_events").fetchone()[0]
        new = conn.execute(
            _copy_labels_sql(schema, known=False, transcripts="AND t.id > ?"),
            (import_id, created_at, start, end, new_after),
        ).rowcount
        if deferred and new:
            _count_events_after(conn, last_event)
    return known + new


def _copy_labels_sql(schema: str, *, known: bool, transcripts: str = "") -> str:
    """The staged labels of seq in [?, ?), first of their kind in the file; for ``known``
    transcripts, also not stored yet. Parameters: import id, time, start, end (and then
    those of ``transcripts``, a condition on ``t.id``)."""
    key = ("uid", "rubric_id", "field", "source", "rater", "value")
    stored = (
        " AND NOT EXISTS (SELECT 1 FROM main.label_events e WHERE e.transcript_id = t.id AND "
        + " AND ".join(f"e.{c} = l.{c}" for c in key[1:])
        + ")"
        if known
        else ""
    )
    return (
        "INSERT INTO main.label_events(transcript_id, rubric_hash, rubric_id, field, value, "
        "source, rater, phase, score, scores, evidence, note, import_id, created_at) "
        "SELECT t.id, h.hash, l.rubric_id, l.field, l.value, l.source, l.rater, "
        "CASE WHEN l.source = 'human' THEN 'blind' "
        "WHEN l.source = 'adjudication' THEN 'adjudicated' END, "
        "l.score, l.scores, l.evidence, l.note, ?, ? "
        f"FROM {schema}.staged_labels l JOIN main.transcripts t ON t.uid = l.uid "
        f"LEFT JOIN {schema}.staged_rubric_hashes h ON h.rubric_id = l.rubric_id "
        f"WHERE l.seq >= ? AND l.seq < ? {transcripts} "
        f"AND l.id = (SELECT MIN(f.id) FROM {schema}.staged_labels f WHERE "
        + " AND ".join(f"f.{c} = l.{c}" for c in key)
        + f"){stored} ORDER BY l.seq, l.id"
    )


STAGED_LABEL_COLUMNS = (
    "rubric_id",
    "field",
    "value",
    "source",
    "rater",
    "score",
    "scores",
    "evidence",
    "note",
)


def insert_labels_of_new_transcripts(
    conn,
    rows: Iterable[tuple],
    *,
    rubric_hashes: dict[str, str],
    import_id: int | None,
    created_at: str,
) -> int:
    """The labels of transcripts this transaction has just inserted (so none is stored yet),
    each row ``(transcript_id, *STAGED_LABEL_COLUMNS)``: what ``copy_staged_labels`` would
    add for them, in the same order, without its look-ups (the demo's bulk build). The
    caller vouches that no two rows of one transcript share rubric, field, source, rater and
    value, and gives the rows of one transcript together. (``NewTranscriptLabels``, once.)"""
    ids: list[int] = []
    labels: list[list[tuple]] = []
    for tid, *label in rows:
        if not ids or ids[-1] != tid:
            if tid in ids:
                raise ValueError(f"the labels of transcript {tid} are not all together")
            ids.append(tid)
            labels.append([])
        labels[-1].append(tuple(label))
    writer = NewTranscriptLabels(rubric_hashes=rubric_hashes, import_id=import_id)
    try:
        return writer.insert(conn, ids, labels, created_at=created_at)
    finally:
        writer.close(conn)


class NewTranscriptLabels:
    """Writes the labels of transcripts the caller's transaction has just inserted, batch
    after batch, as ``insert_labels_of_new_transcripts`` would, at half the cost.

    A generator's labels take few distinct forms (a few thousand in a million labels: the
    same rubric, field, rater and a handful of scores), so each distinct label is written
    once into a table of this connection's ``temp`` schema, and a batch is one
    ``INSERT ... SELECT`` joining its (transcript, form) pairs, passed as one JSON array, to
    the forms: SQLite copies the columns, instead of Python binding fourteen values a row.
    The kept counts are added per batch (``_count``), computed once per distinct shape of a
    transcript's labels. Rows are inserted in the
    order given, as the row-by-row insert would.
    """

    _TABLE = "temp.new_transcript_label_forms"

    def __init__(self, *, rubric_hashes: dict[str, str], import_id: int | None):
        self._rubric_hashes = rubric_hashes
        self._import_id = import_id
        self._forms: dict[tuple, tuple[int, int]] = {}  # label -> (form id, kind id)
        self._kinds: dict[tuple, int] = {}  # (rubric_id, field, source, rater) -> kind id
        self._kind_list: list[tuple] = []
        self._ready = False

    def _prepare(self, conn) -> None:
        """The forms table, empty at first; emptied again if a rollback took some forms
        away (its rows and this object's list of them must agree)."""
        if not self._ready:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._TABLE} (id INTEGER PRIMARY KEY, "
                "rubric_hash, rubric_id, field, value, source, rater, phase, score, scores, "
                "evidence, note)"
            )
            conn.execute(f"DELETE FROM {self._TABLE}")
            self._forms.clear()
            self._ready = True
        elif conn.execute(f"SELECT COUNT(*) FROM {self._TABLE}").fetchone()[0] != len(self._forms):
            conn.execute(f"DELETE FROM {self._TABLE}")
            self._forms.clear()

    def close(self, conn) -> None:
        conn.execute(f"DROP TABLE IF EXISTS {self._TABLE}")
        self._ready = False
        self._forms.clear()

    def insert(
        self, conn, ids: Sequence[int], labels: Sequence[Sequence[tuple]], *, created_at: str
    ) -> int:
        """Insert ``labels[i]`` (rows in ``STAGED_LABEL_COLUMNS`` order) for transcript
        ``ids[i]``, in the caller's write transaction; returns how many were inserted."""
        self._prepare(conn)
        forms, kinds = self._forms, self._kinds
        fresh: list[tuple] = []
        pairs: list[str] = []
        shapes: list[tuple[int, ...]] = []
        phase = {HUMAN: BLIND, ADJUDICATION: ADJUDICATED}
        for tid, labs in zip(ids, labels, strict=True):
            shape = []
            for lab in labs:
                form = forms.get(lab)
                if form is None:
                    rubric_id, field_id, value, source, rater, *rest = lab
                    kind = (rubric_id, field_id, source, rater)
                    kind_id = kinds.get(kind)
                    if kind_id is None:
                        kind_id = kinds[kind] = len(self._kind_list)
                        self._kind_list.append(kind)
                    form = forms[lab] = (len(forms) + 1, kind_id)
                    fresh.append(
                        (
                            form[0],
                            self._rubric_hashes.get(rubric_id),
                            rubric_id,
                            field_id,
                            value,
                            source,
                            rater,
                            phase.get(source),
                            *rest,
                        )
                    )
                pairs.append(f"[{tid},{form[0]}]")
                shape.append(form[1])
            shapes.append(tuple(shape))
        if not pairs:
            return 0
        if fresh:
            conn.executemany(
                f"INSERT INTO {self._TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", fresh
            )
        from db.bulk import trigger_set_aside

        # The batch is counted once (below) instead of by the trigger's per-row look-ups.
        with trigger_set_aside(conn, COUNT_APPEND_TRIGGER) as deferred:
            conn.execute(
                "INSERT INTO main.label_events(transcript_id, rubric_hash, rubric_id, field, "
                "value, source, rater, phase, score, scores, evidence, note, import_id, "
                "created_at) SELECT p.value ->> 0, f.rubric_hash, f.rubric_id, f.field, "
                "f.value, f.source, f.rater, f.phase, f.score, f.scores, f.evidence, f.note, "
                f"?, ? FROM json_each(?) p JOIN {self._TABLE} f ON f.id = p.value ->> 1 "
                "ORDER BY p.key",
                (self._import_id, created_at, "[" + ",".join(pairs) + "]"),
            )
            if deferred:
                self._count(conn, Counter(shapes))
        return len(pairs)

    def _count(self, conn, shapes: Counter) -> None:
        """What ``label_counts_append`` would have added for the batch, added at once, from
        how many transcripts have each shape (the kinds of their labels, in order).

        Every event is of a transcript that had none before, and none is a retraction, so a
        (transcript, rubric, field, rater, source) combination is new the first time the
        transcript has it, and a transcript is new to a source the first time it gives it a
        label of that source: the trigger's per-row look-ups of live events (a quarter of a
        bulk demo build) reduce to counting distinct kinds per shape. Runs inside the
        caller's transaction, with the trigger set aside (``db.bulk.trigger_set_aside``), so
        no other connection ever sees the table uncounted; ``reviewer doctor`` recounts to
        check."""
        per_source: dict[str, list[int]] = {}
        per_rater: Counter = Counter()
        for shape, n in shapes.items():
            kinds = [self._kind_list[k] for k in shape]
            for _, field_id, source, _ in kinds:
                counts = per_source.setdefault(source, [0, 0, 0, 0, 0])
                counts[0] += n
                counts[1 if is_meta(field_id) else 2] += n
            keys = {kind for kind in kinds if not is_meta(kind[1])}
            for _, _, source, rater in keys:
                per_source[source][3] += n
                per_rater[(source, rater)] += n
            for source in {kind[2] for kind in keys}:
                per_source[source][4] += n
        _add_counts(conn, per_source, per_rater)


# The trigger that counts appended events (migration m005; ``event_counts`` reads the counts).
COUNT_APPEND_TRIGGER = "label_counts_append"


def _count_events_after(conn, last_event: int) -> None:
    """``NewTranscriptLabels._count`` for the events after ``last_event``, counted by
    SQLite where they lie (all of transcripts that had none before, none a retraction)."""
    new = (
        "SELECT transcript_id, rubric_id, field, rater, source FROM main.label_events "
        "WHERE id > ? AND substr(field, 1, 1) != '_'"
    )
    per_source = {
        source: [events, acts, labels, 0, 0]
        for source, events, acts, labels in conn.execute(
            "SELECT source, COUNT(*), SUM(substr(field, 1, 1) = '_'), "
            "SUM(substr(field, 1, 1) != '_') FROM main.label_events WHERE id > ? GROUP BY source",
            (last_event,),
        )
    }
    for source, current, transcripts in conn.execute(
        f"SELECT source, COUNT(*), COUNT(DISTINCT transcript_id) FROM (SELECT DISTINCT * FROM "
        f"({new})) GROUP BY source",
        (last_event,),
    ):
        per_source[source][3:] = [current, transcripts]
    per_rater = {
        (source, rater): n
        for source, rater, n in conn.execute(
            f"SELECT source, rater, COUNT(*) FROM (SELECT DISTINCT * FROM ({new})) "
            "GROUP BY source, rater",
            (last_event,),
        )
    }
    _add_counts(conn, per_source, per_rater)


def _add_counts(
    conn, per_source: dict[str, list[int]], per_rater: dict[tuple[str, str], int]
) -> None:
    """Add to the kept counts: per source [events, acts, labels, current, transcripts], per
    (source, rater) its current labels."""
    for source, (events, acts, labels, current, transcripts) in per_source.items():
        conn.execute(
            "INSERT INTO main.label_counts(source) VALUES (?) ON CONFLICT(source) DO NOTHING",
            (source,),
        )
        conn.execute(
            "UPDATE main.label_counts SET events = events + ?, acts = acts + ?, "
            "labels = labels + ?, current_labels = current_labels + ?, "
            "transcripts = transcripts + ? WHERE source = ?",
            (events, acts, labels, current, transcripts, source),
        )
    conn.executemany(
        "INSERT INTO main.label_rater_counts(source, rater, current_labels) VALUES (?, ?, ?) "
        "ON CONFLICT(source, rater) DO UPDATE SET current_labels = current_labels + "
        "excluded.current_labels",
        [(source, rater, n) for (source, rater), n in per_rater.items()],
    )


# The index that makes the copy's "first of its kind in this file" look-up cheap.
STAGED_LABEL_KEY = ("uid", "rubric_id", "field", "source", "rater", "value")


def staged_label_row(draft: Any) -> tuple:
    """A ``LabelDraft`` as a staged row in ``STAGED_LABEL_COLUMNS`` order."""
    return (
        draft.rubric_id,
        draft.field,
        encode_value(draft.value),
        draft.source,
        draft.rater,
        draft.score,
        _optional_json(draft.scores),
        _optional_json(draft.evidence),
        draft.note,
    )


# -- reading ------------------------------------------------------------------------------------


def _filters(**columns: Any) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for column, value in columns.items():
        if value is not None:
            where.append(f"e.{column} = ?")
            params.append(value)
    return where, params


def _among(where: list[str], params: list[Any], transcript_ids: Iterable[int] | None) -> bool:
    """Add 'among these transcripts' to a filter; False when the list is empty (no rows)."""
    if transcript_ids is None:
        return True
    ids = list(transcript_ids)
    where.append(f"e.transcript_id IN ({_marks(ids)})")
    params += ids
    return bool(ids)


def current_labels(
    store: Store,
    *,
    rubric_id: str | None = None,
    field: str | None = None,
    rater: str | None = None,
    source: str | None = None,
    phase: str | None = None,
    transcript_ids: Iterable[int] | None = None,
    sources: Iterable[str] | None = None,
) -> list[LabelEvent]:
    """The current label per (transcript, rubric, field, rater, phase): its newest live event.
    Meta acts included (their field starts with ``_``). ``sources``: only the current labels
    from these sources (chosen after the rule, so the newest of a slot is the same)."""
    where, params = _filters(
        rubric_id=rubric_id, field=field, rater=rater, source=source, phase=phase
    )
    if not _among(where, params, transcript_ids):
        return []
    kept = list(sources) if sources is not None else None
    after = f" AND source IN ({_marks(kept)})" if kept is not None else ""
    rows = store.db.conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM ("
        f"  SELECT {_E_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY e.transcript_id, e.rubric_id, "
        f"  e.field, e.rater, IFNULL(e.phase, '') ORDER BY e.id DESC) AS rn "
        f"  FROM {LIVE} e WHERE {' AND '.join(where) or '1'}"
        f") WHERE rn = 1{after} ORDER BY transcript_id, id",
        [*params, *(kept or [])],
    )
    return [_event(r) for r in rows]


def events(
    store: Store,
    *,
    transcript_id: int | None = None,
    rater: str | None = None,
    rubric_id: str | None = None,
) -> list[LabelEvent]:
    """Every event (retractions and retracted ones included), oldest first: the history."""
    where, params = _filters(transcript_id=transcript_id, rater=rater, rubric_id=rubric_id)
    rows = store.db.conn.execute(
        f"SELECT {_E_COLUMNS} FROM label_events e WHERE {' AND '.join(where) or '1'} ORDER BY e.id",
        params,
    )
    return [_event(r) for r in rows]


def live_event(store: Store, event_id: int) -> LabelEvent | None:
    """The event if it is live, else None."""
    return _one(store.db.conn, "e.id = ?", (event_id,))


def last_live_act(
    store: Store, rater: str, *, transcript_id: int | None = None
) -> LabelEvent | None:
    """The newest live event by ``rater`` (any source), or None."""
    where, params = _filters(rater=rater, transcript_id=transcript_id)
    return _one(store.db.conn, " AND ".join(where), params)


def acted_ids(store: Store, annotator: str, rubric_id: str) -> tuple[set[int], dict[int, int]]:
    """Items ``annotator`` has a live label on under the rubric, and the items they skipped
    (with the id of the newest live skip, for 'skipped longest ago first')."""
    labeled: set[int] = set()
    skipped: dict[int, int] = {}
    for tid, field_id, event_id in store.db.conn.execute(
        f"SELECT e.transcript_id, e.field, e.id FROM {LIVE} e WHERE e.rater = ? "
        "AND e.rubric_id = ? AND e.source = 'human' "
        f"AND (substr(e.field, 1, 1) != '_' OR e.field = '{SKIP}')",
        (annotator, rubric_id),
    ):
        if field_id == SKIP:
            skipped[tid] = max(skipped.get(tid, 0), event_id)
        else:
            labeled.add(tid)
    return labeled, skipped


def own_events(
    store: Store, transcript_id: int, annotator: str, rubric_id: str
) -> list[LabelEvent]:
    """The annotator's live events on an item (labels of every phase and meta acts)."""
    rows = store.db.conn.execute(
        f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE e.transcript_id = ? AND e.rater = ? "
        "AND e.source = 'human' AND e.rubric_id = ? ORDER BY e.id",
        (transcript_id, annotator, rubric_id),
    )
    return [_event(r) for r in rows]


def others_labels(
    store: Store, transcript_id: int, annotator: str, rubric_id: str
) -> list[LabelEvent]:
    """Every current label on the item that is not this annotator's own: what blind hides."""
    return [
        e
        for e in current_labels(store, rubric_id=rubric_id, transcript_ids=[transcript_id])
        if not is_meta(e.field) and not (e.source == HUMAN and e.rater == annotator)
    ]


def labeled_ids(store: Store, rubric_id: str, *, sources: Iterable[str] = (HUMAN,)) -> set[int]:
    """Transcripts with at least one live label on ``rubric_id`` from the given sources."""
    chosen = list(sources)
    rows = store.db.conn.execute(
        f"SELECT DISTINCT e.transcript_id FROM {LIVE} e WHERE e.rubric_id = ? "
        f"AND e.source IN ({_marks(chosen)}) AND substr(e.field, 1, 1) != '_'",
        [rubric_id, *chosen],
    )
    return {r[0] for r in rows}


def labeled_transcript_page(store: Store, after: int, limit: int) -> list[int]:
    """Ids of transcripts with any label event, above ``after``, ascending (keyset paging)."""
    return [
        r[0]
        for r in store.db.conn.execute(
            "SELECT DISTINCT transcript_id FROM label_events WHERE transcript_id > ? "
            "ORDER BY transcript_id LIMIT ?",
            (after, limit),
        )
    ]


def labeled_rubric_ids(store: Store) -> list[str]:
    """Rubric ids that have live labels on non-meta fields."""
    rows = store.db.conn.execute(
        f"SELECT DISTINCT rubric_id FROM {LIVE} WHERE substr(field, 1, 1) != '_' ORDER BY rubric_id"
    )
    return [r[0] for r in rows]


def label_fields(store: Store, rubric_id: str) -> list[str]:
    """Non-meta fields that have live labels under ``rubric_id``."""
    rows = store.db.conn.execute(
        f"SELECT DISTINCT field FROM {LIVE} WHERE rubric_id = ? "
        "AND substr(field, 1, 1) != '_' ORDER BY field",
        (rubric_id,),
    )
    return [r[0] for r in rows]


def label_slots(store: Store, rubric_ids: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    """Distinct (rubric_id, field, source, rater, phase or '') with live labels: the flat
    columns an export needs, known before streaming."""
    chosen = list(rubric_ids)
    if not chosen:
        return []
    rows = store.db.conn.execute(
        "SELECT DISTINCT rubric_id, field, source, rater, IFNULL(phase, '') "
        f"FROM {LIVE} WHERE rubric_id IN ({_marks(chosen)}) "
        "AND substr(field, 1, 1) != '_' ORDER BY 1, 2, 3, 4, 5",
        chosen,
    )
    return [tuple(r) for r in rows]


# -- export reads: ranges of transcripts, raw rows -------------------------------------------

# The only sources gold_for_field reads: an item with no live event of these has the gold
# of an item with no events at all (``gold_for_item([], ...)``), which an exporter can reuse.
GOLD_SOURCES = (HUMAN, ADJUDICATION, IMPORTED)


def decode_json(text: str | None) -> Any:
    """A stored JSON column decoded as every reader decodes it (text that is not JSON is kept
    as text): for code that reads raw rows (``current_label_rows``)."""
    return _loads(text)


def event_from_row(row: Sequence[Any]) -> LabelEvent:
    """A ``LabelEvent`` from a raw row in ``EVENT_COLUMNS`` order."""
    return _event(row)


_SLOT = ("rubric_id", "field", "source", "rater", "phase")
_LIVE_IN_SLOT = f"SELECT 1 FROM {LIVE} WHERE {in_key(_SLOT)} LIMIT 1"


def live_label_slots(store: Store) -> list[tuple[str, str, str, str, str]]:
    """Every distinct (rubric_id, field, source, rater, phase or '') with live labels (meta
    acts left out), sorted: in one read, what ``labeled_rubric_ids``, ``label_fields`` and
    ``label_slots`` each read, for an exporter that needs all three.

    The slots are found by seeking through ``label_events_values`` (a DISTINCT over the live
    labels walks all of them: 9 s at three million), and each is kept if its first live
    label is found."""
    from db.connection import read_snapshot

    conn = store.db.conn
    with read_snapshot(conn):
        keys = distinct_keys(
            conn,
            "label_events",
            _SLOT,
            nullable=("phase",),
            skip=lambda column, value: column == "field" and _meta_value(value),
        )
        live = [k for k in keys if conn.execute(_LIVE_IN_SLOT, k).fetchone() is not None]
    # NULL phase reads as '' (NULL comes first in the index's order, as '' would in a sort);
    # a database that bypassed the phase CHECK may hold both, which are then one slot.
    return list(dict.fromkeys((*k[:4], "" if k[4] is None else k[4]) for k in live))


def _meta_value(value: Any) -> bool:
    """A field that is an act, as ``substr(field, 1, 1) = '_'`` says it in SQL."""
    return value is None or (isinstance(value, str) and is_meta(value))


def _range_filter(first: int, last: int, rubric_ids: Iterable[str] | None) -> tuple[str, list]:
    # '+e.rubric_id' keeps the planner on the (transcript_id, ...) range: the rubric filter
    # is checked on the rows of the range, never used to pick an index.
    where, params = "e.transcript_id BETWEEN ? AND ?", [first, last]
    if rubric_ids is not None:
        chosen = list(rubric_ids)
        where += f" AND +e.rubric_id IN ({_marks(chosen)})"
        params += chosen
    return where, params


def current_label_rows(
    store: Store, first: int, last: int, *, rubric_ids: Iterable[str] | None = None
) -> list[tuple]:
    """Raw rows (``EVENT_COLUMNS`` order, JSON columns undecoded) of the current labels of the
    transcripts with ids ``first``..``last`` (meta acts included), by transcript then id.

    The rule of ``current_labels`` (the newest live event per transcript, rubric, field, rater
    and phase), for readers that stream the whole database (export) and decode only what
    they write. The live events of the range are read as one range of the
    ``label_events_item`` index, in id order, and the newest per key is kept here: a window
    function over the range costs four times the read.
    """
    where, params = _range_filter(first, last, rubric_ids)
    rows = store.db.conn.execute(
        f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE {where} ORDER BY e.transcript_id, e.id",
        params,
    ).fetchall()
    out: list[tuple] = []
    newest: dict[tuple, int] = {}  # key -> position in out of its newest event so far
    item = None
    replaced = False
    for row in rows:
        if row[1] != item:
            item = row[1]
            newest = {}
        key = (row[2], row[4], row[7], row[8] or "")  # rubric, field, rater, phase
        at = newest.get(key)
        if at is None:
            newest[key] = len(out)
            out.append(row)
        else:  # an older event of the same key: the newer one replaces it
            out[at] = None  # type: ignore[call-overload]
            newest[key] = len(out)
            out.append(row)
            replaced = True
    return [r for r in out if r is not None] if replaced else out


def error_reason_rows(
    store: Store, first: int, last: int, *, rubric_ids: Iterable[str] | None = None
) -> list[tuple]:
    """Raw rows of every live error reason on transcripts ``first``..``last`` (each one, not
    only the newest, as ``error_reasons``), by id."""
    where, params = _range_filter(first, last, rubric_ids)
    return store.db.conn.execute(
        f"SELECT {_E_COLUMNS} FROM {LIVE} e WHERE {where} AND +e.field = '{ERROR}' ORDER BY e.id",
        params,
    ).fetchall()


COUNT_COLUMNS = ("events", "labels", "acts", "retracted", "current_labels", "raters", "transcripts")


def event_counts(store: Store) -> dict[str, Any]:
    """Label events by source, for ``reviewer info``.

    Per source, ``events`` counts every event except retractions and splits exactly into
    ``labels`` (live events on rubric fields, revisions included), ``acts`` (live annotator
    acts) and ``retracted``. ``current_labels`` counts the (transcript, rubric, field, rater)
    combinations with a live label; ``raters`` and ``transcripts`` count those with one.

    Read from ``label_counts`` and ``label_rater_counts``, which triggers keep as events are
    appended (migration m005); ``recount_events`` counts the same from the events.
    """
    keys = ("source", *COUNT_COLUMNS)
    rows = stored_event_counts(store.db.conn)
    return {"labels_by_source": [dict(zip(keys, row, strict=True)) for row in rows]}


def recount_events(conn) -> list[tuple]:
    """``event_counts`` counted from every event: (source, *COUNT_COLUMNS) per source."""
    split = conn.execute(
        "SELECT source, COUNT(*), SUM(NOT is_act AND NOT is_gone), SUM(is_act AND NOT is_gone),"
        " SUM(is_gone) FROM (SELECT e.source, substr(e.field, 1, 1) = '_' AS is_act,"
        " EXISTS (SELECT 1 FROM label_events r WHERE r.retracts = e.id) AS is_gone"
        " FROM label_events e WHERE e.retracts IS NULL) GROUP BY source ORDER BY source"
    ).fetchall()
    current = {
        source: rest
        for source, *rest in conn.execute(
            "SELECT source, COUNT(*), COUNT(DISTINCT rater), COUNT(DISTINCT transcript_id)"
            f" FROM ({_CURRENT_KEYS}) GROUP BY source"
        )
    }
    return [(*row, *current.get(row[0], (0, 0, 0))) for row in split]


# The (transcript, rubric, field, rater, source) combinations with a live label.
_CURRENT_KEYS = (
    f"SELECT source, rater, transcript_id FROM {LIVE} WHERE substr(field, 1, 1) != '_' "
    "GROUP BY transcript_id, rubric_id, field, rater, source"
)


def stored_event_counts(conn) -> list[tuple]:
    """The counts the triggers kept, in ``recount_events``' form."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT c.source, c.events, c.labels, c.acts, c.retracted, c.current_labels, "
            "(SELECT COUNT(*) FROM label_rater_counts r WHERE r.source = c.source "
            "AND r.current_labels > 0), c.transcripts FROM label_counts c WHERE c.events > 0 "
            "ORDER BY c.source"
        )
    ]


def rebuild_event_counts(conn) -> None:
    """Replace the kept counts with a recount (inside the caller's write transaction)."""
    conn.execute("DELETE FROM label_counts")
    conn.execute("DELETE FROM label_rater_counts")
    conn.executemany(
        "INSERT INTO label_counts(source, events, labels, acts, retracted, current_labels, "
        "transcripts) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*row[:6], row[7]) for row in recount_events(conn)],
    )
    conn.execute(
        "INSERT INTO label_rater_counts(source, rater, current_labels) "
        f"SELECT source, rater, COUNT(*) FROM ({_CURRENT_KEYS}) GROUP BY source, rater"
    )


def duplicate_counts(store: Store) -> dict[str, int]:
    """What the label rules say can never happen twice, counted (all zero in a sound store):
    two live blind labels by one human on one item and field, two retractions of one event,
    two live labels of one classifier run on one item and field."""
    conn = store.db.conn
    return {
        "blind_labels": conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {LIVE} WHERE source = 'human' AND phase = "
            "'blind' GROUP BY transcript_id, rubric_id, field, rater HAVING COUNT(*) > 1)"
        ).fetchone()[0],
        "retractions": conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM label_events WHERE retracts IS NOT NULL "
            "GROUP BY retracts HAVING COUNT(*) > 1)"
        ).fetchone()[0],
        "classifier_labels": conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {LIVE} WHERE source = 'classifier' AND "
            "run_id IS NOT NULL GROUP BY run_id, transcript_id, rubric_id, field "
            "HAVING COUNT(*) > 1)"
        ).fetchone()[0],
    }


def rater_event_counts(store: Store, rater: str) -> dict[str, int]:
    """A rater's events: labels on rubric fields, acts, and retractions, every one stored."""
    row = store.db.conn.execute(
        "SELECT COALESCE(SUM(retracts IS NULL AND substr(field, 1, 1) != '_'), 0), "
        "COALESCE(SUM(retracts IS NULL AND substr(field, 1, 1) = '_'), 0), "
        "COALESCE(SUM(retracts IS NOT NULL), 0) FROM label_events WHERE rater = ?",
        (rater,),
    ).fetchone()
    return {"labels": row[0], "acts": row[1], "retractions": row[2]}


# -- queue progress: SQL pieces the queue store splices in, so the rules stay here ----------


def done_clause(fields: Sequence[str], item: str = "a.transcript_id") -> str:
    """SQL true when the annotator has a live label on every field of ``item``.
    Parameters, per field: rubric_id, field, annotator (see ``done_params``)."""
    one = (
        f"EXISTS (SELECT 1 FROM {LIVE} e WHERE e.transcript_id = {item} "
        "AND e.rubric_id = ? AND e.field = ? AND e.rater = ? "
        f"AND e.source IN {DONE_SOURCES!r})"
    )
    return "(" + " AND ".join([one] * len(fields)) + ")"


def done_params(rubric_id: str, fields: Sequence[str], annotator: str) -> list[Any]:
    params: list[Any] = []
    for f in fields:
        params += [rubric_id, f, annotator]
    return params


def not_skipped_clause(item: str = "a.transcript_id") -> str:
    """SQL true when the annotator (one parameter) has no live skip on ``item``.
    ``+s.rater`` keeps SQLite on the per-transcript index rather than the rater's events."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {LIVE} s WHERE s.transcript_id = {item} "
        f"AND s.field = '{SKIP}' AND +s.rater = ?)"
    )


def skipped_items_sql() -> str:
    """A subquery of (transcript_id, skip_id): the annotator's (one parameter) live skips."""
    return f"SELECT s.transcript_id, s.id AS skip_id FROM {LIVE} s WHERE s.rater = ? AND s.field = '{SKIP}'"


def done_items_sql(n_fields: int) -> str:
    """A subquery of transcript ids on which the annotator has a live label on every one of
    ``n_fields`` fields. Parameters: annotator, rubric_id, the fields, their count.
    ``+e.transcript_id`` keeps SQLite on the rater's own events rather than walking the
    per-transcript index in order to group them."""
    return (
        f"SELECT e.transcript_id FROM {LIVE} e WHERE e.rater = ? AND e.rubric_id = ? "
        f"AND e.field IN ({','.join('?' * n_fields)}) AND e.source IN {DONE_SOURCES!r} "
        "GROUP BY +e.transcript_id HAVING COUNT(DISTINCT e.field) = ?"
    )


# -- gold -----------------------------------------------------------------------------------------

UNANIMOUS = "unanimous"
UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class GoldPolicy:
    """How gold is derived: how many humans must agree, and whether imported labels (e.g. a
    published gold set) count as human ones, which depends on where they came from."""

    min_humans: int = 2
    imported_as_human: bool = False

    def __post_init__(self) -> None:
        if self.min_humans < 1:
            raise ValueError("min_humans must be at least 1")


@dataclass(frozen=True)
class GoldLabel:
    field: str
    value: Any  # None when unresolved
    status: str  # adjudicated | unanimous | unresolved
    reason: str | None = None  # why unresolved
    raters: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = field(default=(), compare=False)

    @property
    def resolved(self) -> bool:
        return self.status != UNRESOLVED

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": self.status,
            "reason": self.reason,
            "raters": list(self.raters),
            "event_ids": list(self.event_ids),
        }


def canonical_value(value: Any) -> Any:
    """A value in the form two equal answers share (a multi-label answer is a set)."""
    return tuple(sorted(value)) if isinstance(value, list | tuple) else value


def show_value(value: Any) -> str:
    """A value as one short piece of text, e.g. in a reason (``[a,b]`` for several)."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def human_blind_labels(
    events: Iterable[LabelEvent], field_id: str, policy: GoldPolicy
) -> dict[str, LabelEvent]:
    """The blind label per human rater on one field (imported raters too, if the policy says
    so; an imported label has no phase). Expects live events only."""
    labels: dict[str, LabelEvent] = {}
    for e in events:
        if e.field != field_id:
            continue
        is_human = e.source == HUMAN and e.phase == BLIND
        is_imported = policy.imported_as_human and e.source == IMPORTED
        if not (is_human or is_imported):
            continue
        key = f"{e.source}:{e.rater}" if e.source == IMPORTED else e.rater
        if key not in labels or e.id > labels[key].id:
            labels[key] = e
    return labels


def gold_for_field(events: Sequence[LabelEvent], field_id: str, policy: GoldPolicy) -> GoldLabel:
    """Gold for one field from an item's live events. Revealed revisions never make gold on
    their own: they were made after seeing the classifier, and only an adjudicator settles a
    change."""
    adjudications = [e for e in events if e.field == field_id and e.source == ADJUDICATION]
    if adjudications:
        final = max(adjudications, key=lambda e: e.id)
        value = sorted(final.value) if isinstance(final.value, list) else final.value
        return GoldLabel(field_id, value, ADJUDICATED, None, (final.rater,), (final.id,))
    humans = human_blind_labels(events, field_id, policy)
    raters = tuple(sorted(humans))
    ids = tuple(humans[r].id for r in raters)
    if not humans:
        return GoldLabel(field_id, None, UNRESOLVED, "no human label", (), ())
    values = {canonical_value(e.value) for e in humans.values()}
    if len(values) > 1:
        split = ", ".join(f"{r}={show_value(humans[r].value)}" for r in raters)
        return GoldLabel(field_id, None, UNRESOLVED, f"humans disagree: {split}", raters, ids)
    if len(humans) < policy.min_humans:
        return GoldLabel(
            field_id,
            None,
            UNRESOLVED,
            f"{len(humans)} human label(s), {policy.min_humans} needed",
            raters,
            ids,
        )
    value = next(iter(humans.values())).value
    if isinstance(value, list):
        value = sorted(value)
    return GoldLabel(field_id, value, UNANIMOUS, None, raters, ids)


def gold_for_item(
    events: Sequence[LabelEvent], fields: Iterable[str], policy: GoldPolicy | None = None
) -> dict[str, GoldLabel]:
    """Gold label per field of one item from its live events (pass one rubric's events)."""
    policy = policy or GoldPolicy()
    return {f: gold_for_field(events, f, policy) for f in fields}


def iter_gold(
    store: Store, rubric_id: str, fields: Sequence[str], policy: GoldPolicy | None = None
) -> Iterator[tuple[int, dict[str, GoldLabel]]]:
    """(transcript_id, gold per field) for every transcript with labels under ``rubric_id``."""
    from db.dataset import iter_item_labels

    for tid, item_events in iter_item_labels(store, rubric_ids=[rubric_id]):
        yield tid, gold_for_item(item_events, fields, policy)


# -- current labels column-wise: what stats, analyze and the report read ---------------------


class LabelColumns:
    """Current labels on rubric fields as arrays, one entry per label: the rule of
    ``current_labels`` (the newest live event per transcript, rubric, field, rater and phase)
    read at a million transcripts without one Python object per event.

    Text columns are codes into their lists of distinct values (``phase`` None for none);
    ``value`` and ``scores`` index their distinct decoded values (None for NULL); ``score``
    is NaN where there is none.

    ``take`` keeps the positions it picks, not copies: a column of the labels taken is
    gathered when it is first read (stats and the analysis read a few of the ten columns of
    each field's labels, three million entries each at a million transcripts).
    """

    _ARRAYS = (
        "event_id",
        "transcript_id",
        "rubric",
        "field",
        "source",
        "rater",
        "phase",
        "value",
        "score",
        "scores",
    )

    def __init__(
        self,
        *,
        rubrics: list[str],
        fields: list[str],
        sources: list[str],
        raters: list[str],
        phases: list[str | None],
        values: list[Any],
        scores_values: list[Any],
        **arrays: Any,
    ) -> None:
        if set(arrays) != set(self._ARRAYS):
            raise TypeError(f"LabelColumns needs the arrays {', '.join(self._ARRAYS)}")
        self.rubrics, self.fields, self.sources, self.raters = rubrics, fields, sources, raters
        self.phases, self.values, self.scores_values = phases, values, scores_values
        self._base: dict[str, Any] = arrays
        self._rows: Any = None
        self.__dict__.update(arrays)

    def __getattr__(self, name: str) -> Any:
        # Only reached for a column not gathered yet (a gathered one is an attribute).
        if name not in LabelColumns._ARRAYS or "_base" not in self.__dict__:
            raise AttributeError(name)
        column = self._base[name][self._rows]
        self.__dict__[name] = column
        return column

    def __len__(self) -> int:
        return len(self._base["event_id"]) if self._rows is None else len(self._rows)

    def take(self, rows: Any) -> LabelColumns:
        """The labels at ``rows`` (a boolean mask or positions), same lists of values."""
        import numpy as np

        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        out = object.__new__(LabelColumns)
        out.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in self._ARRAYS and k != "_rows"}
        )
        out._rows = rows if self._rows is None else self._rows[rows]
        return out

    def code(self, column: str, name: Any) -> int:
        """The code of ``name`` in a text column (-1 when no label has it)."""
        names = getattr(self, {"phase": "phases"}.get(column, column + "s"))
        return names.index(name) if name in names else -1


# The labels of rubric fields grouped by (rubric, field, source, rater, phase, value), read
# from the ``label_events_values`` index alone. The groups are found first, by seeking from
# one distinct key of the index to the next (a few hundred seeks), and each group is then
# read as one range of the index: its event and transcript ids come back joined by SQLite
# into one text of numbers, so no Python object is made per event and no value text is
# repeated. A GROUP BY over the whole index would compare six columns at every one of its
# entries: reading each group's range costs two thirds of that, and the ranges can be read on
# several connections at once. Retractions are not looked up per event (the view's NOT
# EXISTS costs twice the read at 3M events): the few retraction rows are read apart and
# taken out.
_NULL = "\x1d"
_KEY = ("rubric_id", "field", "source", "rater", "phase", "value")
_NULLABLE = ("phase", "value")
# A group's key as the reader gives it (NULL phase as '', NULL value as _NULL).
_GROUP_KEY = "rubric_id, field, source, rater, IFNULL(phase, ''), IFNULL(value, ?)"
_RANGE_SQL = (
    f"SELECT COUNT(*), {{ids}} FROM label_events WHERE {in_key(_KEY)} "
    "AND transcript_id BETWEEN ? AND ?"
)
# Each label's event id and transcript id packed into one number (``id << shift | tid``):
# one text of numbers per group instead of two, a third less work for SQLite.
_PACKED_IDS = "group_concat((id << ?) | transcript_id)"
_TWO_IDS = "group_concat(id) || ';' || group_concat(transcript_id)"
_DEAD_SQL = "SELECT id, retracts FROM label_events WHERE retracts IS NOT NULL"
# The groups holding a retraction or a retracted event, in one statement.
_DEAD_GROUPS_SQL = (
    f"SELECT {_GROUP_KEY} FROM label_events WHERE retracts IS NOT NULL UNION "
    f"SELECT {_GROUP_KEY} FROM label_events WHERE id IN "
    "(SELECT retracts FROM label_events WHERE retracts IS NOT NULL)"
)
_SCORES_SQL = "SELECT id, score, scores FROM label_events WHERE id IN ({marks})"
# Below this many events one connection reads everything: a second costs more than it saves.
PARALLEL_READ_EVENTS = 200_000
# The cache of live labels: kept from this many events on; taken while at most so many
# events came after it (more are read faster from the index than one by one).
CACHE_MIN_EVENTS = 200_000
CACHE_MAX_NEW = 100_000
# A cache taken with fewer new events than this is not written again (the next read adds
# them again, in milliseconds): annotators at work do not make every read rewrite it.
CACHE_REWRITE_NEW = 20_000
_CACHE_NAME = "live labels of rubric fields"
_CACHE_FORMAT = 1
_NEW_EVENTS_SQL = (
    "SELECT id, transcript_id, rubric_id, field, source, rater, phase, value, retracts "
    "FROM label_events WHERE id > ? ORDER BY id"
)


@dataclass
class _Live:
    """The live labels of rubric fields as of event ``last_event``: per group key (rubric,
    field, source, rater, phase or '', value or _NULL), its events' ids and transcripts in
    the index's order (transcript, then event). Groups whose events are all retracted stay,
    empty, as a read of the index finds them. ``cached_at``: the last event of the cache it
    was taken from (None: read from the index)."""

    last_event: int
    keys: list[tuple]
    ids: list[Any]
    tids: list[Any]
    cached_at: int | None = None

    def in_index_order(self) -> tuple[list[tuple], list[Any], list[Any]]:
        """Keys, ids and transcripts in one order whichever way they were read (the
        index's, see ``_group_order``)."""
        order = sorted(range(len(self.keys)), key=lambda g: _group_order(self.keys[g]))
        return (
            [self.keys[g] for g in order],
            [self.ids[g] for g in order],
            [self.tids[g] for g in order],
        )


def current_label_columns(
    store: Store,
    *,
    rubric_id: str | None = None,
    field: str | None = None,
    scores: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    readers: int | None = None,
    cache: bool | None = None,
    transcripts: tuple[int, int] | None = None,
) -> LabelColumns:
    """The current label per (transcript, rubric, field, rater, phase) on rubric fields (no
    meta acts), column-wise: the rule of ``current_labels``, each distinct value decoded once.
    ``transcripts``: (first, last) id, only the labels of that range of transcripts (never
    from the cache): a reader that goes through the database a slice at a time.

    ``score`` and ``scores`` are read only for the labels on *reviewed* transcripts, those
    with a label from a source other than ``classifier`` among the labels read (a human,
    adjudicated or imported one): what a comparison against a human or a reference uses.
    Elsewhere they are NaN and None: at a million transcripts the classifiers' scores are
    most of what there is to read, and no statistic of an unreviewed item uses them. With
    ``scores=False`` none are read (the analysis uses values only).

    The labels come grouped by rubric, field, source, rater, phase and value, not in event
    order (``db.agreement_data.agreement_labels`` orders them). ``on_progress(events_done,
    events_total)`` as groups of labels are read.

    ``readers``: how many connections read the groups at once (SQLite lets go of the
    interpreter while it reads, so each uses a core). By default one per usable core, up to
    four, on a database file with at least ``PARALLEL_READ_EVENTS`` events; else one. Every
    reader must see the same labels: each helper checks that its snapshot holds the same
    last event as the first connection's (events are only ever appended) and, if it does not
    (another process wrote between their starts), takes no part; what the helpers leave, the
    first connection reads.

    ``cache``: whether to use and keep ``label_columns_cache`` (a read of every rubric only;
    by default on databases with at least ``CACHE_MIN_EVENTS`` events). The cache holds the
    live labels as of one event; a read takes it when its own snapshot reaches that event,
    adds the events written since (at most ``CACHE_MAX_NEW`` of them), and otherwise reads
    the index. Either way the columns are the same, and an updated cache is written after
    the read (after a read of the index, or once ``CACHE_REWRITE_NEW`` events came after
    the cache), only if the write lock is free at once and no event was added meanwhile.
    """
    from db.connection import read_snapshot

    conn = store.db.conn
    # One snapshot for every statement: a transcript or retraction written meanwhile by
    # another process is either wholly seen or not at all (the id packing relies on it).
    with read_snapshot(conn):
        out, keep = _read_label_columns(
            store, rubric_id, field, scores, on_progress, readers, cache, transcripts
        )
    if keep is not None:
        _store_cache(conn, keep)
    return out


def _read_label_columns(
    store, rubric_id, field, scores, on_progress, readers, cache, transcripts=None
) -> tuple[LabelColumns, _Live | None]:
    """The columns, and the live labels to keep in the cache when they should be (else None)."""
    import numpy as np

    conn = store.db.conn
    bounds = _id_bounds(conn)
    last_event = bounds[3] or 0
    whole = rubric_id is None and field is None and transcripts is None
    use_cache = whole and (cache if cache is not None else last_event >= CACHE_MIN_EVENTS)
    live = _cached_live(conn, last_event) if use_cache else None
    if live is None:
        live = _read_live(conn, bounds, rubric_id, field, readers, on_progress, transcripts)
    if on_progress is not None:
        on_progress(last_event, last_event)
    groups, id_parts, tid_parts = live.in_index_order()
    columns = []
    for k in range(6):
        names = list(dict.fromkeys(g[k] for g in groups))
        index = {name: i for i, name in enumerate(names)}
        columns.append((names, np.asarray([index[g[k]] for g in groups], dtype=np.int32)))
    # The slot (transcript aside) of each group: rubric, field, rater and phase.
    slot_of_group = np.zeros(len(groups), dtype=np.int64)
    for k in (0, 1, 3, 4):
        slot_of_group = slot_of_group * len(columns[k][0]) + columns[k][1]
    several = _several_per_slot(slot_of_group, tid_parts)
    ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
    tids = np.concatenate(tid_parts) if tid_parts else np.zeros(0, np.int64)
    # One code per label: its group. Each column's code is looked up from the group's.
    group = np.repeat(np.arange(len(groups), dtype=np.int32), [len(p) for p in id_parts])
    del id_parts, tid_parts
    newest = _newest_per_slot(ids, tids, slot_of_group[group]) if several else None
    if newest is not None:
        ids, tids, group = ids[newest], tids[newest], group[newest]
    # Each column in the smallest integer type its codes (and one more) fit.
    coded = [table.astype(np.min_scalar_type(-len(names) - 1))[group] for names, table in columns]
    (
        (rubrics, _),
        (fields, _),
        (sources, _),
        (raters, _),
        (phases, _),
        (value_names, _),
    ) = columns
    out = LabelColumns(
        event_id=ids,
        transcript_id=tids,
        rubric=coded[0],
        field=coded[1],
        source=coded[2],
        rater=coded[3],
        phase=coded[4],
        value=coded[5],
        # Unread scores take no memory: one NaN (one None) seen at every position.
        score=np.broadcast_to(np.float64(np.nan), len(ids)),
        scores=np.broadcast_to(np.int32(0), len(ids)),
        rubrics=rubrics,
        fields=fields,
        sources=sources,
        raters=raters,
        phases=[p or None for p in phases],
        values=[None if v == _NULL else _loads(v) for v in value_names],
        scores_values=[None],
    )
    if scores:
        _read_reviewed_scores(conn, out)
    stale = live.last_event - live.cached_at if live.cached_at is not None else None
    rewrite = use_cache and (stale is None or stale >= CACHE_REWRITE_NEW)
    return out, (live if rewrite else None)


def _read_live(conn, bounds, rubric_id, field, readers, on_progress, transcripts=None) -> _Live:
    """The live labels of each group, read from the index (see ``_RANGE_SQL``); of the
    transcripts ``(first, last)`` only, when given."""
    import numpy as np

    shift = _id_shift(bounds)  # from the whole table's bounds: every slice packs alike
    tid_low, tid_high, _, last_event = (b or 0 for b in bounds)
    if transcripts is not None:
        tid_low, tid_high = max(tid_low, transcripts[0]), min(tid_high, transcripts[1])
        if tid_low > tid_high:  # outside the transcripts (orphan labels): nothing to read
            return _Live(last_event, [], [], [])
    dead = np.asarray(sorted({i for row in conn.execute(_DEAD_SQL) for i in row}), dtype=np.int64)
    dead_groups = {tuple(row) for row in conn.execute(_DEAD_GROUPS_SQL, [_NULL, _NULL])}
    keys = distinct_keys(
        conn,
        "label_events",
        _KEY,
        nullable=_NULLABLE,
        fixed={"rubric_id": rubric_id, "field": field},
        skip=lambda column, value: column == "field" and is_meta(value),
    )
    if readers is None:
        readers = _default_readers(last_event)
    # Each group's range of transcript ids cut into parts, so that readers sharing the work
    # finish together even when one group holds most labels.
    parts = 1 if readers < 2 else max(1, min(4 * readers, 512 // max(len(keys), 1)))
    span = tid_high + 1 - tid_low  # Python integers: exact at any id
    edges = [tid_low + span * p // parts for p in range(parts + 1)]
    tasks = [
        (g, *key, edges[p], edges[p + 1] - 1)
        for g, key in enumerate(keys)
        for p in range(parts)
        if edges[p + 1] > edges[p]
    ]
    sql = _RANGE_SQL.format(ids=_TWO_IDS if shift is None else _PACKED_IDS)
    texts = _read_ranges(
        conn, sql, [] if shift is None else [shift], tasks, readers, last_event, on_progress
    )
    groups: list[tuple] = []
    id_parts, tid_parts = [], []
    for g, key in enumerate(keys):
        chunks = [(count, text) for count, text in texts[g] if count]
        if not chunks:
            continue
        ids, tids = [], []
        for count, text in chunks:
            if shift is None:
                ids_text, _, tids_text = text.partition(";")
                i = np.fromstring(ids_text, dtype=np.int64, sep=",")
                t = np.fromstring(tids_text, dtype=np.int64, sep=",")
            else:
                packed = np.fromstring(text, dtype=np.int64, sep=",")
                i, t = _unpacked(packed, shift)
            if len(i) != count or len(t) != count:
                raise ValueError(f"label_events: a group of {count} labels read back wrongly")
            ids.append(i)
            tids.append(t)
        ids = np.concatenate(ids) if len(ids) > 1 else ids[0]
        tids = np.concatenate(tids) if len(tids) > 1 else tids[0]
        key = (*key[:4], "" if key[4] is None else key[4], _NULL if key[5] is None else key[5])
        if key in dead_groups:  # retracted events and retractions, taken out
            kept = ~_marked(ids, dead)
            ids, tids = ids[kept], tids[kept]
        groups.append(key)
        id_parts.append(ids)
        tid_parts.append(tids)
    return _Live(last_event, groups, id_parts, tid_parts)


_SLICE_END = (
    "SELECT transcript_id FROM label_events WHERE transcript_id >= ? "
    "ORDER BY transcript_id LIMIT 1 OFFSET ?"
)


def transcript_slices(store: Store, events_per_slice: int) -> Iterator[tuple[int, int]]:
    """(first, last) transcript ids that cut the label events, in id order, into slices of
    about ``events_per_slice`` events each (more when one transcript has more); every
    transcript with an event falls in one. Found by walking ``label_events_item``, whose
    entries are small. Take them inside one snapshot (``db.connection.read_snapshot``)."""
    if events_per_slice < 1:
        raise ValueError("events_per_slice must be at least 1")
    conn = store.db.conn
    first = conn.execute("SELECT MIN(transcript_id) FROM label_events").fetchone()[0]
    while first is not None:
        end = conn.execute(_SLICE_END, (first, events_per_slice - 1)).fetchone()
        if end is None:
            last = conn.execute("SELECT MAX(transcript_id) FROM label_events").fetchone()[0]
        else:
            last = end[0]
        yield first, last
        first = conn.execute(
            "SELECT MIN(transcript_id) FROM label_events WHERE transcript_id > ?", (last,)
        ).fetchone()[0]


def _unpacked(packed: Any, shift: int) -> tuple[Any, Any]:
    """Event ids and transcript ids from numbers packed as ``id << shift | transcript``."""
    return packed >> shift, packed & ((1 << shift) - 1)


def _group_order(key: tuple) -> tuple:
    """A group key's place in the ``label_events_values`` index: NULL phase and value first,
    text by its UTF-8 bytes (SQLite's BINARY collation)."""
    return tuple(
        _place(v, null=(k == 4 and v == "") or (k == 5 and v == _NULL)) for k, v in enumerate(key)
    )


def _place(value: Any, *, null: bool) -> tuple:
    # SQLite's order of types: NULL, numbers, text, blobs.
    if null or value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value.encode("utf-8", "surrogatepass"))
    return (3, bytes(value))


def _cached_live(conn, last_event: int) -> _Live | None:
    """The cache brought up to ``last_event`` (the events after its own added, retractions
    taken out), or None when there is none, it is of another format or damaged, or too many
    events came after it."""
    import numpy as np

    try:
        row = conn.execute(
            "SELECT format, last_event, keys, sizes, shift, labels FROM label_columns_cache "
            "WHERE name = ?",
            (_CACHE_NAME,),
        ).fetchone()
    except sqlite3.OperationalError:  # no such table: a schema without it
        return None
    if row is None or row[0] != _CACHE_FORMAT or not 0 <= last_event - row[1] <= CACHE_MAX_NEW:
        return None
    try:
        keys = [tuple(k) for k in json.loads(row[2])]
        sizes = np.frombuffer(row[3], dtype=np.int64)
        stored = np.frombuffer(row[5], dtype=np.int64)
        shift = row[4]
        if shift is None:  # every id, then every transcript
            ids, tids = stored[: len(stored) // 2], stored[len(stored) // 2 :]
        elif isinstance(shift, int) and 0 < shift < 63:
            ids, tids = _unpacked(stored, shift)
        else:
            return None
    except (ValueError, TypeError):
        return None
    if len(sizes) != len(keys) or int(sizes.sum()) != len(ids) or len(ids) != len(tids):
        return None
    if any(len(k) != 6 or not all(isinstance(v, str) for v in k) for k in keys):
        return None
    ends = np.cumsum(sizes).tolist()
    starts = [0, *ends[:-1]] if ends else []
    live = _Live(
        row[1],
        keys,
        [ids[a:b] for a, b in zip(starts, ends, strict=True)],
        [tids[a:b] for a, b in zip(starts, ends, strict=True)],
        cached_at=row[1],
    )
    return _add_new_events(conn, live, last_event)


def _add_new_events(conn, live: _Live, last_event: int) -> _Live | None:
    """``live`` with the events after its last one, up to ``last_event``, as a read of the
    index would find them; None if one has a key that is not text (the index is read)."""
    import numpy as np

    rows = conn.execute(_NEW_EVENTS_SQL, (live.last_event,)).fetchall()
    if not rows:
        return live
    index = {k: g for g, k in enumerate(live.keys)}
    added: dict[int, tuple[list[int], list[int]]] = {}
    dead: list[int] = []
    for event_id, tid, rubric, field_id, source, rater, phase, value, retracts in rows:
        if event_id > last_event:
            break
        if retracts is not None:
            dead += [event_id, retracts]
        if not isinstance(field_id, str) or is_meta(field_id):
            continue
        phase = "" if phase is None else phase
        key = (rubric, field_id, source, rater, phase, _NULL if value is None else value)
        if not all(isinstance(v, str) for v in key):
            return None
        if key not in index:
            index[key] = len(live.keys)
            live.keys.append(key)
            live.ids.append(np.zeros(0, np.int64))
            live.tids.append(np.zeros(0, np.int64))
        if retracts is None:
            mine = added.setdefault(index[key], ([], []))
            mine[0].append(event_id)
            mine[1].append(tid)
    for g, (new_ids, new_tids) in added.items():
        ids = np.concatenate([live.ids[g], np.asarray(new_ids, np.int64)])
        tids = np.concatenate([live.tids[g], np.asarray(new_tids, np.int64)])
        order = np.lexsort((ids, tids))  # the index's order: transcript, then event
        live.ids[g], live.tids[g] = ids[order], tids[order]
    if dead:
        gone = np.asarray(sorted(set(dead)), dtype=np.int64)
        for g, ids in enumerate(live.ids):
            hit = _marked(ids, gone)
            if hit.any():
                live.ids[g], live.tids[g] = ids[~hit], live.tids[g][~hit]
    live.last_event = last_event
    return live


def label_cache_state(conn) -> str:
    """What ``label_columns_cache`` holds, against a fresh read of the index in one snapshot
    (reads every label): ``none`` (no cache), ``unused`` (of another format, damaged, or too
    far behind: a read ignores it and writes a new one), ``ok`` (brought up to date, it gives
    the fresh read), ``differs`` (it does not: drop it, ``drop_label_cache``)."""
    from db.connection import read_snapshot

    with read_snapshot(conn):
        try:
            if conn.execute("SELECT 1 FROM label_columns_cache").fetchone() is None:
                return "none"
        except sqlite3.OperationalError:
            return "none"
        bounds = _id_bounds(conn)
        cached = _cached_live(conn, bounds[3] or 0)
        if cached is None:
            return "unused"
        fresh = _read_live(conn, bounds, None, None, 1, None)

    def arranged(live: _Live) -> list:
        keys, ids, tids = live.in_index_order()
        return [(k, i.tolist(), t.tolist()) for k, i, t in zip(keys, ids, tids, strict=True)]

    return "ok" if arranged(cached) == arranged(fresh) else "differs"


def drop_label_cache(conn) -> None:
    """Delete the cache of live labels (derived data: the next read rebuilds it)."""
    conn.execute("DELETE FROM label_columns_cache")


def _store_cache(conn, live: _Live) -> None:
    """Keep ``live`` as the cache, if the write lock is free at once and the labels are
    still those of ``live.last_event``; else leave the cache as it is."""
    import numpy as np

    from db.connection import write_if_free

    if not all(isinstance(v, str) for k in live.keys for v in k):
        return  # a key that is not text (a blob): such a cache would never be taken
    ids = np.concatenate(live.ids) if live.ids else np.zeros(0, np.int64)
    tids = np.concatenate(live.tids) if live.tids else np.zeros(0, np.int64)
    # Each label's event and transcript packed into one number, as the index is read: half
    # the bytes to write (24 MB for three million labels).
    shift = _id_shift(
        tuple(f(a) if len(a) else None for a in (tids, ids) for f in (np.min, np.max))
    )
    if shift is None:
        stored = np.concatenate([ids, tids]).astype(np.int64).tobytes()
    else:
        packed = ids.astype(np.int64) << shift
        packed |= tids
        stored = packed.tobytes()
        del packed
    del ids, tids
    row = (
        _CACHE_NAME,
        _CACHE_FORMAT,
        live.last_event,
        json.dumps([list(k) for k in live.keys], ensure_ascii=False),
        np.asarray([len(p) for p in live.ids], dtype=np.int64).tobytes(),
        shift,
        stored,
    )
    try:
        with write_if_free(conn) as began:
            if not began:
                return
            now = conn.execute("SELECT IFNULL(MAX(id), 0) FROM label_events").fetchone()[0]
            if now != live.last_event:
                return
            conn.execute(
                "INSERT OR REPLACE INTO label_columns_cache "
                "(name, format, last_event, keys, sizes, shift, labels) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
    except sqlite3.Error:  # a read-only file or connection: the cache is only a saving
        return


def events_of_columns(
    current: LabelColumns,
    transcript_ids: Iterable[int],
    *,
    rubric_id: str,
    sources: Iterable[str] = GOLD_SOURCES,
) -> dict[int, list[LabelEvent]]:
    """The current labels of ``transcript_ids`` under ``rubric_id`` from ``sources``, taken
    from labels already read column-wise (``current_label_columns``), as events by transcript
    id: what ``current_labels`` gives of them on rubric fields, for the rules that need only
    an event's id, transcript, rubric, field, source, rater, phase and value (gold). The rest
    (hash, scores, evidence, note, seconds, run, time) is not read and is left empty."""
    import numpy as np

    rubric = current.code("rubric", rubric_id)
    from_sources = np.zeros(len(current.sources) + 1, dtype=bool)
    from_sources[[current.code("source", s) for s in sources]] = True
    from_sources[-1] = False  # where code() said -1: a source no label has
    wanted = np.asarray(sorted(set(transcript_ids)), dtype=np.int64)
    if rubric < 0 or not len(wanted) or not len(current):
        return {}
    rows = np.flatnonzero(from_sources[current.source] & (current.rubric == rubric))
    rows = rows[_marked(current.transcript_id[rows], wanted)]
    out: dict[int, list[LabelEvent]] = {}
    picked = current.take(rows)
    for event_id, tid, field_code, source, rater, phase, value in zip(
        picked.event_id.tolist(),
        picked.transcript_id.tolist(),
        picked.field.tolist(),
        picked.source.tolist(),
        picked.rater.tolist(),
        picked.phase.tolist(),
        picked.value.tolist(),
        strict=True,
    ):
        out.setdefault(tid, []).append(
            LabelEvent(
                id=event_id,
                transcript_id=tid,
                rubric_id=rubric_id,
                rubric_hash=None,
                field=current.fields[field_code],
                value=copy.deepcopy(current.values[value]),
                source=current.sources[source],
                rater=current.raters[rater],
                phase=current.phases[phase],
                score=None,
                scores=None,
                evidence=None,
                note=None,
                seconds=None,
                retracts=None,
                run_id=None,
                created_at="",
            )
        )
    for events in out.values():
        events.sort(key=lambda e: e.id)
    return out


def _id_bounds(conn) -> tuple[int | None, int | None, int | None, int | None]:
    """(lowest and highest transcript id, lowest and highest event id), None where empty."""
    # One aggregate per statement: SQLite answers a lone MIN or MAX of the rowid with one
    # seek, but both in one statement by reading every row (0.5 s at a million transcripts).
    low, high, first, top = (
        conn.execute(f"SELECT {f}(id) FROM {table}").fetchone()[0]
        for table in ("transcripts", "label_events")
        for f in ("MIN", "MAX")
    )
    return low, high, first, top


def _id_shift(bounds: tuple) -> int | None:
    """The bits a transcript id needs, when every event id fits in the bits left of a signed
    64-bit number beside it; else None (the ids are then read as two texts). ``bounds``:
    ``_id_bounds``."""
    low, high, first, top = bounds
    if low is None or first is None or low < 0 or first < 0:
        return None
    shift = max(int(high).bit_length(), 1)
    return shift if int(top).bit_length() + shift <= 62 else None


def _default_readers(events: int) -> int:
    from db.connection import usable_cores

    if events < PARALLEL_READ_EVENTS:
        return 1
    return max(1, min(4, usable_cores()))


def _read_ranges(
    conn, sql: str, head: list[Any], tasks: list[tuple], readers: int, last_event: int, on_progress
) -> list[list[tuple[int, str | None]]]:
    """Run ``sql`` for every task ``(group, *key, first_tid, last_tid)``: the (count, ids
    text) of each group's parts, in order. ``conn`` (in its read snapshot) reads, and so do
    ``readers - 1`` connections of their own in threads, each taking the next task when done
    with one. A helper takes part only when its snapshot ends at the same event as
    ``conn``'s (``last_event``): events are only appended, so it then sees the same labels.
    A helper that cannot open, or fails, leaves its tasks to ``conn``, which reads whatever
    is left at the end: the result never depends on the helpers."""
    import threading

    from db.connection import reading_connection

    out: list[tuple[int, str | None] | None] = [None] * len(tasks)
    lock = threading.Lock()
    pending = iter(range(len(tasks)))
    stop = threading.Event()
    done = [0]

    def take() -> int | None:
        with lock:
            return None if stop.is_set() else next(pending, None)

    def run(c, t: int) -> None:
        _, *params = tasks[t]
        count, text = c.execute(sql, [*head, *params]).fetchone()
        out[t] = (count, text)
        with lock:
            done[0] += count

    def helper() -> None:
        try:
            with reading_connection(path) as c:
                c.execute("BEGIN")
                same = c.execute("SELECT IFNULL(MAX(id), 0) FROM label_events").fetchone()[0]
                if same == last_event:
                    while (t := take()) is not None:
                        run(c, t)
        except Exception:  # noqa: BLE001 -- its tasks are read again below, errors and all
            return

    path = next(
        (file for _, name, file in conn.execute("PRAGMA database_list") if name == "main"), ""
    )
    threads = [
        threading.Thread(target=helper, daemon=True) for _ in range(readers - 1 if path else 0)
    ]
    for thread in threads:
        thread.start()
    try:
        while (t := take()) is not None:
            run(conn, t)
            if on_progress is not None:
                on_progress(min(done[0], last_event), last_event)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    for t, got in enumerate(out):
        if got is None:  # a helper's task it did not finish
            run(conn, t)
    by_group: list[list[tuple[int, str | None]]] = []
    for (g, *_), got in zip(tasks, out, strict=True):
        while len(by_group) <= g:
            by_group.append([])
        by_group[g].append(got)
    return by_group


def _several_per_slot(slot_of_group: Any, tid_parts: list[Any]) -> bool:
    """Whether some transcript has more than one live event in one slot (``slot_of_group``
    codes each group's rubric, field, rater and phase: the groups of one slot differ in
    source or value), when only the newest counts. Told per slot by marking its transcripts
    in a table, no sort; a sort decides when the ids are far apart."""
    import numpy as np

    by_slot: dict[int, list[int]] = {}
    for g, slot in enumerate(slot_of_group.tolist()):
        by_slot.setdefault(slot, []).append(g)
    sizes = [len(p) for p in tid_parts]
    top = max((int(p.max()) for p in tid_parts if len(p)), default=-1)
    if (
        top > 8 * sum(sizes) + 1_000_000
        or min((int(p.min()) for p in tid_parts if len(p)), default=0) < 0
    ):
        return True
    seen = np.zeros(top + 1, dtype=bool)
    for members in by_slot.values():
        tids = np.concatenate([tid_parts[g] for g in members])
        seen[tids] = True
        distinct = int(np.count_nonzero(seen))
        seen[tids] = False
        if distinct != len(tids):
            return True
    return False


def _marked(values: Any, marked: Any) -> Any:
    """Whether each of ``values`` (ids, never negative) is among ``marked``: one look-up in
    a table as long as the largest id, where ``numpy.isin`` would sort millions of ids."""
    import numpy as np

    if not len(values) or not len(marked):
        return np.zeros(len(values), dtype=bool)
    if int(max(values.max(), marked.max())) > 8 * len(values) + 1_000_000:
        return np.isin(values, marked)  # ids far apart: a table would be big
    table = np.zeros(int(max(values.max(), marked.max())) + 1, dtype=bool)
    table[marked] = True
    return table[values]


def _read_reviewed_scores(conn, out: LabelColumns) -> None:
    """Fill ``score`` and ``scores`` of the labels on reviewed transcripts (see
    ``current_label_columns``), each distinct ``scores`` text decoded once."""
    import numpy as np

    if not len(out):
        return
    classifier = out.code("source", CLASSIFIER)
    reviewed = np.unique(out.transcript_id[out.source != classifier])
    if not len(reviewed):
        return
    rows = np.flatnonzero(_marked(out.transcript_id, reviewed))
    score_column = np.full(len(out), np.nan)
    scores_column = np.zeros(len(out), np.int32)
    out.score = out._base["score"] = score_column
    out.scores = out._base["scores"] = scores_column
    position = dict(zip(out.event_id[rows].tolist(), rows.tolist(), strict=True))
    wanted = list(position)
    texts: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for event_id, score, scores in conn.execute(_SCORES_SQL.format(marks=_marks(chunk)), chunk):
            at = position[event_id]
            if isinstance(score, int | float):
                score_column[at] = score
            if scores is not None:
                if scores not in texts:
                    texts[scores] = len(out.scores_values)
                    out.scores_values.append(_loads(scores))
                scores_column[at] = texts[scores]


def _newest_per_slot(ids, tids, slot) -> Any:
    """Positions of the newest event per (transcript, slot), ``slot`` coding the rubric,
    field, rater and phase, or None when every event is the only one of its slot (the usual
    case: one sort tells)."""
    import numpy as np

    if not len(ids):
        return None
    width = int(slot.max()) + 1
    if int(tids.max()) < (1 << 62) // width:
        key = tids * width + slot
        ordered = np.sort(key)
        if not (ordered[1:] == ordered[:-1]).any():
            return None
        del ordered
        order = np.lexsort((ids, key))
        k = key[order]
        last = np.append(k[1:] != k[:-1], True)
    else:
        order = np.lexsort((ids, slot, tids))
        last = np.append(
            (tids[order][1:] != tids[order][:-1]) | (slot[order][1:] != slot[order][:-1]), True
        )
    newest = order[last]
    return np.sort(newest)


# -- rubric versions ------------------------------------------------------------------------------


def resolve_rubric(store: Store | None, ref: str | Path) -> Rubric:
    """The rubric ``ref`` names, by one precedence: a ``.toml`` path (or an existing file) is
    that file; an id is the newest version the database has registered, else the built-in.

    The database comes before the built-in so that everyone labeling one database labels
    under the same version, whichever reviewer release they run. Raises ``RubricError``.
    """
    from rubrics import RubricError, builtin_rubric_paths
    from rubrics import resolve_rubric as resolve_file_or_builtin
    from rubrics.loader import parse_rubric

    text = str(ref)
    as_path = Path(text)
    if text not in builtin_rubric_paths() and (as_path.suffix == ".toml" or as_path.exists()):
        return resolve_file_or_builtin(text)
    if store is not None:
        row = store.db.conn.execute(
            "SELECT source, origin FROM rubrics WHERE rubric_id = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (text,),
        ).fetchone()
        if row is not None:
            try:
                return parse_rubric(row[0], origin=row[1] or f"database:{text}")
            except RubricError as exc:
                raise RubricError(f"the database's rubric {text!r} cannot be read: {exc}") from None
    try:
        return resolve_file_or_builtin(text)
    except RubricError:
        if store is None:
            raise
        known = sorted(set(builtin_rubric_paths()) | set(stored_rubric_ids(store)))
        raise RubricError(
            f"no rubric {text!r}: known rubrics are {', '.join(known) or 'none'}, "
            "or give a .toml path"
        ) from None


def stored_rubric_ids(store: Store) -> list[str]:
    return [r[0] for r in store.db.conn.execute("SELECT DISTINCT rubric_id FROM rubrics")]
