"""The labeling screen: read a scratchpad, choose with the rubric's keys, commit, move on.

State lives here; the database is touched only by worker threads. Jobs run strictly in the
order they were queued (a ticket per job), so an undo typed right after a commit undoes that
commit, and quitting waits for every queued write.

Every act belongs to the item on screen when its key is handled. While an act or a move to
another item is in flight, the keys typed meanwhile are held and replayed, in order, once the
screen shows the item they will act on; and each act carries its item's id, which the worker
checks against the item on screen before it writes anything.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Collapsible, Footer, Static
from textual.widgets._collapsible import CollapsibleTitle

from db.connection import DatabaseBusyError
from db.labeling import LabelQueue, no_assignments_note
from db.labels import commit_label, record_meta, record_reveal, resolve_rubric, undo_last_act
from reviewer.tui.data import ItemBundle, load_bundle
from reviewer.tui.draft import Draft
from reviewer.tui.messages import (
    ActRecorded,
    ActRefused,
    Committed,
    DatabaseBusy,
    DatabaseFailed,
    Flushed,
    ItemLoaded,
    ItemPrefetched,
    JobReleased,
    QueueReady,
    Undone,
)
from reviewer.tui.screens.dialogs import CommentDialog, EvidenceDialog, FindDialog, JumpDialog
from reviewer.tui.screens.help import HelpScreen
from reviewer.tui.text import visible
from reviewer.tui.widgets.panels import LabelBar, ProgressLine, SidePanel
from reviewer.tui.widgets.transcript_view import Section, Span, TranscriptView

if TYPE_CHECKING:
    from reviewer.tui.app import LabelerApp


class JobOrder:
    """Tickets that make thread workers run one at a time, first come first served."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._issued = 0
        self._serving = 0

    def ticket(self) -> int:
        with self._cond:
            self._issued += 1
            return self._issued - 1

    @contextmanager
    def turn(self, ticket: int):
        with self._cond:
            self._cond.wait_for(lambda: self._serving == ticket)
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


class LabelScreen(Screen):
    AUTO_FOCUS = None
    BINDINGS = [
        Binding("enter", "commit", "commit"),
        Binding("u", "undo", "undo"),
        Binding("s", "skip", "skip"),
        Binding("f", "flag", "flag"),
        Binding("c", "comment", "comment"),
        Binding("slash", "find", "find"),
        Binding("m", "mark", "mark"),
        Binding("e", "evidence", "evidence"),
        Binding("question_mark", "help", "keys"),
        Binding("q", "quit_labeler", "quit"),
        Binding("v", "toggle_prompt", "prompt", show=False),
        Binding("shift+up", "scroll_prompt(-3)", "prompt up", show=False),
        Binding("shift+down", "scroll_prompt(3)", "prompt down", show=False),
        Binding("escape", "clear_mark", "clear", show=False),
        Binding("up,k", "cursor(-1, 0)", "up", show=False),
        Binding("down,j", "cursor(1, 0)", "down", show=False),
        Binding("left", "cursor(0, -1)", "word left", show=False),
        Binding("right", "cursor(0, 1)", "word right", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown,space", "page(1)", "page down", show=False),
        Binding("home", "edge(0)", "top", show=False),
        Binding("end", "edge(1)", "bottom", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs = JobOrder()
        self.queue: LabelQueue | None = None
        self.bundle: ItemBundle | None = None
        self.draft: Draft | None = None
        self.mode = "BLIND"
        self.flagged = False
        self.initial_evidence: list[dict[str, Any]] = []
        self.comment_count = 0
        self.shown_at = 0.0
        self.last_position = 0
        self.prefetched: ItemPrefetched | None = None
        self.prefetching_for: int | None = None
        self.advance_waiting = False
        self.last_find = ""
        self.note = ""
        self.session_items = 0
        self.session_seconds = 0.0
        self.finished = False
        self.committing = False
        self._shown_prompt: str | None = None
        self.empty_note: str | None = None
        self.pending = 0
        self.held: list[tuple[str, str | None]] = []
        self.current_id: int | None = None
        self.unsaved_comment: tuple[int | None, str] = (None, "")
        self._act_keys = {k.strip() for b in self.BINDINGS for k in b.key.split(",")}

    @property
    def labeler(self) -> LabelerApp:
        return self.app  # type: ignore[return-value]

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="item-header")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with (
                    Collapsible(title="System prompt", collapsed=True, id="system-prompt"),
                    VerticalScroll(id="prompt-scroll", can_focus=False),
                ):
                    yield Static(id="prompt-text")
                yield TranscriptView(id="transcript")
            yield SidePanel(id="side")
        yield LabelBar(id="label-bar")
        yield ProgressLine(id="progress")
        yield Footer()

    def on_mount(self) -> None:
        # A write that waits for another process's lock says so while it waits.
        self.labeler.store.on_busy = lambda seconds: self.post_message(DatabaseBusy(seconds))
        for title in self.query(CollapsibleTitle):
            title.can_focus = False
        self.set_focus(None)
        self.query_one("#item-header", Static).update(Text("opening the queue ...", "dim"))
        self.open_queue()

    # -- jobs ------------------------------------------------------------------------------

    def run_job(
        self, action: str, job: Callable[[], Message | None], *, blocking: bool = False
    ) -> None:
        """Queue a database job; ``blocking``: hold the keys typed until it has finished."""
        if blocking:
            self.pending += 1
        self._job_worker(action, job, self.jobs.ticket(), blocking)

    @work(thread=True, group="db")
    def _job_worker(
        self, action: str, job: Callable[[], Message | None], ticket: int, blocking: bool
    ) -> None:
        with self.jobs.turn(ticket):
            try:
                message = job()
            except DatabaseBusyError as exc:  # nothing written; the act is still on screen
                message = DatabaseFailed(action, f"{exc}. What you did is kept here: try again")
            except Exception as exc:  # reported on screen; the worker must not die silently
                message = DatabaseFailed(action, f"{type(exc).__name__}: {exc}")
        if message is not None:
            self.post_message(message)
        if blocking:
            self.post_message(JobReleased())

    def guarded(self, kind: str, transcript_id: int, write: Callable[[], Message]) -> Message:
        """Run an act's write only if its item is still the one on screen (worker side)."""
        current = self.current_id
        if current != transcript_id:
            return ActRefused(kind, transcript_id, current)
        return write()

    # -- keys typed while the screen is busy ----------------------------------------------

    @property
    def busy(self) -> bool:
        """An act or a move is in flight: the item on screen may not be the next key's."""
        return self.pending > 0 or self.advance_waiting

    def is_act_key(self, event: Key) -> bool:
        if event.key in self._act_keys:
            return True
        char = event.character
        return bool(char) and any(f.category_for_key(char) for f in self.labeler.rubric.fields)

    def hold(self, event: Key) -> None:
        event.stop()
        event.prevent_default()
        self.held.append((event.key, event.character))
        self.say(f"loading ... {len(self.held)} key(s) held for the item that comes next")

    def release_held(self) -> None:
        """Replay held keys in order while the screen is free and on top."""
        while self.held and not self.busy and self.app.screen is self:
            key, char = self.held.pop(0)
            self.apply_key(key, char)

    def apply_key(self, key: str, char: str | None) -> None:
        from textual.actions import parse

        if char and self.draft is not None and self.bundle is not None and self.draft.press(char):
            self.note = ""
            self.refresh_panels()
            return
        for binding in self._bindings.key_to_bindings.get(key, ()):
            _, name, params = parse(binding.action)
            getattr(self, f"action_{name}")(*params)
            return

    def on_screen_resume(self) -> None:
        self.release_held()

    @on(JobReleased)
    def job_released(self) -> None:
        self.pending = max(self.pending - 1, 0)
        self.release_held()

    def _load(self, transcript_id: int, position: int | None = None) -> ItemBundle | None:
        app = self.labeler
        return load_bundle(app.store, transcript_id, annotator=app.annotator,
                           rubric_id=app.rubric.id, blind=app.blind, position=position)  # fmt: skip

    def open_queue(self) -> None:
        app = self.labeler

        def job() -> Message:
            app.store.register_rubric(app.rubric.id, app.rubric.version, app.rubric.source_text,
                                      app.rubric_hash, app.rubric.origin)  # fmt: skip
            queue = LabelQueue(app.store, app.annotator, app.rubric.id, app.queue_name,
                               seed=app.seed)  # fmt: skip
            if queue.queue_rubric and queue.queue_rubric != app.rubric.id:
                # A queue is made for one rubric: label it under that one.
                app.rubric = resolve_rubric(app.store, queue.queue_rubric)
                app.store.register_rubric(app.rubric.id, app.rubric.version,
                                          app.rubric.source_text, app.rubric_hash,
                                          app.rubric.origin)  # fmt: skip
                queue = LabelQueue(app.store, app.annotator, app.rubric.id, app.queue_name,
                                   seed=app.seed)  # fmt: skip
            if not queue.blind:
                app.blind = False
            entry = queue.next_entry()
            bundle = None if entry is None else self._load(entry.transcript_id, entry.position)
            empty = None
            if app.queue_name is not None and queue.total == 0:
                empty = no_assignments_note(app.store, app.queue_name, app.annotator)
            return QueueReady(queue, bundle, empty)

        self.run_job("open queue", job, blocking=True)

    def prefetch(self) -> None:
        if self.queue is None or self.bundle is None:
            return
        queue, current = self.queue, self.bundle
        start = current.position + 1 if current.position is not None else self.last_position
        self.prefetched = None
        self.prefetching_for = current.id

        def job() -> Message:
            entry = queue.next_entry(start, exclude={current.id})
            bundle = None if entry is None else self._load(entry.transcript_id, entry.position)
            return ItemPrefetched(current.id, bundle)

        self.run_job("read ahead", job)

    def load_next(self) -> None:
        queue = self.queue
        if queue is None:
            return
        current = self.bundle
        start = self.last_position
        exclude = {current.id} if current is not None else set()

        def job() -> Message:
            entry = queue.next_entry(start, exclude=exclude)
            if entry is None and start:
                entry = queue.next_entry(0, exclude=exclude)
            return ItemLoaded(None if entry is None else self._load(entry.transcript_id, entry.position))  # fmt: skip

        self.run_job("load next item", job, blocking=True)

    # -- showing an item -----------------------------------------------------------------

    def mode_for(self, bundle: ItemBundle) -> str:
        if not self.labeler.blind:
            return "AUDIT"
        return "REVEALED" if bundle.committed or bundle.revealed else "BLIND"

    def show_bundle(self, bundle: ItemBundle | None, *, keep_view: bool = False) -> None:
        app = self.labeler
        if bundle is None:
            self.show_finished()
            return
        self.finished = False
        same_item = self.bundle is not None and self.bundle.id == bundle.id
        self.bundle = bundle
        self.current_id = bundle.id
        if bundle.position is not None:
            self.last_position = bundle.position
        self.mode = self.mode_for(bundle)
        self.draft = Draft.from_values(app.rubric, bundle.latest_label if bundle.committed else {})
        if bundle.committed:
            self.draft.evidence = bundle.latest_evidence
        self.initial_evidence = list(self.draft.evidence)
        self.flagged = bundle.flagged
        self.comment_count = len(bundle.comments)
        self.shown_at = app.clock()
        t = bundle.transcript
        view = self.query_one(TranscriptView)
        if not (keep_view and same_item):
            view.show(bundle.id, [
                Section("scratchpad", "SCRATCHPAD (hidden reasoning)", t["scratchpad"] or "", t["scratchpad_blocks"]),  # fmt: skip
                Section("user", "USER REQUEST", t["user_input"] or ""),
                Section("output", "FINAL OUTPUT", t["output"] or ""),
            ])  # fmt: skip
            prompt = t["system_prompt"] or ""
            if prompt != self._shown_prompt:
                self._shown_prompt = prompt
                self.refresh_prompt_title()
                self.query_one("#prompt-text", Static).update(Text(visible(prompt)))
        view.evidence = [Span("scratchpad", e["start"], e["end"]) for e in self.draft.evidence]
        header = Text()
        header.append(f" #{bundle.id} ", "bold reverse")
        for label, key in (("model", "model"), ("condition", "condition"), ("dataset", "dataset")):
            if t.get(key):
                header.append(f"  {label} ", "dim")
                header.append(visible(str(t[key])))
        blocks = len(t["scratchpad_blocks"]) or (1 if t["scratchpad"] else 0)
        header.append(f"  {blocks} block(s), {len(t['scratchpad'] or ''):,} chars", "dim")
        self.query_one("#item-header", Static).update(header, layout=False)
        self.note = ""
        self.refresh_panels()
        if self.mode == "AUDIT" and bundle.others and not bundle.revealed:
            tid = bundle.id

            def job() -> Message:
                record_reveal(app.store, tid, annotator=app.annotator, rubric_id=app.rubric.id,
                              rubric_hash=app.rubric_hash)  # fmt: skip
                return ActRecorded("_reveal", tid, None)

            self.run_job("record reveal", job)
        self.prefetch()

    def show_finished(self) -> None:
        self.finished = True
        self.bundle = None
        self.current_id = None
        self.draft = None
        if self.empty_note:
            self.query_one(TranscriptView).show(0, [
                Section("done", "Nothing assigned to you here", f"{visible(self.empty_note)}. "
                        "Open it as one of those annotators (--annotator), or ask for a queue "
                        "that includes you (reviewer queue create). q quits."),
            ])  # fmt: skip
            header = " nothing assigned to you "
        else:
            self.query_one(TranscriptView).show(0, [
                Section("done", "Nothing left in this queue", "Every item here has your label or a skip. "
                        "Press u to undo the last act, ctrl+p to switch rubric or queue, q to quit."),
            ])  # fmt: skip
            header = " queue finished "
        self.query_one("#item-header", Static).update(Text(header, "bold reverse"))
        self.refresh_panels()

    def refresh_panels(self) -> None:
        app = self.labeler
        rubric = app.rubric
        draft = self.draft or Draft(rubric)
        bundle = self.bundle
        others = bundle.others if bundle is not None and self.mode != "BLIND" else None
        self.query_one(SidePanel).show(
            rubric,
            draft,
            own_blind=bundle.own_label("blind") if bundle else {},
            own_revised=bundle.own_label("revealed") if bundle else {},
            others=others,
            rubric_hash=app.rubric_hash,
        )
        self.query_one(LabelBar).show(self.mode, rubric, draft, flagged=self.flagged,
                                      comments=self.comment_count, note=self.note)  # fmt: skip
        self.refresh_progress()

    def refresh_progress(self) -> None:
        queue = self.queue
        self.query_one(ProgressLine).show(
            done=queue.done_count if queue else 0,
            skipped=queue.skipped_count if queue else 0,
            total=queue.total if queue else 0,
            session_items=self.session_items,
            session_seconds=self.session_seconds,
            queue=self.labeler.queue_label(queue),
            item_id=self.bundle.id if self.bundle else None,
        )

    def say(self, note: str) -> None:
        self.note = note
        self.refresh_panels()

    # -- messages from workers -------------------------------------------------------------

    @on(QueueReady)
    def queue_ready(self, message: QueueReady) -> None:
        self.queue = message.queue
        self.empty_note = message.empty_note
        self.bundle = None
        self.prefetched = None
        self.show_bundle(message.bundle)
        # Everything built so far (widgets, styles, rubric) lives as long as the app: keep it
        # out of the collector's way, so that a full collection does not stall a keypress.
        gc.freeze()

    @on(ItemLoaded)
    def item_loaded(self, message: ItemLoaded) -> None:
        self.show_bundle(message.bundle)

    @on(ItemPrefetched)
    def item_prefetched(self, message: ItemPrefetched) -> None:
        if self.bundle is None or message.after != self.bundle.id:
            return
        self.prefetched = message
        self.prefetching_for = None
        if self.advance_waiting:
            self.advance_waiting = False
            self.advance()
            self.release_held()

    @on(Committed)
    def committed(self, message: Committed) -> None:
        self.committing = False
        self.session_items += 1
        if message.bundle is None or self.bundle is None or message.bundle.id != self.bundle.id:
            return
        if message.result.phase == "blind" and message.bundle.others:
            self.show_bundle(message.bundle, keep_view=True)
            self.say(
                "blind label saved (frozen). enter: next item; change keys, then enter: revise"
            )
            return
        self.advance()

    @on(ActRecorded)
    def act_recorded(self, message: ActRecorded) -> None:
        if message.kind == "_skip":
            if self.bundle is not None and self.bundle.id == message.transcript_id:
                self.advance()
        elif message.kind == "_comment":
            self.say("comment saved")
        elif message.kind == "_flag":
            self.refresh_progress()

    @on(Undone)
    def undone(self, message: Undone) -> None:
        result = message.result
        if result.refused:
            self.say(f"undo: {result.refused}")
            return
        self.prefetched = None
        fields = ", ".join(e.field for e in result.retracted)
        if message.bundle is not None:
            restored = {e.field: e.value for e in result.retracted if not e.field.startswith("_")}
            self.show_bundle(message.bundle, keep_view=True)
            if restored and not message.bundle.committed and self.draft is not None:
                self.draft = Draft.from_values(self.labeler.rubric, restored)
                for e in result.retracted:
                    self.draft.evidence += list(e.evidence or [])
                self.query_one(TranscriptView).evidence = [
                    Span("scratchpad", s["start"], s["end"]) for s in self.draft.evidence
                ]
        frozen = f"; {result.frozen_note}" if result.frozen else ""
        self.say(f"undone: {fields} on item #{result.transcript_id}{frozen}")

    @on(ActRefused)
    def act_refused(self, message: ActRefused) -> None:
        if message.kind == "commit":
            self.committing = False
        shown = f"#{message.current_id}" if message.current_id is not None else "no item"
        self.say(f"{message.kind.lstrip('_')} not saved: it was made for item "
                 f"#{message.transcript_id}, but {shown} is on screen now")  # fmt: skip

    @on(DatabaseFailed)
    def database_failed(self, message: DatabaseFailed) -> None:
        self.committing = False
        if message.action == "read ahead" and self.advance_waiting:
            self.advance_waiting = False
            self.prefetching_for = None
            self.load_next()
        self.notify(f"{message.action} failed: {visible(message.error)}", severity="error",
                    timeout=10, markup=False)  # fmt: skip

    @on(DatabaseBusy)
    def database_busy(self, message: DatabaseBusy) -> None:
        self.say(f"saving ... the database is busy (another process is writing), waited "
                 f"{message.seconds:.0f} s; nothing is lost")  # fmt: skip

    @on(Flushed)
    def flushed(self) -> None:
        self.app.exit()

    # -- moving on -----------------------------------------------------------------------

    def advance(self) -> None:
        current = self.bundle
        if current is None:
            self.load_next()
            return
        pre = self.prefetched
        if pre is not None and pre.after == current.id:
            done = self.queue.done if self.queue else set()
            if pre.bundle is None or pre.bundle.id not in done:
                self.prefetched = None
                self.show_bundle(pre.bundle)
                return
        if self.prefetching_for == current.id:
            self.advance_waiting = True
            return
        self.load_next()

    def elapsed(self) -> float:
        return max(self.labeler.clock() - self.shown_at, 0.0)

    # -- actions -------------------------------------------------------------------------

    def on_key(self, event: Key) -> None:
        """Every key of this screen is handled here, in the order typed: running bindings from
        the app instead would let a rubric key typed after enter act before enter did."""
        if not self.is_act_key(event):
            return
        event.stop()
        event.prevent_default()
        if self.busy or self.held:
            self.hold(event)
            return
        self.apply_key(event.key, event.character)

    def action_commit(self) -> None:
        if self.bundle is None or self.draft is None or self.committing:
            return
        app = self.labeler
        draft, bundle = self.draft, self.bundle
        unchanged = (
            draft.committable() == bundle.latest_label and draft.evidence == self.initial_evidence
        )
        if self.mode == "REVEALED" and unchanged:
            self.advance()
            return
        missing = draft.missing()
        if missing:
            keys = "/".join(c.key for c in missing[0].categories)
            self.say(f"choose {missing[0].id} first ({keys})")
            return
        values, evidence = draft.committable(), list(draft.evidence)
        seconds = round(self.elapsed(), 3)
        self.session_seconds += seconds
        blind_mode = self.mode != "AUDIT"
        queue = self.queue
        self.committing = True

        def write() -> Message:
            result = commit_label(app.store, bundle.id, annotator=app.annotator,
                                  rubric_id=app.rubric.id, rubric_hash=app.rubric_hash,
                                  values=values, evidence=evidence, seconds=seconds,
                                  blind_mode=blind_mode)  # fmt: skip
            if queue is not None:
                queue.mark_labeled(bundle.id)
            return Committed(result, self._load(bundle.id, bundle.position))

        self.run_job("commit", lambda: self.guarded("commit", bundle.id, write), blocking=True)

    def _meta(self, kind: str, tid: int, value: Any = True, note: str | None = None) -> None:
        """Record a skip, flag or comment on item ``tid`` (the item it was made for)."""
        app = self.labeler
        queue = self.queue
        seconds = round(self.elapsed(), 3) if kind == "_skip" else None

        def write() -> Message:
            try:
                event_id = record_meta(app.store, tid, annotator=app.annotator,
                                       rubric_id=app.rubric.id, rubric_hash=app.rubric_hash,
                                       kind=kind, value=value, note=note, seconds=seconds)  # fmt: skip
            except DatabaseBusyError:
                if kind == "_comment":  # kept: `c` on this item offers the text again
                    self.unsaved_comment = (tid, note or "")
                raise
            if kind == "_skip" and queue is not None:
                queue.mark_skipped(tid)
            return ActRecorded(kind, tid, event_id)

        self.run_job(kind.lstrip("_"), lambda: self.guarded(kind, tid, write), blocking=True)

    def action_skip(self) -> None:
        """Record the skip, then move on (keys typed meanwhile wait for the next item)."""
        if self.bundle is None:
            return
        self._meta("_skip", self.bundle.id)

    def action_flag(self) -> None:
        if self.bundle is None:
            return
        self.flagged = not self.flagged
        self._meta("_flag", self.bundle.id, self.flagged)
        self.say("flagged" if self.flagged else "flag removed")

    def action_comment(self) -> None:
        if self.bundle is None:
            return
        tid = self.bundle.id
        unsaved = self.unsaved_comment[1] if self.unsaved_comment[0] == tid else ""

        def done(text: str | None) -> None:
            if text and text.strip():
                self.unsaved_comment = (None, "")
                if self.current_id == tid:
                    self.comment_count += 1
                self._meta("_comment", tid, True, note=text.strip())

        self.app.push_screen(CommentDialog(unsaved), done)

    def action_undo(self) -> None:
        app = self.labeler
        queue = self.queue

        def job() -> Message:
            result = undo_last_act(app.store, app.annotator)
            if queue is not None:
                queue.reload_done()
            bundle = None
            if result.retracted and result.transcript_id is not None:
                bundle = self._load(result.transcript_id, None)
                if bundle is not None and queue is not None:
                    bundle.position = queue.position_of(bundle.id)
            return Undone(result, bundle)

        self.run_job("undo", job, blocking=True)

    def action_find(self) -> None:
        def done(query: str | None) -> None:
            if not query:
                return
            self.last_find = query
            span = self.query_one(TranscriptView).find(query)
            if span is None:
                self.say(f"not found: {visible(query)[:40]}")
            elif span.section == "scratchpad":
                self.say("found: e attaches it as evidence, / enter finds the next")
            else:
                self.say(f"found in {span.section}")

        self.app.push_screen(FindDialog(self.last_find), done)

    def action_mark(self) -> None:
        self.say(self.query_one(TranscriptView).toggle_mark())

    def action_clear_mark(self) -> None:
        self.query_one(TranscriptView).clear_selection()
        self.say("")

    def action_evidence(self) -> None:
        view = self.query_one(TranscriptView)
        quote = view.selected_quote()
        if quote is None or self.draft is None:
            self.say("mark a passage first: m at its start, m at its end (or find it with /)")
            return
        start, end, _ = quote
        original = (self.bundle.transcript["scratchpad"] or "")[start:end] if self.bundle else ""
        draft, tid = self.draft, self.current_id

        def done(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            if self.draft is not draft or self.current_id != tid:
                self.say(f"evidence not attached: it was marked on item #{tid}, "
                         "which is no longer the item on screen")  # fmt: skip
                return
            field_id, category_id = choice
            self.draft.add_evidence(field_id, category_id, start, end, original)
            view.evidence = [Span("scratchpad", e["start"], e["end"]) for e in self.draft.evidence]
            view.clear_selection()
            self.say(f"evidence attached to {field_id}={category_id}")

        self.app.push_screen(EvidenceDialog(self.labeler.rubric, original), done)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.labeler.rubric))

    def action_quit_labeler(self) -> None:
        self.say("saving ...")
        self.run_job("flush", lambda: Flushed())

    def action_toggle_prompt(self) -> None:
        panel = self.query_one("#system-prompt", Collapsible)
        panel.collapsed = not panel.collapsed
        self.refresh_prompt_title()

    @on(Collapsible.Toggled)
    def refresh_prompt_title(self) -> None:
        """The fold's title: the prompt's length in characters, and what v does now."""
        panel = self.query_one("#system-prompt", Collapsible)
        prompt = self._shown_prompt or ""
        if not prompt:
            panel.title = "No system prompt"
            return
        verb = "shows" if panel.collapsed else "hides"
        panel.title = f"System prompt ({len(prompt):,} chars; v {verb} it)"

    def action_scroll_prompt(self, lines: int) -> None:
        if not self.query_one("#system-prompt", Collapsible).collapsed:
            self.query_one("#prompt-scroll", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_cursor(self, rows: int, words: int) -> None:
        self.query_one(TranscriptView).move_cursor(rows=rows, words=words)

    def action_page(self, direction: int) -> None:
        self.query_one(TranscriptView).page(direction)

    def action_edge(self, end: int) -> None:
        self.query_one(TranscriptView).home(end=bool(end))

    # -- palette entry points ------------------------------------------------------------

    def reopen(self) -> None:
        """Re-read the queue (after a rubric or mode switch)."""
        self.prefetched = None
        self.open_queue()

    def reload_current(self) -> None:
        if self.bundle is None:
            self.reopen()
            return
        tid, pos = self.bundle.id, self.bundle.position
        self.run_job("reload", lambda: ItemLoaded(self._load(tid, pos)), blocking=True)

    def jump(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            try:
                tid = int(text.strip().lstrip("#"))
            except ValueError:
                self.say(f"not a transcript id: {visible(text)[:20]}")
                return

            def job() -> Message:
                # A detour: no position, so the queue goes on from where it was afterwards.
                bundle = self._load(tid, None)
                if bundle is None:
                    return DatabaseFailed("jump", f"no transcript with id {tid}")
                return ItemLoaded(bundle)

            self.run_job("jump", job, blocking=True)

        self.app.push_screen(JumpDialog(), done)
