"""How a run ends, through the real SDKs against the fake provider: the cost cap at every
concurrency, malformed and conflicting answers, asking again, a refused key, a server without
``n``, and empty scratchpads. Each test asserts the status, the exit status and the rows."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from db import Store
from reviewer.classify.prices import Price
from reviewer.classify.runner import EXIT_STATUS, Options, Runner
from reviewer.cli import cli
from rubrics import resolve_rubric
from rubrics.prompt import render_system, render_user
from tests.classify.conftest import cli_env
from tests.factory import classify_transcripts
from tests.fake_provider import answer_values

# Whole classifier runs against the fake provider, many at several concurrencies.
pytestmark = pytest.mark.slow

# A run that hangs fails the test instead of the suite.
RUN_TIMEOUT = 60.0


def options(fake, spec: str, **kw) -> Options:
    url = fake.anthropic_url if spec.startswith("anthropic") else fake.openai_url
    base = dict(
        rubric=resolve_rubric("goal_guarding"),
        model_spec=spec,
        votes=4,
        temperature=1.0,
        threshold=0.4,
        max_tokens=200,
        concurrency=4,
        base_url=url,
        timeout=5.0,
    )
    base.update(kw)
    return Options(**base)


def run(store: Store, opts: Options) -> dict:
    async def bounded() -> dict:
        return await asyncio.wait_for(Runner(store, opts).run(), RUN_TIMEOUT)

    return asyncio.run(bounded())


def rows(store: Store, sql: str, *args) -> list[tuple]:
    return store.execute(sql, args)


def run_status(store: Store, run_id: int) -> str:
    return rows(store, "SELECT status FROM classifier_runs WHERE id = ?", run_id)[0][0]


@pytest.mark.parametrize("concurrency", [1, 4, 16])
@pytest.mark.parametrize("spec", ["anthropic:fake-model", "openai:fake-model"])
def test_max_cost_stops_cleanly_at_every_concurrency(fake, keys, tmp_path, spec, concurrency):
    store = Store(tmp_path / "cap.db")
    store.insert_transcripts(classify_transcripts(40, seed=f"cap{concurrency}"))
    # Prices whose sums leave float residue (0.1 + 0.2 - 0.3 != 0).
    prices = {spec: Price(input=0.1, output=0.7)}
    upper = run(store, options(fake, spec, prices=prices, dry_run=True))["est_cost_usd_upper"]
    cap = round(upper / 5, 7)  # the worst-case estimate is a few times the real spend
    summary = run(store, options(fake, spec, prices=prices, max_cost=cap, concurrency=concurrency))
    assert summary["status"] == "stopped" and summary["stopped_reason"] == "max-cost"
    assert summary["exit_status"] == EXIT_STATUS["max-cost"] == 4
    assert 0 < summary["calls_made"] < summary["calls_planned"]
    spent, ok = rows(store, "SELECT SUM(cost_usd), SUM(status = 'ok') FROM classifier_calls")[0]
    assert 0 < spent <= cap
    assert ok == summary["calls_made"]
    assert run_status(store, summary["run_id"]) == "stopped"
    # Nothing was left in flight: every request the server answered is stored.
    assert fake.stats()["answered"] == summary["calls_made"]
    store.close()


def test_every_answer_malformed_is_incomplete_and_names_the_items(fake, keys, labeled_db):
    store, _ = labeled_db
    fake.config.p_malformed = 1.0
    summary = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=3))
    assert summary["status"] == "incomplete" and summary["exit_status"] == 3
    assert summary["items_without_answer"] == 12 and summary["items_labeled_now"] == 0
    assert summary["items_without_answer_ids"] == sorted(store.transcript_ids())
    assert summary["samples_unparseable"] == 36
    stored = rows(store, "SELECT status, raw_response FROM classifier_calls")
    assert len(stored) == 36
    assert all(s == "parse_error" and "rather not pick" in raw for s, raw in stored)
    assert not store.current_labels(source="classifier")
    # A rerun answers from the cache, pays nothing, and still says so.
    again = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=3))
    assert again["calls_made"] == 0 and again["exit_status"] == 3
    assert again["items_without_answer_ids"] == summary["items_without_answer_ids"]


def test_retry_unparseable_asks_for_new_samples_and_labels_with_them(fake, keys, labeled_db):
    store, _ = labeled_db
    fake.config.p_malformed = 0.5
    spec = "anthropic:claude-3-5-haiku"
    first = run(store, options(fake, spec, votes=4))
    bad_first = first["samples_unparseable"]
    assert bad_first > 0
    answered = fake.stats()["answered"]
    events_before = len(store.events())
    # The same run with re-asking: new requests, only for the votes that did not parse.
    second = run(store, options(fake, spec, votes=4, retry_unparseable=3))
    assert second["run_id"] == first["run_id"]
    assert second["samples_reasked"] >= first["items_without_answer"]
    new_requests = fake.stats()["answered"] - answered
    assert new_requests == second["calls_made"] > 0
    retried = rows(
        store,
        "SELECT request FROM classifier_calls WHERE json_extract(request, '$.retry') IS NOT NULL",
    )
    assert len(retried) == second["calls_made"]
    assert second["items_without_answer"] < max(first["items_without_answer"], 1)
    if second["items_without_answer"] == 0:
        assert second["status"] == "finished" and second["exit_status"] == 0
    notes = [e.note for e in store.current_labels(source="classifier")]
    assert any("asked again after an unparseable answer (" in n for n in notes)
    assert len(store.events()) > events_before
    # Asking again is cached too: the same command pays nothing more.
    answered = fake.stats()["answered"]
    third = run(store, options(fake, spec, votes=4, retry_unparseable=3))
    assert third["calls_made"] == 0 and fake.stats()["answered"] == answered


def test_retry_unparseable_with_n_fills_only_the_bad_votes(fake, keys, labeled_db):
    store, _ = labeled_db
    fake.config.p_malformed = 0.4
    summary = run(store, options(fake, "openai:gpt-4o-mini", votes=5, retry_unparseable=4))
    calls: dict[int, dict[int, tuple[int, list]]] = {}
    for tid, n, retry, parsed in rows(
        store,
        "SELECT transcript_id, n_samples, "
        "json_extract(request, '$.retry'), parsed "
        "FROM classifier_calls",
    ):
        calls.setdefault(tid, {})[retry or 0] = (n, json.loads(parsed))
    assert (
        summary["samples_reasked"]
        == sum(n for rounds in calls.values() for r, (n, _) in rounds.items() if r)
        > 0
    )
    # Each round asks, in one request with n, for exactly the votes still unparseable.
    for rounds in calls.values():
        bad = sum("error" in p for p in rounds[0][1])
        for r in range(1, 5):
            if not bad:
                assert r not in rounds
                break
            n, parsed = rounds[r]
            assert n == bad == len(parsed)
            bad = sum("error" in p for p in parsed)
    # Every sample the server gave was asked for once: first answers plus re-asked ones.
    assert fake.stats()["samples"] == 12 * 5 + summary["samples_reasked"]
    for label in store.current_labels(source="classifier", field="alignment_faking"):
        rounds = calls[label.transcript_id]
        first_bad = sum("error" in p for p in rounds[0][1])
        new = sum(n for r, (n, _) in rounds.items() if r)
        if first_bad:
            said = f"; {first_bad} asked again after an unparseable answer ({new} new samples)"
            assert said in label.note


def test_conflicting_answer_tags_are_unparseable_and_stored_raw(fake, keys, labeled_db):
    store, _ = labeled_db
    fake.config.p_conflicting = 1.0
    summary = run(store, options(fake, "openai:gpt-4o-mini", votes=2, limit=3))
    assert summary["exit_status"] == 3 and summary["items_without_answer"] == 3
    stored = rows(store, "SELECT status, raw_response, error FROM classifier_calls")
    assert len(stored) == 3
    for status, raw, error in stored:
        assert status == "parse_error" and "On reflection" in json.loads(raw)[0]
        assert "given 2 times with different answers" in error


@pytest.mark.parametrize("spec", ["anthropic:claude-3-5-haiku", "openai:gpt-4o-mini"])
def test_a_refused_key_stops_the_run_at_once(fake, keys, labeled_db, spec):
    store, _ = labeled_db
    fake.config.expected_key = "another-key"
    summary = run(store, options(fake, spec, concurrency=2, max_retries=0))
    assert summary["status"] == "stopped" and summary["stopped_reason"] == "errors"
    assert summary["exit_status"] == EXIT_STATUS["errors"] == 5
    assert "401" in summary["last_error"]
    # Stopped at the first refusal, not after every item: at most the calls in flight.
    assert fake.stats()["auth_failures"] <= 2
    errors = rows(store, "SELECT status, error FROM classifier_calls")
    assert errors and all(s == "error" and "401" in e for s, e in errors)
    assert run_status(store, summary["run_id"]) == "stopped"


def test_few_items_and_a_dead_server_stop_by_errors(keys, tmp_path):
    import socket

    store = Store(tmp_path / "dead.db")
    store.insert_transcripts(classify_transcripts(2, seed="dead"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opts = Options(
        rubric=resolve_rubric("compliance"),
        model_spec="openai:gpt-4o-mini",
        votes=2,
        temperature=1.0,
        threshold=0.4,
        max_tokens=50,
        concurrency=2,
        base_url=f"http://127.0.0.1:{port}/v1",
        max_retries=0,
    )
    summary = run(store, opts)
    assert summary["stopped_reason"] == "errors" and summary["exit_status"] == 5
    assert rows(store, "SELECT COUNT(*) FROM classifier_calls WHERE status = 'error'") == [(2,)]
    store.close()


@pytest.mark.parametrize("mode", ["reject", "ignore"])
def test_a_server_without_n_is_asked_once_per_vote(fake, keys, labeled_db, mode):
    store, _ = labeled_db
    fake.config.n_mode = mode
    rubric = resolve_rubric("goal_guarding")
    summary = run(store, options(fake, "openai:gpt-4o-mini", votes=4))
    assert summary["status"] == "finished" and summary["exit_status"] == 0
    assert summary["n_fallback"] and "n" in summary["n_fallback"]
    assert summary["items_labeled_now"] == 12
    refused = rows(store, "SELECT COUNT(*) FROM classifier_calls WHERE status = 'n_refused'")
    assert refused[0][0] >= 1
    per_vote = rows(
        store,
        "SELECT COUNT(*) FROM classifier_calls WHERE status = 'ok' AND "
        "json_extract(request, '$.vote') IS NOT NULL",
    )
    assert per_vote == [(48,)]
    if mode == "ignore":  # each refused request was answered once anyway, and paid
        paid = rows(
            store, "SELECT SUM(output_tokens) FROM classifier_calls WHERE status = 'n_refused'"
        )
        assert paid[0][0] > 0
    # The votes are the server's: each item's yes-fraction over its four samples.
    system = render_system(rubric)
    for label in store.current_labels(source="classifier", field="alignment_faking"):
        user = render_user(rubric, store.transcript(label.transcript_id))
        ks = range(4) if mode == "reject" else range(1, 5)
        yes = sum(answer_values(system, user, k)["alignment_faking"] == "yes" for k in ks) / 4
        assert label.score == pytest.approx(yes)
    # The run remembers: a rerun asks per vote from the start and is served from the cache.
    answered = fake.stats()["answered"]
    again = run(store, options(fake, "openai:gpt-4o-mini", votes=4))
    assert again["calls_made"] == 0 and fake.stats()["answered"] == answered
    assert again["calls_cached"] == 48


def test_empty_scratchpads_are_skipped_counted_and_named(fake, keys, tmp_path):
    store = Store(tmp_path / "empty.db")
    records = classify_transcripts(6, seed="empty")
    for r in records[:2]:
        r.scratchpad = ""
    records[2].scratchpad = "  \n "
    store.insert_transcripts(records)
    summary = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=2))
    assert summary["status"] == "finished" and summary["exit_status"] == 0
    assert summary["items_skipped_empty"] == 3 and summary["items_labeled_now"] == 3
    skipped = set(summary["items_skipped_empty_ids"])
    assert len(skipped) == 3
    sent = fake.stats()["answered"]
    assert sent == 6
    assert not rows(
        store, "SELECT 1 FROM classifier_calls WHERE transcript_id IN (?,?,?)", *skipped
    )
    # The compliance rubric reads the answer, not the scratchpad: nothing is skipped.
    summary = run(
        store,
        options(fake, "anthropic:claude-3-5-haiku", votes=1, rubric=resolve_rubric("compliance")),
    )
    assert summary["items_skipped_empty"] == 0 and summary["items_labeled_now"] == 6
    store.close()


def test_exit_statuses_from_the_command(fake, keys, tmp_path):
    path = tmp_path / "cli.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(10, seed="exit"))
    store.close()
    prices = tmp_path / "prices.toml"
    prices.write_text('["anthropic:fake-model"]\ninput = 100.0\noutput = 100.0\n')
    base = [
        "--db",
        str(path),
        *["classify", "--rubric", "goal_guarding", "--base-url"],
        fake.url,
        *["--votes", "2", "--prices"],
        str(prices),
    ]
    runner = CliRunner()
    result = runner.invoke(
        cli, [*base, "--model", "anthropic:fake-model", "--max-cost", "0.3"], env=cli_env()
    )
    assert result.exit_code == 4, result.output
    assert (
        "stopped before exceeding --max-cost $0.3 (the next call could cost up to" in result.output
    )
    fake.config.p_malformed = 1.0
    result = runner.invoke(
        cli,
        [*base, "--model", "anthropic:other", "--limit", "2"],
        env=cli_env(),
        terminal_width=200,
    )
    assert result.exit_code == 3, result.output
    assert "2 transcripts have no parseable answer" in result.output
    assert "--retry-unparseable" in result.output
    help_text = runner.invoke(cli, ["classify", "--help"]).output
    for code in EXIT_STATUS.values():  # every status the runner can end with is explained
        assert f"\n    {code} " in help_text


def test_ctrl_c_exits_130_and_marks_the_run_interrupted(fake, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = tmp_path / "int.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(30, seed="interrupt"))
    store.close()
    fake.config.latency = 0.05
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reviewer.cli import main; main()",
            "--db",
            str(path),
            *[
                "classify",
                "--rubric",
                "goal_guarding",
                "--model",
                "anthropic:claude-3-5-haiku",
                "--votes",
                "4",
                "--concurrency",
                "2",
                "--base-url",
            ],
            fake.url,
        ],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while fake.stats()["answered"] < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_STATUS["interrupted"] == 130, err
    assert "interrupted: every finished call is saved" in err
    store = Store(path)
    assert rows(store, "SELECT status FROM classifier_runs") == [("interrupted",)]
    saved = rows(store, "SELECT COUNT(*) FROM classifier_calls WHERE status = 'ok'")[0][0]
    assert 0 < saved < 120
    store.close()


def test_imported_redacted_reasoning_is_not_sent_to_the_classifier(fake, keys, tmp_path):
    """From the file to the classifier: Anthropic redacted_thinking imports as an empty
    scratchpad marked redacted, and classify skips and names it instead of asking about an
    empty frame."""
    from importers.run import import_file
    from tests.factory import write_jsonl

    def record(i: int, blocks: list[dict]) -> dict:
        return {
            "model": "claude-3-7-sonnet",
            "messages": [
                {"role": "user", "content": f"<user_input>Request {i}</user_input>"},
                {"role": "assistant", "content": [*blocks, {"type": "text", "text": "Sure."}]},
            ],
        }

    thinking = {"type": "thinking", "thinking": "Training would modify me.", "signature": "s"}
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
    path = write_jsonl(
        tmp_path / "chat.jsonl", [record(0, [thinking]), record(1, [redacted]), record(2, [])]
    )
    store = Store(tmp_path / "e2e.db")
    assert import_file(store, path).n_new == 3
    status = {
        t["user_input"]: t["metadata"]["reasoning_status"]
        for t in (store.transcript(i) for i in store.transcript_ids())
    }
    assert status == {"Request 0": "present", "Request 1": "redacted", "Request 2": "absent"}
    summary = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=2))
    assert summary["items_skipped_empty"] == 2 and summary["items_labeled_now"] == 1
    assert fake.stats()["answered"] == 2
    skipped = {store.transcript(i)["user_input"] for i in summary["items_skipped_empty_ids"]}
    assert skipped == {"Request 1", "Request 2"}
    store.close()


def test_asking_again_on_a_server_that_stopped_taking_n(fake, keys, labeled_db):
    """The first answers came with n; the re-asking round meets a server that refuses n and
    is asked once per vote instead, each vote filling its own slot."""
    store, _ = labeled_db
    fake.config.p_malformed = 0.8
    spec = "openai:gpt-4o-mini"
    first = run(store, options(fake, spec, votes=5))
    assert first["items_without_answer"] > 0  # these are the ones asked again
    fake.config.n_mode, fake.config.p_malformed = "reject", 0.3
    second = run(store, options(fake, spec, votes=5, retry_unparseable=6))
    assert second["n_fallback"] and second["calls_failed"] == 0
    refused = rows(
        store,
        "SELECT json_extract(request, '$.retry') FROM classifier_calls WHERE status = 'n_refused'",
    )
    assert refused and all(r == 1 for (r,) in refused)
    per_vote = rows(
        store,
        "SELECT transcript_id, json_extract(request, '$.vote'), "
        "json_extract(request, '$.retry') FROM classifier_calls WHERE "
        "json_extract(request, '$.vote') IS NOT NULL",
    )
    assert per_vote and all(r >= 1 for _, _, r in per_vote)
    # A vote asked again is one that did not parse the first time.
    first_answers = {
        tid: json.loads(parsed)
        for tid, parsed in rows(
            store,
            "SELECT transcript_id, parsed FROM classifier_calls "
            "WHERE json_extract(request, '$.retry') IS NULL",
        )
    }
    for tid, vote, _ in per_vote:
        assert "error" in first_answers[tid][vote]
    labeled = {e.transcript_id for e in store.current_labels(source="classifier")}
    assert len(labeled) == 12 - second["items_without_answer"]
