"""A labeling session without Textual: what is on screen, what comes next, what may be done now.

The labeler, adjudicator and auditor screens render a ``LabelSession`` and hand its database
jobs to one serial writer (``db.writer.SerialWriter``); unit tests drive the same session with
``HeadlessRunner``, which runs the jobs at once, in order, on the calling thread.

The shape of every exchange is the same: a user act (``commit``, ``skip``, ``undo`` ...) changes
the session and returns the ``Job`` list it needs; a job runs away from the UI (it may read and
write the database, nothing else) and returns an *outcome*; ``receive(outcome)`` applies it on
the UI side and may return more jobs. Jobs run strictly in the order they were handed over, so
an undo typed right after a commit undoes that commit.

Every act belongs to the item on screen when its key is handled. While an act or a move to
another item is in flight (``busy``), the keys typed meanwhile are ``held`` and replayed, in
order, once the session shows the item they will act on; and each write carries its item's id,
which the job checks against the item on screen (``guarded``) before it writes anything.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from db.connection import DatabaseBusyError
from db.labeling import LabelQueue, no_assignments_note
from db.labels import (
    CommitResult,
    GoldPolicy,
    UndoResult,
    adjudicate,
    commit_label,
    gold_for_field,
    record_error_reason,
    record_meta,
    record_reveal,
    resolve_rubric,
    show_value,
    undo_last_act,
)
from db.store import Store
from reviewer.tui.data import ItemBundle, load_bundle
from reviewer.tui.draft import Draft
from rubrics import Rubric

BLIND, REVEALED, AUDIT, ADJUDICATE = "BLIND", "REVEALED", "AUDIT", "ADJUDICATE"
# Queue kinds whose items open with every label shown and a decision to record.
ADJUDICATION_KINDS = ("adjudication",)
ERROR_KINDS = ("errors",)


class SessionConfig(Protocol):
    """What a session needs to know about who labels what (the labeler app is one)."""

    store: Store
    annotator: str
    rubric: Rubric
    rubric_hash: str
    queue_name: str | None
    blind: bool
    seed: int
    clock: Callable[[], float]


@dataclass
class SessionSettings:
    """A session's settings when they are not the app's: e.g. the audit of a statistics cell,
    an explicit list of ``items`` worked through as an errors queue with ``params``."""

    store: Store
    annotator: str
    rubric: Rubric
    queue_name: str | None = None
    blind: bool = False
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    items: list[int] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    _hashed: tuple[Rubric, str] | None = field(default=None, repr=False, compare=False)

    @property
    def rubric_hash(self) -> str:
        if self._hashed is None or self._hashed[0] is not self.rubric:
            self._hashed = (self.rubric, self.rubric.content_hash)  # computed, not stored
        return self._hashed[1]


# -- outcomes: what a job hands back to the UI side --------------------------------------


@dataclass
class QueueOpened:
    queue: LabelQueue
    bundle: ItemBundle | None
    empty_note: str | None = None


@dataclass
class ItemRead:
    """An item to show now (None: the queue is finished)."""

    bundle: ItemBundle | None


@dataclass
class ItemReadAhead:
    """The item after ``after``, read ahead so that advancing is instant."""

    after: int
    bundle: ItemBundle | None


@dataclass
class CommitDone:
    result: CommitResult
    bundle: ItemBundle | None


@dataclass
class ActDone:
    """A skip, flag, comment, reveal, adjudication or error reason was stored."""

    kind: str
    transcript_id: int
    event_id: int | None
    bundle: ItemBundle | None = None


@dataclass
class ActRefused:
    """An act reached its job for an item that is no longer on screen: nothing stored."""

    kind: str
    transcript_id: int
    current_id: int | None


@dataclass
class UndoDone:
    result: UndoResult
    bundle: ItemBundle | None


@dataclass
class JobFailed:
    action: str
    error: str


@dataclass
class FlushDone:
    """Every job handed over before this one has finished."""


@dataclass
class Job:
    """Database work for the writer. ``blocking``: hold keys typed until it has finished."""

    action: str
    work: Callable[[], Any]
    blocking: bool = False

    def execute(self) -> Any:
        """Run the work; a failure becomes a ``JobFailed`` outcome, never an exception."""
        try:
            return self.work()
        except DatabaseBusyError as exc:  # nothing written; the act is still on screen
            return JobFailed(self.action, f"{exc}. What you did is kept here: try again")
        except Exception as exc:  # reported on screen; the writer must not die silently
            return JobFailed(self.action, f"{type(exc).__name__}: {exc}")


@dataclass
class Visit:
    """An item this session showed, and what the annotator left on it (for 'previous')."""

    transcript_id: int
    position: int | None
    label: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Highlight:
    """A passage of the scratchpad to highlight: ``kind`` is own, classifier or other."""

    start: int
    end: int
    kind: str
    who: str = ""
    field: str = ""
    category: str = ""


def evidence_spans(
    evidence: list[dict[str, Any]] | None, scratchpad: str, kind: str, who: str = ""
) -> list[Highlight]:
    """Where each evidence span or quote points in the scratchpad: its offsets when they hold
    the quoted text (or no text is quoted), else the first place the quote occurs. A quote
    found nowhere is left out (the side panel still shows it)."""
    out = []
    for span in evidence or []:
        start, end = span.get("start"), span.get("end")
        quote = str(span.get("text") or span.get("quote") or "")
        field_id, category = str(span.get("field") or ""), str(span.get("category") or "")
        exact = isinstance(start, int) and isinstance(end, int)
        exact = exact and 0 <= start < end <= len(scratchpad)
        if exact and (not quote or scratchpad[start:end] == quote):
            out.append(Highlight(start, end, kind, who, field_id, category))
            continue
        if quote.strip():
            at = scratchpad.find(quote)
            if at >= 0:
                out.append(Highlight(at, at + len(quote), kind, who, field_id, category))
    return out


class LabelSession:
    """Queue, current item and its labels, draft, read-ahead, held keys, allowed acts."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        loader: Callable[[int, int | None], ItemBundle | None] | None = None,
    ) -> None:
        self.config = config
        self.loader = loader
        self.queue: LabelQueue | None = None
        self.kind = "random"
        self.bundle: ItemBundle | None = None
        self.draft: Draft | None = None
        self.mode = BLIND
        self.flagged = False
        self.initial_evidence: list[dict[str, Any]] = []
        self.comment_count = 0
        self.shown_at = 0.0
        self.last_position = 0
        self.prefetched: ItemReadAhead | None = None
        self.prefetching_for: int | None = None
        self.advance_waiting = False
        self.note = ""
        self.session_items = 0
        self.session_seconds = 0.0
        self.finished = False
        self.committing = False
        self.empty_note: str | None = None
        self.pending = 0
        self.held: list[tuple[str, str | None]] = []
        self.current_id: int | None = None
        # Bumped whenever another item (or the end of the queue) is put on screen; a renderer
        # redraws the transcript when it changes, unless ``keep_view`` (same item, re-read).
        self.shown = 0
        self.keep_view = False
        self.history: list[Visit] = []
        self._back_at: int | None = None  # where a walk back through ``history`` has got to
        self._going_back = False
        # A comment the database was too busy to take: ``c`` on its item offers it again.
        self.unsaved_comment: tuple[int | None, str] = (None, "")

    # -- reading (job side) ------------------------------------------------------------

    def load(self, transcript_id: int, position: int | None = None) -> ItemBundle | None:
        if self.loader is not None:
            return self.loader(transcript_id, position)
        cfg = self.config
        return load_bundle(
            cfg.store,
            transcript_id,
            annotator=cfg.annotator,
            rubric_id=cfg.rubric.id,
            blind=cfg.blind,
            position=position,
        )

    def guarded(self, kind: str, transcript_id: int, write: Callable[[], Any]) -> Any:
        """Run an act's write only if its item is still the one on screen (job side)."""
        current = self.current_id
        if current != transcript_id:
            return ActRefused(kind, transcript_id, current)
        return write()

    # -- held keys -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """An act or a move is in flight: the item on screen may not be the next key's."""
        return self.pending > 0 or self.advance_waiting

    def hold(self, key: str, char: str | None) -> None:
        self.held.append((key, char))
        self.note = f"loading ... {len(self.held)} key(s) held for the item that comes next"

    def next_held(self) -> tuple[str, str | None] | None:
        """The next held key to replay now, or None while busy or when none is held."""
        if self.held and not self.busy:
            return self.held.pop(0)
        return None

    def submitted(self, job: Job) -> None:
        """A runner calls this when it takes a job (before the job runs)."""
        if job.blocking:
            self.pending += 1

    def released(self, job: Job) -> None:
        """A runner calls this after a job's outcome was received."""
        if job.blocking:
            self.pending = max(self.pending - 1, 0)

    # -- what is highlighted ------------------------------------------------------------------

    def highlights(self) -> list[Highlight]:
        """Your evidence, and once others' labels are shown, the classifiers' quotes and the
        other raters' evidence spans, in scratchpad order."""
        if self.bundle is None or self.draft is None:
            return []
        scratchpad = self.bundle.transcript["scratchpad"] or ""
        found = evidence_spans(self.draft.evidence, scratchpad, "own", "you")
        if self.mode != BLIND and self.bundle.others:
            for e in self.bundle.others:
                kind = "classifier" if e.source == "classifier" else "other"
                found += evidence_spans(e.evidence, scratchpad, kind, e.rater)
        return sorted(found, key=lambda h: (h.start, h.end, h.kind))

    def unchosen_evidence(self) -> list[dict[str, Any]]:
        """Your evidence spans attached to a category the draft does not choose."""
        if self.draft is None:
            return []
        rubric = self.config.rubric
        out = []
        for span in self.draft.evidence:
            try:
                f = rubric.field(span.get("field", ""))
            except KeyError:
                continue
            if not self.draft.is_chosen(f, span.get("category", "")):
                out.append(span)
        return out

    def remove_evidence(self, offset: int) -> dict[str, Any] | None:
        """Detach your evidence span that covers scratchpad ``offset`` (the newest such)."""
        if self.draft is None:
            return None
        for span in reversed(self.draft.evidence):
            if span["start"] <= offset < span["end"]:
                self.draft.evidence.remove(span)
                self.note = f"evidence removed from {span['field']}={span['category']}"
                return span
        self.note = "no evidence of yours under the cursor"
        return None

    # -- what may be done now -------------------------------------------------------------

    def allowed(self) -> set[str]:
        """The acts that would do something now (a key for another act says why not)."""
        acts = {"undo", "quit", "find", "help"}
        if self.bundle is None or self.draft is None:
            return acts
        acts |= {"skip", "flag", "comment", "mark", "evidence", "choose"}
        if not self.committing:
            acts.add("commit")
        if self.mode == AUDIT and self.kind in ERROR_KINDS:
            acts.add("reason")
        if len(self.history) > 1:
            acts.add("previous")
        return acts

    @property
    def uncommitted(self) -> bool:
        """A choice on screen that no commit has stored (quitting would drop it)."""
        if self.bundle is None or self.draft is None:
            return False
        latest = self.bundle.adjudicated if self.mode == ADJUDICATE else self.bundle.latest_label
        changed = bool(self.draft.values) and self.draft.committable() != latest
        return changed or self.draft.evidence != self.initial_evidence

    # -- opening and moving ----------------------------------------------------------------

    def open_queue(self) -> list[Job]:
        cfg = self.config

        def work() -> QueueOpened:
            cfg.store.register_rubric(
                cfg.rubric.id,
                cfg.rubric.version,
                cfg.rubric.source_text,
                cfg.rubric_hash,
                cfg.rubric.origin,
            )
            items = getattr(cfg, "items", None)
            if items is not None:
                queue = LabelQueue(
                    cfg.store,
                    cfg.annotator,
                    cfg.rubric.id,
                    seed=cfg.seed,
                    reason="errors",
                    params=dict(cfg.params),
                    items=items,
                )
            else:
                queue = LabelQueue(
                    cfg.store, cfg.annotator, cfg.rubric.id, cfg.queue_name, seed=cfg.seed
                )
            if queue.queue_rubric and queue.queue_rubric != cfg.rubric.id:
                # A queue is made for one rubric: label it under that one.
                cfg.rubric = resolve_rubric(cfg.store, queue.queue_rubric)
                cfg.store.register_rubric(
                    cfg.rubric.id,
                    cfg.rubric.version,
                    cfg.rubric.source_text,
                    cfg.rubric_hash,
                    cfg.rubric.origin,
                )
                queue = LabelQueue(
                    cfg.store, cfg.annotator, cfg.rubric.id, cfg.queue_name, seed=cfg.seed
                )
            if not queue.blind:
                cfg.blind = False
            self.kind = queue.reason
            entry = queue.next_entry()
            bundle = None if entry is None else self.load(entry.transcript_id, entry.position)
            empty = None
            if cfg.queue_name is not None and queue.total == 0:
                empty = no_assignments_note(cfg.store, cfg.queue_name, cfg.annotator)
            return QueueOpened(queue, bundle, empty)

        return [Job("open queue", work, blocking=True)]

    def reopen(self) -> list[Job]:
        """Re-read the queue (after a rubric or mode switch)."""
        self.prefetched = None
        return self.open_queue()

    def prefetch(self) -> list[Job]:
        if self.queue is None or self.bundle is None:
            return []
        queue, current = self.queue, self.bundle
        start = current.position + 1 if current.position is not None else self.last_position
        self.prefetched = None
        self.prefetching_for = current.id

        def work() -> ItemReadAhead:
            entry = queue.next_entry(start, exclude={current.id})
            bundle = None if entry is None else self.load(entry.transcript_id, entry.position)
            return ItemReadAhead(current.id, bundle)

        return [Job("read ahead", work)]

    def load_next(self) -> list[Job]:
        queue = self.queue
        if queue is None:
            return []
        current = self.bundle
        start = self.last_position
        exclude = {current.id} if current is not None else set()

        def work() -> ItemRead:
            entry = queue.next_entry(start, exclude=exclude)
            if entry is None and start:
                entry = queue.next_entry(0, exclude=exclude)
            return ItemRead(
                None if entry is None else self.load(entry.transcript_id, entry.position)
            )

        return [Job("load next item", work, blocking=True)]

    def read_item(self, action: str, transcript_id: int) -> list[Job]:
        """Show ``transcript_id`` (a jump, the previous item) as a detour: without a position,
        so that afterwards the queue goes on from where it was."""

        def work() -> ItemRead | JobFailed:
            bundle = self.load(transcript_id, None)
            if bundle is None:
                return JobFailed(action, f"no transcript with id {transcript_id}")
            return ItemRead(bundle)

        return [Job(action, work, blocking=True)]

    def reload_current(self) -> list[Job]:
        if self.bundle is None:
            return self.reopen()
        tid, pos = self.bundle.id, self.bundle.position
        return [Job("reload", lambda: ItemRead(self.load(tid, pos)), blocking=True)]

    def previous(self) -> list[Job]:
        """Back to the item shown before this one in this session; again, further back."""
        start = len(self.history) if self._back_at is None else self._back_at
        at = start - 1
        while at >= 0 and self.history[at].transcript_id == self.current_id:
            at -= 1
        if at < 0:
            self.note = "previous: no earlier item in this session"
            return []
        self._back_at = at
        self._going_back = True
        return self.read_item("previous", self.history[at].transcript_id)

    def mode_for(self, bundle: ItemBundle) -> str:
        if self.kind in ADJUDICATION_KINDS:
            return ADJUDICATE
        if not self.config.blind:
            return AUDIT
        return REVEALED if bundle.committed or bundle.revealed else BLIND

    def show(self, bundle: ItemBundle | None, *, keep_view: bool = False) -> list[Job]:
        """Put ``bundle`` on screen (None: the queue is finished); returns the jobs it needs."""
        if bundle is None:
            self.show_finished()
            return []
        self.finished = False
        same_item = self.bundle is not None and self.bundle.id == bundle.id
        self.bundle = bundle
        self.current_id = bundle.id
        if bundle.position is not None:
            self.last_position = bundle.position
        self.mode = self.mode_for(bundle)
        rubric = self.config.rubric
        if self.mode == ADJUDICATE:
            self.draft = Draft.from_values(rubric, bundle.adjudicated)
        else:
            self.draft = Draft.from_values(rubric, bundle.latest_label if bundle.committed else {})
            if bundle.committed:
                self.draft.evidence = bundle.latest_evidence
        self.initial_evidence = list(self.draft.evidence)
        self.flagged = bundle.flagged
        self.comment_count = len(bundle.comments)
        self.shown_at = self.config.clock()
        self.keep_view = keep_view and same_item
        self.shown += 1
        self.note = ""
        self._remember(bundle)
        jobs: list[Job] = []
        if self.mode == AUDIT and bundle.others and not bundle.revealed:
            jobs += self._reveal_job(bundle.id)
        return jobs + self.prefetch()

    def _remember(self, bundle: ItemBundle) -> None:
        """Items in the order this session showed them; a walk back adds nothing to it."""
        if self._going_back:
            self._going_back = False
            given = ", ".join(f"{k}={show_value(v)}" for k, v in bundle.latest_label.items())
            self.note = f"previous: #{bundle.id}" + (f", you said {given}" if given else "")
            return
        self._back_at = None
        if self.history and self.history[-1].transcript_id == bundle.id:
            self.history[-1] = Visit(bundle.id, bundle.position, bundle.latest_label)
            return
        self.history.append(Visit(bundle.id, bundle.position, bundle.latest_label))
        del self.history[:-200]

    def show_finished(self) -> None:
        self.finished = True
        self.bundle = None
        self.current_id = None
        self.draft = None
        self.keep_view = False
        self.shown += 1

    def _reveal_job(self, tid: int) -> list[Job]:
        cfg = self.config

        def work() -> ActDone:
            record_reveal(
                cfg.store,
                tid,
                annotator=cfg.annotator,
                rubric_id=cfg.rubric.id,
                rubric_hash=cfg.rubric_hash,
            )
            return ActDone("_reveal", tid, None)

        return [Job("record reveal", work)]

    def advance(self) -> list[Job]:
        current = self.bundle
        if current is None:
            return self.load_next()
        pre = self.prefetched
        if pre is not None and pre.after == current.id:
            done = self.queue.done if self.queue else set()
            if pre.bundle is None or pre.bundle.id not in done:
                self.prefetched = None
                return self.show(pre.bundle)
        if self.prefetching_for == current.id:
            self.advance_waiting = True
            return []
        return self.load_next()

    def elapsed(self) -> float:
        return max(self.config.clock() - self.shown_at, 0.0)

    # -- acts ----------------------------------------------------------------------------

    def press(self, char: str) -> bool:
        """A rubric key: choose or toggle a category in the draft."""
        if self.draft is None or self.bundle is None or not self.draft.press(char):
            return False
        self.note = ""
        return True

    def commit(self, *, reason: str | None = None) -> list[Job]:
        """Store the draft. In adjudication mode ``reason`` is required (the screen asks)."""
        if self.bundle is None or self.draft is None or self.committing:
            return []
        cfg = self.config
        draft, bundle = self.draft, self.bundle
        if self.mode == ADJUDICATE:
            return self._adjudicate(reason)
        unchanged = (
            draft.committable() == bundle.latest_label and draft.evidence == self.initial_evidence
        )
        if self.mode == REVEALED and unchanged:
            return self.advance()
        missing = draft.missing()
        if missing:
            keys = "/".join(c.key for c in missing[0].categories)
            self.note = f"choose {missing[0].id} first ({keys})"
            return []
        values, evidence = draft.committable(), list(draft.evidence)
        seconds = round(self.elapsed(), 3)
        self.session_seconds += seconds
        blind_mode = self.mode != AUDIT
        queue = self.queue
        self.committing = True

        def write() -> CommitDone:
            result = commit_label(
                cfg.store,
                bundle.id,
                annotator=cfg.annotator,
                rubric_id=cfg.rubric.id,
                rubric_hash=cfg.rubric_hash,
                values=values,
                evidence=evidence,
                seconds=seconds,
                blind_mode=blind_mode,
            )
            if queue is not None:
                queue.mark_labeled(bundle.id)
            return CommitDone(result, self.load(bundle.id, bundle.position))

        return [Job("commit", lambda: self.guarded("commit", bundle.id, write), blocking=True)]

    def adjudication_values(self) -> dict[str, Any] | None:
        """The decision the draft holds, or None (with a note) when a field is missing."""
        if self.draft is None:
            return None
        missing = self.draft.missing()
        if missing:
            keys = "/".join(c.key for c in missing[0].categories)
            self.note = f"choose the final {missing[0].id} first ({keys})"
            return None
        return self.draft.committable()

    def _adjudicate(self, reason: str | None) -> list[Job]:
        values = self.adjudication_values()
        if values is None:
            return []
        if not reason or not reason.strip():
            self.note = "an adjudication needs a reason: nothing saved"
            return []
        cfg, bundle, queue = self.config, self.bundle, self.queue
        assert bundle is not None
        seconds = round(self.elapsed(), 3)
        self.session_seconds += seconds
        self.committing = True

        def write() -> ActDone:
            ids = adjudicate(
                cfg.store,
                bundle.id,
                adjudicator=cfg.annotator,
                rubric_id=cfg.rubric.id,
                rubric_hash=cfg.rubric_hash,
                values=values,
                reason=reason.strip(),
                seconds=seconds,
            )
            if queue is not None:
                queue.mark_labeled(bundle.id)
            return ActDone("adjudication", bundle.id, ids[0] if ids else None)

        return [
            Job("adjudicate", lambda: self.guarded("adjudicate", bundle.id, write), blocking=True)
        ]

    def meta(self, kind: str, tid: int, value: Any = True, note: str | None = None) -> list[Job]:
        """Record a skip, flag or comment on item ``tid`` (the item it was made for)."""
        cfg, queue = self.config, self.queue
        seconds = round(self.elapsed(), 3) if kind == "_skip" else None

        def write() -> ActDone:
            try:
                event_id = record_meta(
                    cfg.store,
                    tid,
                    annotator=cfg.annotator,
                    rubric_id=cfg.rubric.id,
                    rubric_hash=cfg.rubric_hash,
                    kind=kind,
                    value=value,
                    note=note,
                    seconds=seconds,
                )
            except DatabaseBusyError:
                if kind == "_comment":  # kept: `c` on this item offers the text again
                    self.unsaved_comment = (tid, note or "")
                raise
            if kind == "_skip" and queue is not None:
                queue.mark_skipped(tid)
            return ActDone(kind, tid, event_id)

        return [Job(kind.lstrip("_"), lambda: self.guarded(kind, tid, write), blocking=True)]

    def skip(self) -> list[Job]:
        """Record the skip, then move on (keys typed meanwhile wait for the next item)."""
        return [] if self.bundle is None else self.meta("_skip", self.bundle.id)

    def flag(self) -> list[Job]:
        if self.bundle is None:
            return []
        self.flagged = not self.flagged
        self.note = "flagged" if self.flagged else "flag removed"
        return self.meta("_flag", self.bundle.id, self.flagged)

    def comment(self, tid: int, text: str | None) -> list[Job]:
        if not text or not text.strip():
            self.note = "comment empty: nothing saved"
            return []
        self.unsaved_comment = (None, "")
        if self.current_id == tid:
            self.comment_count += 1
        return self.meta("_comment", tid, True, note=text.strip())

    def comment_draft(self, tid: int) -> str:
        """The text a comment dialog on item ``tid`` starts with (one that was not saved)."""
        return self.unsaved_comment[1] if self.unsaved_comment[0] == tid else ""

    def error_reason(
        self, tid: int, field_id: str, codes: list[str], text: str | None
    ) -> list[Job]:
        """An auditor's reasons why the classifier was wrong on ``field_id`` of item ``tid``."""
        bundle = self.bundle
        if bundle is None:
            return []
        cfg, queue = self.config, self.queue
        wrong = [e for e in bundle.others or [] if e.field == field_id and e.source == "classifier"]
        named = self.queue.params.get("rater") if self.queue is not None else None
        raters = [e.rater for e in wrong]
        classifier = named if named in raters else (raters[0] if raters else None)
        if classifier is None:
            self.note = f"no classifier label on {field_id} here: nothing to tag"
            return []
        said = next((e.value for e in wrong if e.rater == classifier), None)
        events = [e for e in bundle.own + (bundle.others or []) if e.field == field_id]
        gold = gold_for_field(events, field_id, GoldPolicy(min_humans=1))

        def write() -> ActDone:
            event_id = record_error_reason(
                cfg.store,
                tid,
                auditor=cfg.annotator,
                rubric_id=cfg.rubric.id,
                rubric_hash=cfg.rubric_hash,
                field=field_id,
                classifier=classifier,
                classifier_value=said,
                codes=codes,
                note=text,
                reference_value=gold.value,
            )
            if queue is not None and queue.reason in ERROR_KINDS:
                queue.mark_labeled(tid)
            return ActDone("_error", tid, event_id)

        return [
            Job("error reason", lambda: self.guarded("error reason", tid, write), blocking=True)
        ]

    def undo(self) -> list[Job]:
        cfg, queue = self.config, self.queue

        def work() -> UndoDone:
            result = undo_last_act(cfg.store, cfg.annotator)
            if queue is not None:
                queue.reload_done()
            bundle = None
            if result.retracted and result.transcript_id is not None:
                bundle = self.load(result.transcript_id, None)
                if bundle is not None and queue is not None:
                    bundle.position = queue.position_of(bundle.id)
            return UndoDone(result, bundle)

        return [Job("undo", work, blocking=True)]

    def flush(self) -> list[Job]:
        self.note = "saving ..."
        return [Job("flush", FlushDone)]

    # -- outcomes (UI side) -------------------------------------------------------------

    def receive(self, outcome: Any) -> list[Job]:
        """Apply a job's outcome; returns the jobs it leads to."""
        handler = getattr(self, "_on_" + type(outcome).__name__, None)
        return handler(outcome) if handler is not None else []

    def _on_QueueOpened(self, o: QueueOpened) -> list[Job]:
        self.queue = o.queue
        self.kind = o.queue.reason
        self.empty_note = o.empty_note
        self.bundle = None
        self.prefetched = None
        return self.show(o.bundle)

    def _on_ItemRead(self, o: ItemRead) -> list[Job]:
        return self.show(o.bundle)

    def _on_ItemReadAhead(self, o: ItemReadAhead) -> list[Job]:
        if self.bundle is None or o.after != self.bundle.id:
            return []
        self.prefetched = o
        self.prefetching_for = None
        if self.advance_waiting:
            self.advance_waiting = False
            return self.advance()
        return []

    def _on_CommitDone(self, o: CommitDone) -> list[Job]:
        self.committing = False
        self.session_items += 1
        if o.bundle is None or self.bundle is None or o.bundle.id != self.bundle.id:
            return []
        if o.result.phase == "blind" and o.bundle.others:
            jobs = self.show(o.bundle, keep_view=True)
            self.note = (
                "blind label saved (frozen). enter: next item; change keys, then enter: revise"
            )
            return jobs
        if o.result.phase == "blind":
            note = "blind label saved; no classifier or other label to reveal on this item"
        elif self.mode == AUDIT:
            note = "label saved as 'revealed' (made with the others' labels in view)"
        else:
            note = "revision saved (the blind label stays as it was)"
        jobs = self.advance()
        self.note = f"#{o.bundle.id}: {note}"
        return jobs

    def _on_ActDone(self, o: ActDone) -> list[Job]:
        on_screen = self.bundle is not None and self.bundle.id == o.transcript_id
        if o.kind == "_skip":
            if on_screen:
                jobs = self.advance()
                self.note = f"#{o.transcript_id} skipped: it comes back at the end of the queue"
                return jobs
        elif o.kind == "_comment":
            self.note = "comment saved"
        elif o.kind == "adjudication":
            self.committing = False
            self.session_items += 1
            if on_screen:
                jobs = self.advance()
                self.note = f"#{o.transcript_id}: decision saved (u undoes it)"
                return jobs
        elif o.kind == "_error" and on_screen:
            jobs = self.advance() if self.kind in ERROR_KINDS else []
            self.note = f"#{o.transcript_id}: error reason saved (u undoes it)"
            return jobs
        return []

    def _on_ActRefused(self, o: ActRefused) -> list[Job]:
        if o.kind in ("commit", "adjudicate"):
            self.committing = False
        shown = f"#{o.current_id}" if o.current_id is not None else "no item"
        self.note = (
            f"{o.kind.lstrip('_')} not saved: it was made for item "
            f"#{o.transcript_id}, but {shown} is on screen now"
        )
        return []

    def _on_UndoDone(self, o: UndoDone) -> list[Job]:
        result = o.result
        if result.refused:
            self.note = f"undo: {result.refused}"
            return []
        self.prefetched = None
        fields = ", ".join(e.field for e in result.retracted)
        jobs: list[Job] = []
        if o.bundle is not None:
            restored = {e.field: e.value for e in result.retracted if not e.field.startswith("_")}
            jobs = self.show(o.bundle, keep_view=True)
            committed = o.bundle.adjudicated if self.mode == ADJUDICATE else o.bundle.committed
            if restored and not committed and self.draft is not None:
                self.draft = Draft.from_values(self.config.rubric, restored)
                for e in result.retracted:
                    self.draft.evidence += list(e.evidence or [])
        frozen = f"; {result.frozen_note}" if result.frozen else ""
        self.note = f"undone: {fields} on item #{result.transcript_id}{frozen}"
        return jobs

    def _on_JobFailed(self, o: JobFailed) -> list[Job]:
        self.committing = False
        if o.action == "read ahead" and self.advance_waiting:
            self.advance_waiting = False
            self.prefetching_for = None
            return self.load_next()
        return []


class HeadlessRunner:
    """Runs a session's jobs at once, in the order handed over, on the calling thread: the
    session without a screen (unit tests, scripts). Keys are replayed as a screen would."""

    def __init__(self, session: LabelSession) -> None:
        self.session = session
        self.outcomes: list[Any] = []
        self._queue: deque[Job] = deque()
        self._running = False

    def run(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.session.submitted(job)
            self._queue.append(job)
        if self._running:
            return
        self._running = True
        try:
            while self._queue:
                job = self._queue.popleft()
                outcome = job.execute()
                if outcome is not None:
                    self.outcomes.append(outcome)
                    self.run(self.session.receive(outcome))
                self.session.released(job)
        finally:
            self._running = False

    def start(self) -> LabelSession:
        self.run(self.session.open_queue())
        return self.session

    def key(self, char: str) -> None:
        """A rubric key or one of the act keys: enter, s, f, u."""
        acts = {
            "enter": self.session.commit,
            "s": self.session.skip,
            "f": self.session.flag,
            "u": self.session.undo,
        }
        if char in acts:
            self.run(acts[char]())
        else:
            self.session.press(char)
