"""The labeling screen: read a scratchpad, choose with the rubric's keys, commit, move on.

The screen renders a ``LabelSession`` (``reviewer.tui.session``: queue, item, draft,
read-ahead, held keys, which acts are allowed) and hands the session's database jobs to the
app's one serial writer; each job's outcome comes back as a message and goes to the session.
The same screen serves the annotator (BLIND, then REVEALED), the auditor (AUDIT: every label
shown, the classifier's quotes highlighted, ``r`` tags why it erred) and the adjudicator
(ADJUDICATE: everyone's labels side by side; ``enter`` asks for the decision's reason).
"""

from __future__ import annotations

import gc
from concurrent.futures import Future
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.screen import Screen
from textual.widgets import Collapsible, Footer, Static
from textual.widgets._collapsible import CollapsibleTitle

from reviewer.tui.data import ItemBundle, load_bundle
from reviewer.tui.draft import Draft
from reviewer.tui.messages import DatabaseBusy, DatabaseFailed, ItemLoaded, JobDone
from reviewer.tui.screens.dialogs import (
    CommentDialog,
    ConfirmDialog,
    ErrorReasonDialog,
    EvidenceDialog,
    FindDialog,
    JumpDialog,
    ReasonDialog,
)
from reviewer.tui.screens.help import HelpScreen
from reviewer.tui.session import (
    ADJUDICATE,
    AUDIT,
    BLIND,
    FlushDone,
    ItemRead,
    Job,
    JobFailed,
    LabelSession,
    QueueOpened,
    SessionConfig,
)
from reviewer.tui.text import visible
from reviewer.tui.widgets.panels import LabelBar, ProgressLine, SidePanel
from reviewer.tui.widgets.transcript_view import Section, Span, TranscriptView

if TYPE_CHECKING:
    from reviewer.tui.app import LabelerApp


class LabelScreen(Screen):
    AUTO_FOCUS = None
    BINDINGS = [
        Binding("enter", "commit", "commit"),
        Binding("u", "undo", "undo"),
        Binding("s", "skip", "skip"),
        Binding("f", "flag", "flag"),
        Binding("c", "comment", "comment"),
        Binding("p", "previous", "previous item", show=False),
        Binding("r", "reason", "why wrong", show=False),
        Binding("slash", "find", "find"),
        Binding("m", "mark", "mark", show=False),
        Binding("e", "evidence", "evidence", show=False),
        Binding("x", "remove_evidence", "unmark", show=False),
        Binding("right_square_bracket", "jump_highlight(1)", "next quote", show=False),
        Binding("left_square_bracket", "jump_highlight(-1)", "prev quote", show=False),
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

    def __init__(self, config: SessionConfig | None = None) -> None:
        super().__init__()
        self._config = config
        self.session: LabelSession | None = None
        self.last_find = ""
        self._shown_prompt: str | None = None
        self._rendered = -1
        self._highlight_at = -1
        self._act_keys = {k.strip() for b in self.BINDINGS for k in b.key.split(",")}

    @property
    def labeler(self) -> LabelerApp:
        return self.app  # type: ignore[return-value]

    @property
    def config(self) -> SessionConfig:
        return self._config if self._config is not None else self.labeler

    # The session's state, read where tests and the app have always read it.
    bundle = property(lambda self: self.session.bundle)
    draft = property(lambda self: self.session.draft)
    mode = property(lambda self: self.session.mode)
    note = property(lambda self: self.session.note)
    queue = property(lambda self: self.session.queue)
    prefetched = property(lambda self: self.session.prefetched)
    finished = property(lambda self: self.session.finished)
    committing = property(lambda self: self.session.committing)
    flagged = property(lambda self: self.session.flagged)

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
        self.session = LabelSession(self.config, loader=self._load)
        # A write that waits for another process's lock says so while it waits.
        self._previous_on_busy = self.config.store.on_busy
        self.config.store.on_busy = lambda seconds: self.post_message(DatabaseBusy(seconds))
        for title in self.query(CollapsibleTitle):
            title.can_focus = False
        self.set_focus(None)
        self.query_one("#item-header", Static).update(Text("opening the queue ...", "dim"))
        self.run_jobs(self.session.open_queue())

    def on_unmount(self) -> None:
        self.config.store.on_busy = self._previous_on_busy

    @property
    def closes_to_app(self) -> bool:
        """The main labeler quits the app; an audit opened over it (a statistics cell) closes."""
        return self._config is None

    # -- jobs ------------------------------------------------------------------------------

    def run_jobs(self, jobs: list[Job]) -> None:
        """Hand jobs to the serial writer now (their order is the order of the acts), and
        wait for each in a worker that brings its outcome back as a message."""
        for job in jobs:
            self.session.submitted(job)
            self._await_job(job, self.labeler.writer.submit(job.execute))

    @work(thread=True, group="db")
    def _await_job(self, job: Job, future: Future) -> None:
        outcome = future.result()
        if isinstance(outcome, JobFailed):
            self.post_message(DatabaseFailed(outcome.action, outcome.error))
            outcome = None
        self.post_message(JobDone(job, outcome))

    def apply(self, jobs: list[Job]) -> None:
        """After the session changed: draw it, start what it needs, replay held keys."""
        self.render_session()
        self.run_jobs(jobs)

    @on(JobDone)
    def job_done(self, message: JobDone) -> None:
        jobs = [] if message.outcome is None else self.session.receive(message.outcome)
        self.session.released(message.job)
        if isinstance(message.outcome, FlushDone):
            if self.closes_to_app:
                self.app.exit()
            else:
                self.dismiss()
            return
        self.apply(jobs)
        if isinstance(message.outcome, QueueOpened):
            # Everything built so far (widgets, styles, rubric) lives as long as the app: keep
            # it out of the collector's way, so a full collection does not stall a keypress.
            gc.freeze()
        self.release_held()

    @on(ItemLoaded)
    def item_loaded(self, message: ItemLoaded) -> None:
        self.apply(self.session.receive(ItemRead(message.bundle)))

    @on(DatabaseFailed)
    def database_failed(self, message: DatabaseFailed) -> None:
        self.apply(self.session.receive(JobFailed(message.action, message.error)))
        self.notify(
            f"{message.action} failed: {visible(message.error)}",
            severity="error",
            timeout=10,
            markup=False,
        )

    @on(DatabaseBusy)
    def database_busy(self, message: DatabaseBusy) -> None:
        self.say(
            f"saving ... the database is busy (another process is writing), waited "
            f"{message.seconds:.0f} s; nothing is lost"
        )

    def _load(self, transcript_id: int, position: int | None = None) -> ItemBundle | None:
        cfg = self.config
        return load_bundle(
            cfg.store,
            transcript_id,
            annotator=cfg.annotator,
            rubric_id=cfg.rubric.id,
            blind=cfg.blind,
            position=position,
        )

    # -- keys typed while the screen is busy ----------------------------------------------

    def is_act_key(self, event: Key) -> bool:
        if event.key in self._act_keys:
            return True
        char = event.character
        return bool(char) and any(f.category_for_key(char) for f in self.config.rubric.fields)

    def release_held(self) -> None:
        """Replay held keys in order while the screen is free and on top."""
        while self.app.screen is self:
            held = self.session.next_held()
            if held is None:
                return
            self.apply_key(*held)

    def apply_key(self, key: str, char: str | None) -> None:
        from textual.actions import parse

        if char and self.session.press(char):
            self.refresh_panels()
            return
        for binding in self._bindings.key_to_bindings.get(key, ()):
            _, name, params = parse(binding.action)
            getattr(self, f"action_{name}")(*params)
            return

    def on_screen_resume(self) -> None:
        if self.session is not None:
            self.release_held()

    def on_key(self, event: Key) -> None:
        """Every key of this screen is handled here, in the order typed: running bindings from
        the app instead would let a rubric key typed after enter act before enter did."""
        if not self.is_act_key(event):
            return
        event.stop()
        event.prevent_default()
        if self.session.busy or self.session.held:
            self.session.hold(event.key, event.character)
            self.refresh_panels()
            return
        self.apply_key(event.key, event.character)

    # -- drawing the session -----------------------------------------------------------------

    def render_session(self) -> None:
        session = self.session
        if session.shown != self._rendered:
            self._rendered = session.shown
            if session.finished:
                self.show_finished()
                return
            if session.bundle is not None:
                self.show_item(session.bundle, keep_view=session.keep_view)
        self.refresh_panels()

    def show_item(self, bundle: ItemBundle, *, keep_view: bool) -> None:
        t = bundle.transcript
        view = self.query_one(TranscriptView)
        self.set_class(self.mode == ADJUDICATE, "adjudicating")
        if not keep_view:
            view.show(
                bundle.id,
                [
                    Section(
                        "scratchpad",
                        "SCRATCHPAD (hidden reasoning)",
                        t["scratchpad"] or "",
                        t["scratchpad_blocks"],
                    ),
                    Section("user", "USER REQUEST", t["user_input"] or ""),
                    Section("output", "FINAL OUTPUT", t["output"] or ""),
                ],
            )
            self._highlight_at = -1
            prompt = t["system_prompt"] or ""
            if prompt != self._shown_prompt:
                self._shown_prompt = prompt
                self.refresh_prompt_title()
                self.query_one("#prompt-text", Static).update(Text(visible(prompt)))
        header = Text()
        header.append(f" #{bundle.id} ", "bold reverse")
        for label, key in (("model", "model"), ("condition", "condition"), ("dataset", "dataset")):
            if t.get(key):
                header.append(f"  {label} ", "dim")
                header.append(visible(str(t[key])))
        blocks = len(t["scratchpad_blocks"]) or (1 if t["scratchpad"] else 0)
        header.append(f"  {blocks} block(s), {len(t['scratchpad'] or ''):,} chars", "dim")
        self.query_one("#item-header", Static).update(header, layout=False)

    def show_finished(self) -> None:
        note = self.session.empty_note
        if note:
            self.query_one(TranscriptView).show(
                0,
                [
                    Section(
                        "done",
                        "Nothing assigned to you here",
                        f"{visible(note)}. "
                        "Open it as one of those annotators (--annotator), or ask for a queue "
                        "that includes you (reviewer queue create). q quits.",
                    ),
                ],
            )
            header = " nothing assigned to you "
        else:
            self.query_one(TranscriptView).show(
                0,
                [
                    Section(
                        "done",
                        "Nothing left in this queue",
                        "Every item here has your label or a skip. "
                        "Press u to undo the last act, p to go back, ctrl+p to switch rubric or "
                        "queue, q to quit.",
                    ),
                ],
            )
            header = " queue finished "
        self.query_one("#item-header", Static).update(Text(header, "bold reverse"))
        self.refresh_panels()

    def refresh_panels(self) -> None:
        session, cfg = self.session, self.config
        rubric = cfg.rubric
        draft = session.draft or Draft(rubric)
        bundle = session.bundle
        view = self.query_one(TranscriptView)
        spans = [Span("scratchpad", h.start, h.end, h.kind) for h in session.highlights()]
        if spans != view.evidence:  # repaint the transcript only when its highlights change
            view.evidence = spans
            view.refresh()
        others = bundle.others if bundle is not None and session.mode != BLIND else None
        side = self.query_one(SidePanel)
        if session.mode == ADJUDICATE and bundle is not None:
            side.show_adjudication(rubric, draft, bundle, rubric_hash=cfg.rubric_hash)
        else:
            side.show(
                rubric,
                draft,
                own_blind=bundle.own_label("blind") if bundle else {},
                own_revised=bundle.own_label("revealed") if bundle else {},
                others=others,
                rubric_hash=cfg.rubric_hash,
                comments=bundle.comments_with_authors(others is not None) if bundle else [],
                warnings=session.unchosen_evidence(),
            )
        self.query_one(LabelBar).show(
            session.mode,
            rubric,
            draft,
            flagged=session.flagged,
            comments=session.comment_count,
            note=session.note,
        )
        self.refresh_progress()

    def refresh_progress(self) -> None:
        session = self.session
        queue = session.queue
        self.query_one(ProgressLine).show(
            done=queue.done_count if queue else 0,
            skipped=queue.skipped_count if queue else 0,
            total=queue.total if queue else 0,
            session_items=session.session_items,
            session_seconds=session.session_seconds,
            queue=self.labeler.queue_label(queue),
            item_id=session.bundle.id if session.bundle else None,
        )

    def say(self, note: str) -> None:
        self.session.note = note
        self.refresh_panels()

    # -- actions -------------------------------------------------------------------------

    def action_commit(self) -> None:
        session = self.session
        if session.mode == ADJUDICATE and session.bundle is not None and not session.committing:
            values = session.adjudication_values()
            if values is None:
                self.refresh_panels()
                return
            tid = session.bundle.id

            def done(reason: str | None) -> None:
                if reason is None:
                    self.say("decision not saved (cancelled)")
                elif session.current_id != tid:
                    self.say(f"decision not saved: it was made for #{tid}, no longer on screen")
                else:
                    self.apply(session.commit(reason=reason))

            self.app.push_screen(ReasonDialog(values), done)
            return
        self.apply(session.commit())

    def action_skip(self) -> None:
        self.apply(self.session.skip())

    def action_flag(self) -> None:
        self.apply(self.session.flag())

    def action_comment(self) -> None:
        if self.session.bundle is None:
            return
        tid = self.session.bundle.id

        def done(text: str | None) -> None:
            if text is not None:
                self.apply(self.session.comment(tid, text))

        self.app.push_screen(CommentDialog(self.session.comment_draft(tid)), done)

    def action_undo(self) -> None:
        self.apply(self.session.undo())

    def action_previous(self) -> None:
        self.apply(self.session.previous())

    def action_reason(self) -> None:
        """Audit: tag why the classifier was wrong on this item."""
        session = self.session
        bundle = session.bundle
        if bundle is None or session.mode != AUDIT:
            self.say("r tags a classifier error: open an errors queue or a statistics cell")
            return
        fields = [
            f.id
            for f in self.config.rubric.fields
            if any(e.field == f.id and e.source == "classifier" for e in bundle.others or [])
        ]
        if not fields:
            self.say("no classifier label on this item: nothing to tag")
            return
        tid = bundle.id

        def done(answer: tuple[str, list[str], str] | None) -> None:
            if answer is None:
                self.say("error reason not saved (cancelled)")
                return
            field_id, codes, text = answer
            self.apply(session.error_reason(tid, field_id, codes, text))

        preferred = session.queue.params.get("field") if session.queue is not None else None
        preferred = preferred.split(":")[0] if preferred else None
        self.app.push_screen(ErrorReasonDialog(self.config.rubric, fields, preferred), done)

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
        session = self.session
        if quote is None or session.draft is None:
            self.say("mark a passage first: m at its start, m at its end (or find it with /)")
            return
        start, end, _ = quote
        bundle = session.bundle
        original = (bundle.transcript["scratchpad"] or "")[start:end] if bundle else ""
        draft, tid = session.draft, session.current_id

        def done(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            if session.draft is not draft or session.current_id != tid:
                self.say(
                    f"evidence not attached: it was marked on item #{tid}, "
                    "which is no longer the item on screen"
                )
                return
            field_id, category_id = choice
            draft.add_evidence(field_id, category_id, start, end, original)
            view.clear_selection()
            f = self.config.rubric.field(field_id)
            warn = "" if draft.is_chosen(f, category_id) else " (not your choice: warning)"
            self.say(f"evidence attached to {field_id}={category_id}{warn}; x removes it")

        self.app.push_screen(EvidenceDialog(self.config.rubric, original), done)

    def action_remove_evidence(self) -> None:
        view = self.query_one(TranscriptView)
        at = view.cursor_offset()
        scratchpad = view.section_index("scratchpad")
        if at is None or at[0] != scratchpad:
            self.say("move the cursor onto one of your evidence spans, then x removes it")
            return
        self.session.remove_evidence(at[1])
        self.refresh_panels()

    def action_jump_highlight(self, direction: int) -> None:
        """Move the cursor to the next (or previous) highlighted quote or evidence span."""
        found = self.session.highlights()
        if not found:
            self.say("nothing highlighted on this item")
            return
        self._highlight_at = (self._highlight_at + direction) % len(found)
        h = found[self._highlight_at]
        view = self.query_one(TranscriptView)
        index = view.section_index("scratchpad")
        if index is not None:
            view.move_to_offset(index, h.start)
            view.refresh()
        where = f"{h.field}={h.category}" if h.field else "quote"
        self.say(f"{self._highlight_at + 1}/{len(found)}: {h.kind} {visible(h.who)[:30]} {where}")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.config.rubric))

    def action_quit_labeler(self) -> None:
        if self.session.uncommitted:

            def done(drop: bool | None) -> None:
                if drop:
                    self.apply(self.session.flush())
                else:
                    self.say("not quitting: enter commits your choice")

            self.app.push_screen(
                ConfirmDialog("Your choice on this item is not committed. Quit and drop it? (y/n)"),
                done,
            )
            return
        self.apply(self.session.flush())

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
        """Re-read the queue (after a rubric, queue or mode switch)."""
        self.apply(self.session.reopen())

    def reload_current(self) -> None:
        self.apply(self.session.reload_current())

    def open_item(self, transcript_id: int) -> None:
        self.apply(self.session.read_item("jump", transcript_id))

    def jump(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            try:
                tid = int(text.strip().lstrip("#"))
            except ValueError:
                self.say(f"not a transcript id: {visible(text)[:20]}")
                return
            self.open_item(tid)

        self.app.push_screen(JumpDialog(), done)
