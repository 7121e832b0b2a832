"""Untrusted transcript text is shown literally, whatever it contains, and big text stays usable."""

from __future__ import annotations

import pytest

from db import Store
from reviewer.tui.text import visible, wrap_offsets
from reviewer.tui.widgets.transcript_view import TranscriptView
from tests.factory import transcript
from tests.tui.conftest import screen_text, settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow

MARKUP = "[bold]not bold[/bold] [link=https://evil.example]click me[/link] [red on white]x"
ANSI = "\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ bell\x07 cr\rX"
BIDI = "abc\u202edcba"


def one(store: Store, scratchpad: str, *, user_input="question", output="answer", **kw) -> int:
    blocks = [(0, len(scratchpad))]
    record = transcript(
        user_input, scratchpad=scratchpad, output=output, scratchpad_blocks=blocks, **kw
    )
    store.insert_transcripts([record])
    return store.transcript_ids()[-1]


def all_strips(view: TranscriptView):
    return [view.render_line(y) for y in range(view.scrollable_content_region.height)]


@pytest.fixture
def hostile(tmp_path):
    store = Store(tmp_path / "hostile.db")
    one(
        store,
        f"{MARKUP}\n{ANSI}\n{BIDI}",
        model="evil\x1b[2Jmodel",
        system_prompt="[bold]SYSTEM[/bold] \x1b[5mblink",
        output="[i]out[/i] \x1b[1mout",
    )
    return store


async def test_markup_and_escapes_render_as_text(make_app, hostile):
    app = make_app(hostile)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        view = app.label_screen.query_one(TranscriptView)
        lines = view.visible_lines()
        text = "\n".join(lines)
        for token in ("[bold]not bold[/bold]", "[link=https://evil.example]click", "white]x"):
            assert token in text, "\n".join(lines)
        assert "\u241b[31mRED\u241b[0m" in text
        assert "\u241b]8;;https://evil.example\u241b\\link" in text
        assert "bell\u2407 cr\u240dX" in text
        assert "abc\ufffddcba" in text
        assert "[i]out[/i] \u241b[1mout" in text
        for strip in all_strips(view):
            for segment in strip:
                assert "\x1b" not in segment.text and "\x07" not in segment.text
                assert "\u202e" not in segment.text
                assert segment.style is None or segment.style.link is None
        shown = screen_text(app)
        assert "evil\u241b[2Jmodel" in shown, "metadata is escaped too"
        assert "[bold]SYSTEM[/bold] \u241b[5mblink" in shown, "the system prompt is literal"
        assert "\x1b" not in shown


async def test_very_long_lines_wrap_and_scroll(make_app, tmp_path):
    store = Store(tmp_path / "long.db")
    words = " ".join(f"w{i}" for i in range(20_000))
    nospace = "x" * 50_000 + "TAIL"
    one(store, f"{words}\n{nospace}")
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.label_screen.query_one(TranscriptView)
        width = view.scrollable_content_region.width
        assert all(len(line) <= width for line in view.visible_lines())
        assert len(view.rows) > 1000
        await pilot.press("end")
        await settle(app, pilot)
        await pilot.press("slash", *"TAIL", "enter")
        await settle(app, pilot)
        assert any(line.rstrip().endswith("TAIL") for line in view.visible_lines())


async def test_one_megabyte_scratchpad(make_app, tmp_path):
    store = Store(tmp_path / "big.db")
    paragraph = "I think about training and my values, line {i}. " * 4
    big = "\n".join(paragraph.format(i=i) for i in range(5_200))
    big = big[: 1_000_000 - 20] + " NEEDLE-AT-THE-END"
    assert len(big) >= 999_000
    tid = one(store, big)
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        view = screen.query_one(TranscriptView)
        assert view.rendered_item_id == tid
        assert "I think about training" in view.visible_lines()[2]
        await pilot.press("slash", *"needle-at-the-end", "enter")
        await settle(app, pilot)
        assert any("NEEDLE-AT-THE-END" in line for line in view.visible_lines())
        await pilot.press("e", "y", "y", "enter")
        await settle(app, pilot)
        (event,) = [e for e in store.current_labels(rater="alice") if e.field == "alignment_faking"]
        (span,) = event.evidence
        assert big[span["start"] : span["end"]] == span["text"] == "NEEDLE-AT-THE-END"


def test_visible_keeps_offsets():
    text = "a\x1bb\tc\u202ed\x7fe\x9bf\ng"
    shown = visible(text)
    assert len(shown) == len(text)
    assert shown == "a\u241bb\u2409c\ufffdd\u2421e\ufffdf\ng"


@pytest.mark.parametrize("width", [2, 5, 17, 80])
def test_wrap_covers_every_word_within_width(width):
    text = "alpha beta  gamma\n\ndelta " + "z" * 40 + " \u4e2d\u6587\u5b57 end"
    spans = list(wrap_offsets(text, 0, len(text), width))
    from rich.cells import cell_len

    assert all(cell_len(text[a:b]) <= width for a, b in spans)
    covered = "".join(text[a:b] for a, b in spans)
    assert covered.replace(" ", "") == text.replace("\n", "").replace(" ", "")


async def test_database_errors_are_shown_literally(make_app, hostile):
    from reviewer.tui.messages import DatabaseFailed

    app = make_app(hostile)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.label_screen.post_message(DatabaseFailed("jump", "no item [bold]x[/] \x1b[2J"))
        await settle(app, pilot)
        (note,) = list(app._notifications)
        assert note.message == "jump failed: no item [bold]x[/] \u241b[2J" and not note.markup
