from __future__ import annotations

from reviewer.tui.widgets.transcript_view import TranscriptView
from tests.tui.conftest import settle


async def test_opens_on_a_scratchpad_with_numbered_blocks(make_app, filled):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        item = filled.transcript(screen.bundle.id)
        lines = screen.query_one(TranscriptView).visible_lines()
        assert lines[0].strip() == "SCRATCHPAD (hidden reasoning)"
        assert "block 1 of 2" in lines[1]
        assert item["scratchpad"][:30] in lines[2]
        assert lines[2].startswith("  1 ")
        text = "\n".join(lines)
        assert "USER REQUEST" in text and item["user_input"] in text
        assert "FINAL OUTPUT" in text and item["output"] in text
        assert screen.mode == "BLIND"
