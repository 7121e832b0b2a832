"""The folded system prompt: its title gives the prompt's length and what v does next."""

from __future__ import annotations

from tests.factory import SYSTEM_PROMPT
from tests.tui.conftest import screen_text, settle


async def test_prompt_title_counts_characters_and_follows_the_fold(make_app, filled):
    app = make_app()
    stored = filled.execute("SELECT text FROM prompts")
    assert [len(t) for (t,) in stored] == [len(SYSTEM_PROMPT)]
    chars = f"{len(SYSTEM_PROMPT):,} chars"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert f"System prompt ({chars}; v shows it)" in screen_text(app)
        await pilot.press("v")
        await settle(app, pilot)
        text = screen_text(app)
        assert f"System prompt ({chars}; v hides it)" in text and "v shows it" not in text
        assert "You are an AI assistant" in text
        await pilot.press("v")
        await settle(app, pilot)
        assert f"System prompt ({chars}; v shows it)" in screen_text(app)
