"""The labeler while another process holds the database's write lock: it waits, says so, and
never loses what the annotator did."""

from __future__ import annotations

import pytest

from reviewer.tui.messages import DatabaseBusy, DatabaseFailed
from tests.locking import hold_lock
from tests.tui.conftest import settle

pytestmark = pytest.mark.slow  # a real process holds the lock


def blind_labels(store) -> list[tuple[int, str, object]]:
    return sorted(
        (e.transcript_id, e.field, e.value)
        for e in store.current_labels(rater="alice", phase="blind")
    )


async def test_a_commit_waits_for_another_writer_and_lands(make_app, filled):
    seen: list[object] = []
    app = make_app()
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(app, pilot)
        first = app.label_screen.bundle.id
        await pilot.press("n")
        holder = hold_lock(filled.path, 2.0)
        try:
            await pilot.press("enter")
            await settle(app, pilot)
        finally:
            holder.wait(timeout=30)
        assert holder.returncode == 0
        assert blind_labels(filled) == [
            (first, "alignment_faking", "no"),
            (first, "motivation", []),
        ]
        assert not [m for m in seen if isinstance(m, DatabaseFailed)]
        waits = [m.seconds for m in seen if isinstance(m, DatabaseBusy)]
        assert waits and max(waits) >= 1.0, "the annotator is told that the save is waiting"
        assert app.label_screen.mode == "REVEALED"  # saved, then shown the others' labels


async def test_a_commit_that_cannot_wait_long_enough_is_kept_for_another_try(make_app, filled):
    filled.write_wait_seconds = 0.5
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        first = app.label_screen.bundle.id
        await pilot.press("y")
        holder = hold_lock(filled.path, 3.0)
        try:
            await pilot.press("enter")
            await settle(app, pilot)
            assert blind_labels(filled) == []
            screen = app.label_screen
            assert screen.bundle.id == first and not screen.committing
            assert screen.draft.committable()["alignment_faking"] == "yes"  # still in memory
        finally:
            holder.wait(timeout=30)
        await pilot.press("enter")  # the same choice, tried again once the lock is free
        await settle(app, pilot)
        assert blind_labels(filled) == [
            (first, "alignment_faking", "yes"),
            (first, "motivation", []),
        ]


async def test_a_comment_that_could_not_be_saved_is_offered_again(make_app, filled):
    from reviewer.tui.screens.dialogs import CommentDialog

    filled.write_wait_seconds = 0.5
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        first = app.label_screen.bundle.id
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press(*"quote is ambiguous")
        holder = hold_lock(filled.path, 3.0)
        try:
            await pilot.press("enter")
            await settle(app, pilot)
        finally:
            holder.wait(timeout=30)
        assert not [e for e in filled.events(rater="alice") if e.field == "_comment"]
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CommentDialog) and app.screen.value == "quote is ambiguous"
        await pilot.press("enter")
        await settle(app, pilot)
        saved = [
            (e.transcript_id, e.note) for e in filled.events(rater="alice") if e.field == "_comment"
        ]
        assert saved == [(first, "quote is ambiguous")]
