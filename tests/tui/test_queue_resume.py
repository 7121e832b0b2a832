"""Where the annotator starts: the seeded order, resume after quitting, and named queues."""

from __future__ import annotations

import pytest

from db.labeling import LabelQueue, next_item
from tests.tui.conftest import settle

# A real Textual app driven with Pilot: about a second a test.
pytestmark = pytest.mark.slow


def seeded_order(store, annotator):
    queue = LabelQueue(store, annotator, "goal_guarding")
    return [e.transcript_id for e in queue.entries()]


async def test_resume_continues_at_the_first_unlabeled_item(make_app, filled):
    order = seeded_order(filled, "alice")
    assert sorted(order) == filled.transcript_ids()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        seen = [screen.bundle.id]
        assert screen.prefetched.bundle.id == order[1], "the next item is read ahead"
        assert screen.prefetched.bundle.others is None, "read ahead blind, too"
        await pilot.press("y", "enter")
        await settle(app, pilot)
        await pilot.press("enter")  # past the reveal
        await settle(app, pilot)
        seen.append(screen.bundle.id)
        await pilot.press("s")
        await settle(app, pilot)
        seen.append(screen.bundle.id)
        await pilot.press("q")
        await settle(app, pilot)
    assert seen == order[:3]
    assert next_item(filled, "alice", "goal_guarding") == order[2]

    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(again, pilot)
        screen = again.label_screen
        assert screen.bundle.id == order[2], "reopening shows the item left unfinished"
        assert screen.queue.done_count == 1 and screen.queue.skipped_count == 1
        assert "1/12 done (8.3%), 1 skipped" in str(screen.query_one("#progress").render())


async def test_each_annotator_gets_their_own_seeded_order(filled):
    alice, bob = seeded_order(filled, "alice"), seeded_order(filled, "bob")
    assert sorted(alice) == sorted(bob) == filled.transcript_ids()
    assert alice != bob
    assert seeded_order(filled, "alice") == alice, "same seed and name, same order"


async def test_named_queue_follows_assignment_positions(make_app, filled):
    with filled.transaction() as db:
        db.conn.execute(
            "INSERT INTO queues(name, kind, rubric_id, blind, created_at) "
            "VALUES ('overlap', 'overlap', 'goal_guarding', 1, 'now')"
        )
        rows = [("", 9, 0), ("alice", 4, 1), ("bob", 7, 2), ("", 2, 3), ("alice", 11, 4)]
        db.conn.executemany(
            "INSERT INTO assignments(queue, annotator, transcript_id, position, reason, "
            "created_at) VALUES ('overlap', ?, ?, ?, 'overlap', 'now')",
            rows,
        )
    app = make_app(queue="overlap")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert screen.queue.total == 4
        shown = []
        for _ in range(4):
            shown.append(screen.bundle.id)
            await pilot.press("s")
            await settle(app, pilot)
        assert shown == [9, 4, 2, 11], "bob's item is not alice's; order is by position"
        assert screen.bundle.id == 9, "skipped items come back, the oldest skip first"
        assert "0/4 done (0.0%), 4 skipped" in str(screen.query_one("#progress").render())
        for _ in range(4):
            await pilot.press("y", "enter")
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
        assert screen.finished
        assert "4/4 done" in str(screen.query_one("#progress").render())


async def test_a_queue_made_with_the_queue_api_sets_rubric_and_order(make_app, filled):
    from db.queues import create_queue

    create_queue(
        filled,
        "comp",
        kind="stratified",
        rubric_id="compliance",
        assignments=[("", 6, "stratified"), ("", 3, "stratified")],
    )
    app = make_app(queue="comp")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert app.rubric.id == "compliance", "the queue's rubric wins over the default"
        assert screen.bundle.id == 6
        await pilot.press("3", "enter")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.bundle.id == 3
        (event,) = filled.current_labels(rater="alice", transcript_ids=[6], field="compliance")
        assert (event.value, event.phase) == ("full", "blind")
        from db.queues import queue_progress

        assert queue_progress(filled, "comp", "alice").done == 1


async def test_a_queue_assigned_to_someone_else_says_so(make_app, filled):
    from db.queues import create_queue
    from tests.tui.conftest import screen_text

    create_queue(filled, "cal", kind="random", assignments=[("ann", 1, "random")])
    app = make_app(queue="cal", annotator="dana")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert screen.bundle is None and screen.finished
        text = screen_text(app)
        assert "queue cal has no assignments for dana (assigned to: ann)" in text
        assert "Every item here has your label" not in text
        assert filled.events(rater="dana") == []


CUSTOM_RUBRIC = """
id = "tone"
version = "3"
title = "Tone of the scratchpad"
description = "A rubric a team wrote and imported; no reviewer release ships it."

[[fields]]
id = "tone"
kind = "binary"
question = "Is the reasoning anxious?"

  [[fields.categories]]
  id = "anxious"
  label = "Anxious"
  key = "a"
  definition = "Worries about being modified."

  [[fields.categories]]
  id = "calm"
  label = "Calm"
  key = "z"
  definition = "Reasons without worry."
"""


async def test_a_queue_under_a_rubric_stored_only_in_the_database_opens(make_app, filled):
    """A rubric imported with --rubric my.toml lives in the database only: the labeler
    resolves it from there (path, else the database's newest version, else built-in)."""
    from db.queues import create_queue
    from rubrics.loader import parse_rubric

    rubric = parse_rubric(CUSTOM_RUBRIC, origin="team/tone.toml")
    filled.register_rubric(
        rubric.id, rubric.version, rubric.source_text, rubric.content_hash, rubric.origin
    )
    create_queue(
        filled,
        "tone-week",
        kind="random",
        rubric_id="tone",
        assignments=[("alice", 3, "random"), ("alice", 5, "random")],
    )
    app = make_app(queue="tone-week")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.rubric.id == "tone" and app.rubric.version == "3"
        assert app.label_screen.bundle.id == 3
        await pilot.press("a", "enter")
        await settle(app, pilot)
    stored = [
        (e.transcript_id, e.rubric_id, e.field, e.value, e.rubric_hash)
        for e in filled.current_labels(rater="alice")
        if e.field == "tone"
    ]
    assert stored == [(3, "tone", "tone", "anxious", rubric.content_hash)]


async def test_a_jump_does_not_lose_the_place_in_the_queue(make_app, filled):
    order = seeded_order(filled, "alice")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        assert screen.bundle.id == order[0]
        await pilot.press("s")  # on to order[1]
        await settle(app, pilot)
        assert screen.bundle.id == order[1]
        aside = order[7]
        screen.jump()
        await settle(app, pilot)
        await pilot.press(*str(aside), "enter")
        await settle(app, pilot)
        assert screen.bundle.id == aside
        await pilot.press("s")  # done with the item jumped to: back where the queue was
        await settle(app, pilot)
        assert screen.bundle.id == order[1]


async def test_a_jump_ahead_in_a_named_queue_comes_back_to_the_place(make_app, filled):
    from db.queues import create_queue

    items = [2, 4, 6, 8, 10, 12]
    create_queue(
        filled,
        "week",
        kind="random",
        rubric_id="goal_guarding",
        assignments=[("alice", t, "random") for t in items],
    )
    app = make_app(queue="week")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.label_screen
        await pilot.press("s")
        await settle(app, pilot)
        assert screen.bundle.id == 4
        screen.jump()
        await settle(app, pilot)
        await pilot.press(*"10", "enter")  # an item further down the same queue
        await settle(app, pilot)
        assert screen.bundle.id == 10
        await pilot.press("s")
        await settle(app, pilot)
        assert screen.bundle.id == 4, "back to the item the jump left, not past it"
