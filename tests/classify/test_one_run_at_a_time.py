"""Two identical `reviewer classify` commands at once: one runs, the other refuses before
sending anything, so no call is paid twice and no item is labeled twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import Store, labels
from db.classifier import RunInProgress, claim_run
from tests.classify.conftest import cli_env
from tests.factory import classify_transcripts

pytestmark = pytest.mark.slow  # real classifier processes, killed

ROOT = Path(__file__).resolve().parents[2]
ITEMS, VOTES = 24, 3


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "twice.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(ITEMS, seed="twice"))
    store.close()
    return path


def classify(db: Path, url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reviewer.cli import main; main()",
            "--db",
            str(db),
            *[
                "classify",
                "--rubric",
                "goal_guarding",
                "--model",
                "anthropic:claude-3-5-haiku",
                "--votes",
            ],
            str(VOTES),
            *["--concurrency", "4", "--base-url"],
            url,
            "--json",
            *extra,
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_identical_runs_started_together_pay_once_and_label_once(fake, db_path):
    fake.config.latency = 0.2  # a run takes seconds: the two overlap
    first, second = classify(db_path, fake.url), classify(db_path, fake.url)
    results = [p.communicate(timeout=180) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 7], results
    refused = results[[first.returncode, second.returncode].index(7)]
    assert "already classifying the same transcripts" in refused[1]
    assert "Nothing was sent" in refused[1]

    needed = ITEMS * VOTES  # one request per vote on the Anthropic API
    assert fake.stats()["answered"] == needed
    store = Store(db_path)
    assert store.execute("SELECT COUNT(*) FROM classifier_runs")[0][0] == 1
    assert all(n == 0 for n in labels.duplicate_counts(store).values())
    (events,) = store.execute("SELECT COUNT(*) FROM label_events WHERE source = 'classifier'")[0]
    fields = store.execute(
        "SELECT COUNT(DISTINCT field) FROM label_events WHERE source = 'classifier'"
    )[0][0]
    assert events == ITEMS * fields
    store.close()

    # Run again once the first has finished: it resumes, pays nothing, labels nothing twice.
    again = classify(db_path, fake.url)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert fake.stats()["answered"] == needed
    store = Store(db_path)
    assert (
        store.execute("SELECT COUNT(*) FROM label_events WHERE source = 'classifier'")[0][0]
        == events
    )
    store.close()


def test_a_second_run_refuses_while_the_first_is_alive_and_resumes_after_a_kill(fake, db_path):
    fake.config.latency = 0.3
    first = classify(db_path, fake.url)
    deadline = time.monotonic() + 60
    while fake.stats()["answered"] < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    # A different run name does not make it different work.
    second = classify(db_path, fake.url, "--name", "my-copy")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 7, (out, err)
    assert first.poll() is None, "the first run should still be running"
    first.kill()
    first.wait(timeout=30)
    time.sleep(0.3)  # requests in flight from the dead process are still answered
    paid_before = fake.stats()["answered"]
    assert paid_before < ITEMS * VOTES

    resumed = classify(db_path, fake.url)  # its process is gone: the run is taken over
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    store = Store(db_path)
    assert all(n == 0 for n in labels.duplicate_counts(store).values())
    calls = store.execute(
        "SELECT COUNT(DISTINCT request_key) FROM classifier_calls WHERE status = 'ok'"
    )[0][0]
    assert calls == ITEMS * VOTES
    store.close()


def test_claim_run_names_the_live_owner(tmp_path):
    store = Store(tmp_path / "claim.db")
    store.register_rubric("goal_guarding", "1", "x", "h")
    params = {"votes": 1, "key": "k1", "work": "w1"}
    run = dict(
        name="r",
        provider="p",
        model="m",
        rubric_hash="h",
        params=params,
        prompt_hash="ph",
        base_url=None,
        mode="online",
        max_cost_usd=None,
    )
    run_id = claim_run(store, work_key="w1", **run)
    with pytest.raises(RunInProgress) as caught:  # this very process is alive and owns it
        claim_run(
            store, work_key="w1", **{**run, "name": "other", "params": {**params, "key": "k2"}}
        )
    assert caught.value.run["id"] == run_id and caught.value.run["owner"] == "alive"
    with store.transaction() as db:
        db.conn.execute("UPDATE classifier_runs SET status = 'interrupted'")
    assert claim_run(store, work_key="w1", **run) == run_id  # resumed, not a new row
    store.close()
