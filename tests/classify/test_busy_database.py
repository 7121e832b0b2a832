"""A classifier run while another process holds the database's write lock: every paid answer
is written once the lock is free, never dropped, and the run says that it waited."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.classify.test_runner import options
from tests.locking import hold_lock

pytestmark = pytest.mark.slow  # a real process holds the lock


def test_answers_wait_for_the_lock_and_are_all_written(fake, keys, labeled_db, capsys):
    from reviewer.classify.runner import Runner

    store, path = labeled_db
    fake.config.latency = 0.05
    store.write_wait_seconds = 0.3  # shorter than the hold: the writer must retry, not fail
    holders = []

    def hold_once_asked() -> None:
        # Answers wait at the gate until the other process holds the lock, however slowly it
        # starts (a loaded machine): the run cannot finish before the lock is taken.
        deadline = time.monotonic() + 20
        while not fake.stats()["requests"].get("POST /v1/messages") and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            holders.append(hold_lock(path, 1.5))
        finally:
            fake.gate.set()

    fake.gate.clear()
    thread = threading.Thread(target=hold_once_asked)
    thread.start()
    try:
        summary = asyncio.run(Runner(store, options(fake, "anthropic:claude-3-5-haiku")).run())
    finally:
        fake.gate.set()
    thread.join()
    assert holders and holders[0].wait(timeout=30) == 0
    assert summary["status"] == "finished"
    assert summary["items_labeled_now"] == 12 and summary["label_events"] == 24
    assert summary["calls_made"] == 12 * 5  # nothing paid twice
    assert "classify: database busy" in capsys.readouterr().err
