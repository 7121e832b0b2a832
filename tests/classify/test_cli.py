"""`reviewer classify` as a user runs it: in a subprocess, killed and resumed, keys kept out."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store
from reviewer.cli import cli
from tests.classify.conftest import ANTHROPIC_KEY, OPENAI_KEY, cli_env
from tests.factory import classify_transcripts

pytestmark = pytest.mark.slow  # real processes, killed mid-run

ROOT = Path(__file__).resolve().parents[2]


def reviewer(db: Path, *args: str, env: dict[str, str] | None = None, **kw):
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reviewer.cli import main; main()",
            "--db",
            str(db),
            "classify",
            *args,
        ],
        cwd=ROOT,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(30, seed="cli"))
    store.close()
    return path


def test_kill_mid_run_then_resume_pays_only_for_the_rest(fake, db_path):
    fake.config.latency = 0.03
    args = [
        *[
            "--rubric",
            "goal_guarding",
            "--model",
            "anthropic:claude-3-5-haiku",
            "--votes",
            "4",
            "--concurrency",
            "4",
            "--base-url",
        ],
        fake.url,
        "--json",
    ]
    proc = reviewer(db_path, *args)
    deadline = time.monotonic() + 60
    while fake.stats()["answered"] < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    while fake.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)  # requests the dead client sent are still answered (and paid)
    answered_before = fake.stats()["answered"]
    assert 40 <= answered_before < 120, "the run should have been killed mid-way"

    store = Store(db_path)
    saved = store.execute("SELECT COUNT(*) FROM classifier_calls WHERE status = 'ok'")[0][0]
    # Every finished call was committed, except at most those still being handled at the
    # kill: 4 in flight and 4 more whose workers were waiting on the database commit.
    assert answered_before - 8 <= saved <= answered_before
    store.close()

    # Resume in-process (the SDK is already imported here, which keeps the test quick).
    result = CliRunner().invoke(cli, ["--db", str(db_path), "classify", *args], env=cli_env())
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["status"] == "finished"
    assert summary["calls_made"] == 120 - saved and summary["calls_cached"] == saved
    assert fake.stats()["answered"] - answered_before == 120 - saved
    store = Store(db_path)
    assert len({e.transcript_id for e in store.current_labels(source="classifier")}) == 30
    runs = store.execute("SELECT COUNT(*), MAX(status) FROM classifier_runs")
    assert runs == [(1, "finished")]
    store.close()


def test_keys_never_reach_the_database_or_the_output(fake, db_path, keys, caplog, capfd):
    """Keys stay out of the database, stdout/stderr and every log record (even at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    fake.config.p_500, fake.config.p_malformed = 0.3, 0.2
    runner = CliRunner()
    outputs = []
    result = runner.invoke(
        cli,
        [
            "--db",
            str(db_path),
            *[
                "classify",
                "--rubric",
                "goal_guarding",
                "--model",
                "anthropic:claude-3-5-haiku",
                "--votes",
                "3",
                "--base-url",
            ],
            fake.url,
            "--limit",
            "8",
        ],
    )
    outputs.append(result.output)
    assert result.exit_code == 0, result.output
    assert "unparseable" in result.output
    # A wrong key: the provider refuses, the error is stored, the key is not.
    fake.config.expected_key = "something-else"
    result = runner.invoke(
        cli,
        [
            "--db",
            str(db_path),
            *[
                "classify",
                "--rubric",
                "compliance",
                "--model",
                "openai:gpt-4o",
                "--votes",
                "2",
                "--base-url",
            ],
            fake.url + "/v1",
            *["--limit", "2", "--max-retries", "0"],
        ],
    )
    outputs.append(result.output)
    assert result.exit_code == 5  # stopped by errors: a refused key stops the run at once
    assert "stopped" in result.output and "401" in result.output
    assert fake.stats()["auth_failures"] > 0
    assert ANTHROPIC_KEY in fake.seen_keys and OPENAI_KEY in fake.seen_keys
    store = Store(db_path)
    errors = store.execute("SELECT error FROM classifier_calls WHERE status = 'error'")
    assert errors and all("401" in e for (e,) in errors)
    store.close()
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    outputs += [str(r.args) for r in caplog.records]
    assert len(caplog.records) > 10  # the SDKs' debug logging was on and captured
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for key in (ANTHROPIC_KEY, OPENAI_KEY):
        assert key.encode() not in blob
        assert all(key not in text for text in outputs)
        assert key[-8:] not in "".join(outputs)


def test_missing_key_and_unknown_provider_are_clear(db_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--db",
            str(db_path),
            *["classify", "--rubric", "goal_guarding", "--model", "openai:gpt-4o-mini"],
        ],
    )
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.output
    result = runner.invoke(
        cli,
        [
            "--db",
            str(db_path),
            *["classify", "--rubric", "goal_guarding", "--model", "mistral:large"],
        ],
    )
    assert result.exit_code == 1
    assert "unknown provider 'mistral'" in result.output and "anthropic, openai" in result.output
    result = runner.invoke(
        cli, ["--db", str(db_path), *["classify", "--rubric", "nope", "--model", "openai:x"]]
    )
    assert result.exit_code == 1 and "no rubric 'nope'" in result.output
    result = runner.invoke(
        cli,
        [
            "--db",
            str(db_path),
            *[
                "classify",
                "--rubric",
                "compliance",
                "--model",
                "anthropic:x",
                "--condition",
                "nowhere",
            ],
        ],
    )
    assert result.exit_code == 1
    assert "no transcripts to classify" in result.output and "--condition nowhere" in result.output


def test_dry_run_from_the_cli_sends_nothing(fake, db_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # a dry run needs no key
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(db_path),
            *[
                "classify",
                "--rubric",
                "goal_guarding",
                "--model",
                "anthropic:claude-3-5-haiku",
                "--base-url",
            ],
            fake.url,
            "--dry-run",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["calls_to_make"] == 30 * 20 and summary["est_cost_usd_upper"] > 0
    assert fake.stats()["requests"] == {}


def test_summary_renders(fake, db_path, keys):
    args = [
        "--db",
        str(db_path),
        *[
            "classify",
            "--rubric",
            "compliance",
            "--model",
            "openai:gpt-4o-mini",
            "--votes",
            "2",
            "--base-url",
        ],
        fake.url + "/v1",
    ]
    result = CliRunner().invoke(cli, args, terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "classifier run 1: finished" in result.output
    assert "30 made, 0 from cache" in result.output
    result = CliRunner().invoke(cli, args, terminal_width=160)
    assert "0 made, 30 from cache" in result.output
    # A run name is shown literally, markup and all.
    result = CliRunner().invoke(cli, [*args, "--name", "[bold]mine[/bold]"], terminal_width=160)
    assert "[bold]mine[/bold]" in result.output
