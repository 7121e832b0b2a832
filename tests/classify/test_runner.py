"""The runner through the real SDKs against the fake provider: votes, cache, faults, cost."""

from __future__ import annotations

import asyncio

import pytest

from db import classifier as cdb
from reviewer.classify.base import ConfigError
from reviewer.classify.prices import Price
from reviewer.classify.runner import Options, Runner
from rubrics import resolve_rubric
from rubrics.prompt import render_system, render_user
from tests.fake_provider import answer_values, is_malformed

SPECS = [("anthropic:claude-3-5-haiku", "anthropic"), ("openai:gpt-4o-mini", "openai")]


def options(fake, spec: str, **kw) -> Options:
    rubric = kw.pop("rubric", None) or resolve_rubric("goal_guarding")
    url = fake.anthropic_url if spec.startswith("anthropic") else fake.openai_url
    base = dict(
        rubric=rubric,
        model_spec=spec,
        votes=5,
        temperature=1.0,
        threshold=0.4,
        max_tokens=200,
        concurrency=8,
        base_url=url,
        timeout=5.0,
    )
    base.update(kw)
    return Options(**base)


def run(store, opts: Options) -> dict:
    return asyncio.run(Runner(store, opts).run())


@pytest.mark.parametrize(("spec", "provider"), SPECS)
def test_votes_aggregate_to_the_servers_answers(fake, keys, labeled_db, spec, provider):
    store, _ = labeled_db
    rubric = resolve_rubric("goal_guarding")
    summary = run(store, options(fake, spec, votes=6))
    assert summary["status"] == "finished"
    assert summary["items_labeled_now"] == 12 and summary["label_events"] == 24
    # One request per vote for Anthropic, one request with n for OpenAI.
    assert fake.stats()["answered"] == (72 if provider == "anthropic" else 12)
    assert fake.stats()["samples"] == 72
    system = render_system(rubric)
    labels = {(e.transcript_id, e.field): e for e in store.current_labels(source="classifier")}
    for tid in store.transcript_ids():
        user = render_user(rubric, store.transcript(tid))
        votes = [answer_values(system, user, k) for k in range(6)]
        yes = sum(v["alignment_faking"] == "yes" for v in votes) / 6
        af = labels[(tid, "alignment_faking")]
        assert af.score == pytest.approx(yes)
        assert af.value == ("yes" if yes >= 0.4 else "no")
        assert af.rater == summary["run"] and af.run_id == summary["run_id"]
        assert af.evidence and "Item" in af.evidence[0]["quote"]
        mot = labels[(tid, "motivation")]
        for cat, frac in mot.scores.items():
            assert frac == pytest.approx(sum(cat in v["motivation"] for v in votes) / 6)
        assert mot.value == sorted(c for c, f in mot.scores.items() if f >= 0.4)


@pytest.mark.parametrize(("spec", "provider"), SPECS)
def test_rerun_is_free_and_writes_no_duplicate_labels(fake, keys, labeled_db, spec, provider):
    store, _ = labeled_db
    first = run(store, options(fake, spec))
    paid = fake.stats()["answered"]
    events = len(store.events())
    second = run(store, options(fake, spec))
    assert fake.stats()["answered"] == paid
    assert second["calls_made"] == 0 and second["calls_cached"] == first["calls_planned"]
    assert second["run_id"] == first["run_id"] and second["label_events"] == 0
    assert len(store.events()) == events
    # Another threshold is another run (other labels) but reuses every call.
    third = run(store, options(fake, spec, threshold=0.9))
    assert fake.stats()["answered"] == paid
    assert third["run_id"] != first["run_id"] and third["items_labeled_now"] == 12


def test_prompt_caching_is_requested_and_counted(fake, keys, labeled_db):
    store, _ = labeled_db
    summary = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=2, concurrency=1))
    assert summary["cache_write_tokens"] > 0
    assert summary["cache_read_tokens"] > summary["cache_write_tokens"] * 10
    summary = run(store, options(fake, "openai:gpt-4o-mini", votes=2, concurrency=1))
    assert summary["cache_read_tokens"] > 0


@pytest.mark.parametrize(("spec", "provider"), SPECS)
@pytest.mark.slow
def test_injected_faults_lose_nothing(fake, keys, labeled_db, spec, provider):
    store, _ = labeled_db
    cfg = fake.config
    cfg.p_429, cfg.p_500, cfg.p_timeout, cfg.p_malformed = 0.15, 0.2, 0.1, 0.15
    cfg.stall, cfg.retry_after = 1.6, 0.05
    rubric = resolve_rubric("goal_guarding")
    summary = run(store, options(fake, spec, timeout=0.8, max_retries=4, votes=4))
    statuses = fake.stats()["statuses"]
    assert statuses.get("429") and statuses.get("500")
    if provider == "anthropic":  # 60 requests: some first attempts stalled past the timeout
        assert statuses.get("504")
    assert summary["status"] == "finished" and summary["calls_failed"] == 0
    system = render_system(rubric)
    expected_bad = 0
    for tid in store.transcript_ids():
        user = render_user(rubric, store.transcript(tid))
        expected_bad += sum(is_malformed(user, k, 0.15) for k in range(4))
    assert expected_bad > 0
    assert summary["samples_unparseable"] == expected_bad
    rows = store.execute(
        "SELECT raw_response, error FROM classifier_calls WHERE status = 'parse_error'"
    )
    assert rows and all(
        "rather not pick a label" in raw and "unparseable" in err for raw, err in rows
    )
    assert not store.execute("SELECT 1 FROM classifier_calls WHERE status = 'error'")
    assert summary["items_labeled_now"] + summary["items_without_answer"] == 12
    assert fake.stats()["samples"] >= 48
    del system


def test_max_cost_holds_and_a_higher_cap_finishes(fake, keys, labeled_db):
    store, _ = labeled_db
    prices = {"anthropic:fake-model": Price(input=100.0, output=100.0)}
    opts = options(fake, "anthropic:fake-model", prices=prices, max_cost=0.5, concurrency=4)
    summary = run(store, opts)
    assert summary["status"] == "stopped" and summary["stopped_reason"] == "max-cost"
    assert 0 < summary["calls_made"] < summary["calls_planned"]
    spent = store.execute("SELECT SUM(cost_usd) FROM classifier_calls")[0][0]
    assert 0 < spent <= 0.5
    opts = options(fake, "anthropic:fake-model", prices=prices, max_cost=100.0)
    summary = run(store, opts)
    assert summary["status"] == "finished" and summary["items_labeled_total"] == 12
    assert summary["run_cost_usd"] <= 100.0


def test_max_cost_without_a_price_is_refused(fake, keys, labeled_db):
    store, _ = labeled_db
    with pytest.raises(ConfigError, match="--prices"):
        Runner(store, options(fake, "openai:my-local-llama", max_cost=1.0))


@pytest.mark.parametrize(("spec", "provider"), SPECS)
def test_dry_run_calls_nothing_and_sees_the_cache(fake, keys, labeled_db, spec, provider):
    store, _ = labeled_db
    estimate = run(store, options(fake, spec, dry_run=True))
    assert fake.stats()["requests"] == {}
    assert not store.execute("SELECT 1 FROM classifier_runs")
    calls = 60 if provider == "anthropic" else 12
    assert estimate["calls_to_make"] == calls and estimate["calls_cached"] == 0
    assert estimate["samples_to_make"] == 60 and estimate["est_input_tokens"] > 0
    assert estimate["est_cost_usd_upper"] > 0
    run(store, options(fake, spec, limit=5))
    estimate = run(store, options(fake, spec, dry_run=True))
    assert estimate["calls_cached"] == calls * 5 // 12


def paid_calls(provider: str) -> int:
    return 36 if provider == "anthropic" else 12


@pytest.mark.parametrize(("spec", "provider"), SPECS)
def test_batch_submit_then_collect(fake, keys, labeled_db, spec, provider):
    store, _ = labeled_db
    fake.config.batch_polls = 2
    opts = options(fake, spec, batch=True, votes=3)
    first = run(store, opts)
    assert first["status"] == "waiting" and first["batches_submitted"] == 1
    assert fake.stats()["answered"] == 0
    info = cdb.run_info(store, first["run_id"])
    assert info["mode"] == "batch" and len(info["batch_ids"]) == 1
    second = run(store, opts)  # first poll: still in progress, nothing resubmitted
    assert second["status"] == "waiting" and second["batches_submitted"] == 0
    online = run(store, options(fake, spec, votes=3))  # does not pay again for the batch
    assert online["calls_made"] == 0 and online["items_waiting_in_batch"] == 12
    assert online["status"] == "waiting"
    third = run(store, opts)
    assert third["status"] == "finished" and third["batches_collected"] == 1
    assert third["items_labeled_now"] == 12
    assert third["cost_usd"] > 0 and third["calls_made"] == paid_calls(provider)
    assert third["calls_cached"] == 0
    paid = fake.stats()["answered"]
    assert paid == paid_calls(provider)
    fourth = run(store, opts)
    assert fourth["calls_cached"] == fourth["calls_planned"] and fourth["batches_submitted"] == 0
    assert fake.stats()["answered"] == paid
    # Once collected, the online mode reuses the batch's answers too.
    online = run(store, options(fake, spec, votes=3))
    assert online["calls_made"] == 0 and fake.stats()["answered"] == paid


def test_compliance_rubric_single_choice(fake, keys, labeled_db):
    store, _ = labeled_db
    summary = run(store, options(fake, "openai:gpt-4o-mini", rubric=resolve_rubric("compliance")))
    assert summary["status"] == "finished"
    labels = store.current_labels(rubric_id="compliance", source="classifier")
    assert len(labels) == 12
    for lab in labels:
        assert lab.value in ("refused", "partial", "full")
        assert lab.score == pytest.approx(max(lab.scores.values()))
        assert sum(lab.scores.values()) == pytest.approx(1.0)


def test_filters_select_transcripts(fake, keys, labeled_db):
    store, _ = labeled_db
    summary = run(
        store, options(fake, "openai:gpt-4o-mini", model_filter="claude-3-opus", condition="free")
    )
    expected = len(store.transcript_ids(model="claude-3-opus", condition="free"))
    assert summary["items"] == expected == summary["items_labeled_now"]


def test_rate_limits_past_the_sdk_retries_slow_the_run_but_lose_nothing(fake, keys, labeled_db):
    store, _ = labeled_db
    fake.config.p_429, fake.config.retry_after = 0.3, 0.02
    opts = options(fake, "anthropic:claude-3-5-haiku", votes=3, concurrency=2, max_retries=0)
    summary = run(store, opts)
    assert summary["rate_limit_requeues"] > 0  # the SDK gave up; the runner waited and retried
    assert summary["rate_limited_responses"] == fake.stats()["statuses"]["429"]
    assert summary["status"] == "finished" and summary["calls_failed"] == 0
    assert summary["items_labeled_now"] == 12


def test_batch_submission_respects_max_cost(fake, keys, labeled_db):
    store, _ = labeled_db
    prices = {"openai:fake-model": Price(input=100.0, output=100.0)}
    opts = options(
        fake, "openai:fake-model", prices=prices, max_cost=0.5, batch=True, votes=2, max_tokens=100
    )
    first = run(store, opts)
    assert first["stopped_reason"] == "max-cost" and first["batches_submitted"] == 1
    submitted = store.execute("SELECT COUNT(*) FROM classifier_calls WHERE status = 'submitted'")
    assert 0 < submitted[0][0] < 12
    second = run(store, opts)  # collects what was sent, and sends no more past the cap
    assert second["batches_collected"] == 1 and second["run_cost_usd"] <= 0.5


def test_identical_prompts_share_one_paid_call(fake, keys, tmp_path):
    from db import Store
    from tests.factory import classify_transcripts

    store = Store(tmp_path / "twins.db")
    records = classify_transcripts(4, seed="twin")
    twins = classify_transcripts(4, seed="twin")
    for r in twins:
        r.model = "another-model"  # another transcript (uid), the same text to classify
    store.insert_transcripts(records + twins)
    assert store.transcript_count() == 8
    summary = run(store, options(fake, "anthropic:claude-3-5-haiku", votes=3))
    assert fake.stats()["answered"] == 12
    assert summary["items_labeled_now"] == 8 and summary["calls_made"] == 12
    store.close()


def test_a_dead_server_stops_the_run_quickly_with_the_reason(keys, labeled_db):
    import socket

    store, _ = labeled_db
    with socket.socket() as sock:  # a port nothing listens on
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
    assert summary["status"] == "stopped" and summary["stopped_reason"] == "errors"
    assert "Connection" in summary["last_error"]
    assert summary["calls_failed"] >= 10 and summary["calls_made"] == 0
