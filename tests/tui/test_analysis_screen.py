"""The analysis screen: the rates of `reviewer analyze` as tables and bars, opened from the
palette; a snapshot at a fixed size on the constructed study of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, OptionList, Static

from reviewer.tui.screens.analysis import AnalysisScreen
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

SIZE = (120, 40)


class AnalysisApp(App):
    def __init__(self, db: Path):
        super().__init__()
        self.db = db

    def on_mount(self) -> None:
        self.push_screen(AnalysisScreen(self.db, assume_random=True))


async def _loaded(pilot) -> AnalysisScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, AnalysisScreen)
    return screen


def _rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_rates_three_ways_with_gaps_and_bars(study_db):
    from reviewer.analysis import motivation_analysis

    async with AnalysisApp(study_db).run_test(size=SIZE) as pilot:
        screen = await _loaded(pilot)
        outcomes = screen.query_one("#analysis-outcomes", OptionList)
        names = [str(outcomes.get_option_at_index(i).prompt) for i in range(outcomes.option_count)]
        assert "goal_guarding: alignment_faking=yes" in names
        assert names[-1] == "six-way: compliance × alignment faking"
        outcomes.highlighted = names.index("goal_guarding: alignment_faking=yes")
        await pilot.pause()
        rows = {(r[0], r[1]): r for r in _rows(screen.query_one("#analysis-rates", DataTable))}
        assert rows[("helix", "free")][2] == "0.40 [0.22, 0.61] n=20"  # 8 of 20, Wilson
        assert rows[("<b>quill</b>", "paid")][2] == "0.20 [0.08, 0.42] n=20"
        # the same numbers as the analysis itself, for every way
        from db import Store

        store = Store(study_db)
        try:
            report = motivation_analysis(store, ["goal_guarding"], assume_random=True)
        finally:
            store.close()
        (outcome,) = [
            o for o in report["rubrics"][0]["outcomes"] if o["outcome"] == "alignment_faking=yes"
        ]
        for g in outcome["groups"]:
            for column, method in ((2, "classifier"), (3, "human"), (4, "corrected")):
                e = g[method]
                assert rows[(g["model"], g["condition"])][column].startswith(
                    f"{e['value']:.2f} [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]"
                )
        gaps = _rows(screen.query_one("#analysis-gaps", DataTable))
        assert [r[0] for r in gaps] == ["<b>quill</b>", "helix"]
        bars = str(screen.query_one("#analysis-bars", Static).render())
        assert "█" in bars and "├" in bars and "free - paid" in bars
        outcomes.highlighted = len(names) - 1
        await pilot.pause()
        six = _rows(screen.query_one("#analysis-rates", DataTable))
        assert len(six) == 6 * 4  # six cells x 2 models x 2 tiers
        assert "▓" in str(screen.query_one("#analysis-bars", Static).render())


async def test_the_palette_opens_the_analysis(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "Analysis" in [c.title for c in app.get_system_commands(app.screen)]
        app.open_analysis()
        await settle(app, pilot)
        screen = await _loaded(pilot)
        status = str(screen.query_one("#analysis-status", Static).render())
        assert "reference gold" in status
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, AnalysisScreen)


def test_analysis_screen_snapshot(snap_compare, study_db):
    async def loaded(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("down")  # the second outcome: goal_guarding's alignment faking
        await pilot.pause()

    assert snap_compare(AnalysisApp(study_db), terminal_size=SIZE, run_before=loaded)
