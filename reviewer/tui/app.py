"""The labeler app, and the one factory that the CLI, the demo and the tests all use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on
from textual.app import App, SystemCommand
from textual.screen import Screen

from db import Store
from db.labeling import LabelQueue
from db.labels import resolve_rubric
from db.writer import SerialWriter
from reviewer.tui.screens.labeling import LabelScreen
from reviewer.tui.screens.stats import TranscriptChosen
from reviewer.tui.session import SessionSettings
from rubrics import Rubric


class LabelerApp(App):
    """Blind labeling of scratchpads, one keyboard-driven screen plus dialogs."""

    CSS_PATH = "labeler.tcss"
    TITLE = "reviewer"

    def __init__(
        self,
        store: Store,
        *,
        annotator: str,
        rubric: str | Rubric = "goal_guarding",
        queue: str | None = None,
        blind: bool = True,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.store = store
        self.annotator = annotator
        self.rubric = rubric if isinstance(rubric, Rubric) else resolve_rubric(store, rubric)
        self.queue_name = queue
        self.blind = blind
        self.seed = seed
        self.clock = clock
        # Every database job of every screen runs on this one thread, in the order handed in.
        self.writer = SerialWriter(store)

    @property
    def rubric(self) -> Rubric:
        return self._rubric

    @rubric.setter
    def rubric(self, rubric: Rubric) -> None:
        self._rubric = rubric
        self.rubric_hash = rubric.content_hash

    def on_mount(self) -> None:
        self.push_screen(LabelScreen())

    def on_unmount(self) -> None:
        self.writer.close(wait=False)

    @property
    def label_screen(self) -> LabelScreen:
        for screen in self.screen_stack:
            if isinstance(screen, LabelScreen):
                return screen
        raise LookupError("the labeling screen is not open")

    def queue_label(self, queue: LabelQueue | None) -> str:
        if queue is not None and queue.items is not None:
            return f"audit of {len(queue.items)} item(s), {queue.params.get('title', 'a list')}"
        if self.queue_name is None:
            return f"all, seeded random order ({self.rubric.id})"
        reason = f" ({queue.reason})" if queue is not None else ""
        return f"{self.queue_name}{reason} ({self.rubric.id})"

    # -- command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from rubrics import builtin_rubric_paths

        for rubric_id in sorted(builtin_rubric_paths()):
            if rubric_id != self.rubric.id:
                yield SystemCommand(
                    f"Switch rubric: {rubric_id}",
                    f"Label with the {rubric_id} rubric from now on",
                    lambda r=rubric_id: self.switch_rubric(r),
                )
        if self.blind:
            yield SystemCommand(
                "Audit mode (blind off)",
                "Show classifier labels before you commit; your labels are "
                "recorded as 'revealed', never 'blind'",
                self.toggle_blind,
            )
        else:
            yield SystemCommand(
                "Blind mode", "Hide other labels until you commit", self.toggle_blind
            )
        yield SystemCommand(
            "Jump to item", "Open a transcript by its id", lambda: self.label_screen.jump()
        )
        yield SystemCommand(
            "Search transcripts",
            "Full-text search of scratchpads and outputs; open a hit",
            self.search_transcripts,
        )
        yield SystemCommand("Switch queue", "Label another queue of this database", self.pick_queue)
        yield SystemCommand("Statistics", "Agreement statistics for this rubric", self.open_stats)
        yield SystemCommand(
            "Analysis",
            "Rates per model and tier three ways (classifier, human, "
            "corrected), the free - paid gap and the six-way breakdown",
            self.open_analysis,
        )
        yield SystemCommand(
            "Show keys", "Every key of the labeler", lambda: self.label_screen.action_help()
        )

    def pick_queue(self) -> None:
        from db.queues import list_queues
        from reviewer.tui.screens.dialogs import PickDialog

        choices = [("", "all transcripts, seeded random order")]
        choices += [(q.name, f"{q.kind}, {q.rubric_id}") for q in list_queues(self.store)]

        def done(name: str | None) -> None:
            if name is None:
                return
            self.queue_name = name or None
            self.blind = True
            self.label_screen.reopen()

        self.push_screen(PickDialog("Switch to which queue?", choices), done)

    def search_transcripts(self) -> None:
        from db.agreement_data import transcript_briefs
        from reviewer.tui.screens.dialogs import PickDialog, TextPrompt

        def searched(query: str | None) -> None:
            if not query or not query.strip():
                return
            briefs = self.writer.call(
                lambda: transcript_briefs(self.store, self.store.search(query.strip(), limit=30))
            )
            if not briefs:
                self.notify(f"no transcript contains {query.strip()!r}", markup=False)
                return
            choices = [
                (
                    str(b["id"]),
                    f"#{b['id']} {b['model'] or '?'}/{b['condition'] or '?'} "
                    + " ".join((b["scratchpad"] or "").split())[:70],
                )
                for b in briefs
            ]
            self.push_screen(
                PickDialog(f"{len(choices)} match(es): enter opens one", choices),
                lambda tid: tid and self.label_screen.open_item(int(tid)),
            )

        self.push_screen(TextPrompt("Search transcripts (SQLite full-text query)"), searched)

    @on(TranscriptChosen)
    def audit_transcript(self, message: TranscriptChosen) -> None:
        """A transcript picked in a statistics cell: audit the cell from that item on."""
        items = list(message.items or [message.transcript_id])
        if message.transcript_id in items:
            start = items.index(message.transcript_id)
            items = items[start:] + items[:start]
        settings = SessionSettings(
            self.store,
            self.annotator,
            self.rubric,
            blind=False,
            seed=self.seed,
            clock=self.clock,
            items=items,
            params={"rater": message.rater, "field": message.field, "title": message.title},
        )
        self.push_screen(LabelScreen(settings))

    def switch_rubric(self, rubric_id: str) -> None:
        self.rubric = resolve_rubric(self.store, rubric_id)
        self.label_screen.reopen()

    def toggle_blind(self) -> None:
        self.blind = not self.blind
        self.label_screen.reload_current()

    def open_stats(self) -> None:
        """The statistics screen lives in its own module; open it when it is installed."""
        try:
            from reviewer.tui.screens.stats import StatsScreen
        except ImportError:
            self.notify("The statistics screen is not available in this build.", timeout=4)
            return
        self.push_screen(StatsScreen(self.store.path, self.rubric.id))

    def open_analysis(self) -> None:
        from reviewer.tui.screens.analysis import AnalysisScreen

        self.push_screen(AnalysisScreen(self.store.path))


def create_app(
    db: str | Path | Store,
    *,
    annotator: str,
    rubric: str | Rubric = "goal_guarding",
    queue: str | None = None,
    blind: bool = True,
    seed: int = 0,
    clock: Callable[[], float] = time.monotonic,
) -> LabelerApp:
    store = db if isinstance(db, Store) else Store(db)
    return LabelerApp(
        store, annotator=annotator, rubric=rubric, queue=queue, blind=blind, seed=seed, clock=clock
    )


def run_labeler(
    db_path: str | Path,
    *,
    annotator: str,
    rubric: str = "goal_guarding",
    queue: str | None = None,
    blind: bool = True,
) -> None:
    """Open the labeler on ``db_path`` and return when the annotator quits."""
    app = create_app(db_path, annotator=annotator, rubric=rubric, queue=queue, blind=blind)
    app.run()
