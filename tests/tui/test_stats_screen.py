"""The statistics screen, driven with Pilot in a small App of its own."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import DataTable, OptionList

from reviewer.tui.screens.stats import StatsScreen, TranscriptChosen, TranscriptListScreen
from tests.factory import add_rated

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


class StatsApp(App):
    def __init__(self, store_path, rubric_id="goal_guarding"):
        super().__init__()
        self.store_path = store_path
        self.rubric_id = rubric_id
        self.chosen: list[int] = []

    def on_mount(self) -> None:
        self.push_screen(StatsScreen(self.store_path, self.rubric_id, resamples=50))

    def on_transcript_chosen(self, message: TranscriptChosen) -> None:
        self.chosen.append(message.transcript_id)


async def _loaded(pilot) -> StatsScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, StatsScreen)
    return screen


async def test_agreement_table_and_confusion_cell_opens_its_transcripts(store):
    cells = add_rated(store, scratchpad="[bold]step {i}[/bold]\x1b", humans_right=0.9)
    app = StatsApp(store.path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _loaded(pilot)
        agreement = screen.query_one("#stats-agreement", DataTable)
        first_column = [str(agreement.get_row_at(i)[0]) for i in range(agreement.row_count)]
        assert "Cohen's kappa" in first_column and "Gwet's AC1" in first_column
        comparisons = screen.query_one("#stats-comparisons", OptionList)
        labels = [
            str(comparisons.get_option_at_index(i).prompt) for i in range(comparisons.option_count)
        ]
        assert labels == ["gpt vs ann", "gpt vs bob", "ann vs gold", "bob vs gold", "gpt vs gold"]

        comparisons.highlighted = 4  # gpt against gold
        await pilot.pause()
        confusion = screen.query_one("#stats-confusion", DataTable)
        # rubric order: yes, no. Row "yes" (gold), column "no" (gpt): the misses.
        assert [str(c) for c in confusion.get_row_at(0)] == [
            "yes",
            str(len(cells.get(("yes", "yes"), []))),
            str(len(cells.get(("yes", "no"), []))),
        ]
        confusion.focus()
        confusion.cursor_coordinate = (0, 2)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        listing = app.screen
        assert isinstance(listing, TranscriptListScreen)
        options = listing.query_one(OptionList)
        shown = [int(options.get_option_at_index(i).id) for i in range(options.option_count)]
        assert shown == cells[("yes", "no")]
        # transcript text is shown literally: markup and escapes are not interpreted
        assert "[bold]step" in str(options.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == [shown[0]]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, StatsScreen)


async def test_empty_database_says_so(store):
    app = StatsApp(store.path, rubric_id="compliance")
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _loaded(pilot)
        status = str(screen.query_one("#stats-status").render())
        assert "No labels for rubric compliance yet." in status
