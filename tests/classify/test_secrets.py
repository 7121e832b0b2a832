"""No API key is stored or exported, even when the provider's answer repeats it, and a base
URL is stored without the credentials it may carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store, labels
from reviewer.classify.base import scrub, url_without_credentials
from reviewer.cli import cli
from tests.classify.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.factory import classify_transcripts


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(6, seed="sec"))
    store.close()
    return path


def _bytes_of(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("spec", "key"), [("anthropic:claude-3-5-haiku", ANTHROPIC_KEY), ("openai:gpt-4o", OPENAI_KEY)]
)
def test_an_answer_that_echoes_the_key_is_stored_and_exported_without_it(
    fake, keys, db_path, tmp_path, spec, key
):
    fake.config.echo_key = True
    url = fake.url + ("/v1" if spec.startswith("openai") else "")
    runner = CliRunner()
    args = [
        "--db",
        str(db_path),
        *["classify", "--rubric", "goal_guarding", "--model"],
        spec,
        *["--votes", "3", "--json"],
    ]
    result = runner.invoke(cli, [*args, "--base-url", url])
    assert result.exit_code == 0, result.output
    assert key in fake.seen_keys  # the key was really sent, and the answers repeat it
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["items_labeled_now"] == 6

    store = Store(db_path)
    raws = [r for (r,) in store.execute("SELECT raw_response FROM classifier_calls")]
    assert len(raws) == summary["calls_made"] > 0  # one request per vote, or one with n
    assert all("my key is ***" in r for r in raws)  # echoed, and masked
    evidence = store.execute("SELECT evidence FROM label_events WHERE evidence IS NOT NULL")
    assert evidence and all("my key is ***" in e for (e,) in evidence)
    store.close()

    # Credentials in the base URL (the SDKs send them instead of the key): a second run,
    # against the same server, stores its URL without them.
    # (A query token breaks both SDKs' path joining; url_without_credentials is tested below.)
    with_credentials = url.replace("http://", "http://alice:hunter2pass@")
    result = runner.invoke(cli, [*args, "--base-url", with_credentials])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["base_url"] == url
    store = Store(db_path)
    assert [u for (u,) in store.execute("SELECT base_url FROM classifier_runs")] == [url, url]
    store.close()

    out = tmp_path / "exports"
    out.mkdir()
    for fmt, name in (
        ("jsonl", "x.jsonl"),
        ("csv", "x.csv"),
        ("parquet", "x.parquet"),
        ("hf", "hf"),
    ):
        result = runner.invoke(
            cli, ["--db", str(db_path), "export", "--format", fmt, "--out", str(out / name)]
        )
        assert result.exit_code == 0, result.output
    blob = _bytes_of(db_path.parent) + _bytes_of(out)  # the database, its WAL, every export
    for secret in (ANTHROPIC_KEY, OPENAI_KEY, "hunter2pass"):
        assert secret.encode() not in blob


def test_export_masks_a_key_that_an_older_version_stored(keys, db_path, tmp_path):
    """A database written before the scrubbing (or by hand) may hold the key in a label's
    note: the export masks it all the same."""
    store = Store(db_path)
    tid = store.transcript_ids()[0]
    labels.append(
        store,
        tid,
        rubric_id="goal_guarding",
        field="alignment_faking",
        value="yes",
        source="human",
        rater="ann",
        phase="blind",
        note=f"pasted by mistake: {OPENAI_KEY}",
    )
    store.close()
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(
        cli, ["--db", str(db_path), *["export", "--format", "jsonl", "--out"], str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "pasted by mistake: ***" in text and OPENAI_KEY not in text


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://u:p@proxy.example:8443/v1", "https://proxy.example:8443/v1"),
        (
            "https://proxy.example/v1?api_key=abc123&api-version=2024-02-01",
            "https://proxy.example/v1?api-version=2024-02-01",
        ),
        ("https://proxy.example/v1?token=t0k3n#frag", "https://proxy.example/v1"),
        ("https://[::1]:8000/v1?sig=zz", "https://[::1]:8000/v1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_base_url_is_stored_without_credentials(url, stored):
    assert url_without_credentials(url) == stored


def test_scrub_masks_the_configured_key_but_not_a_placeholder(keys, monkeypatch):
    assert scrub(f"a{ANTHROPIC_KEY}b") == "a***b"
    monkeypatch.setenv("OPENAI_API_KEY", "none")  # a local server's placeholder
    assert scrub("none of the above") == "none of the above"
