"""Fixtures for the classifier tests: a fake provider on 127.0.0.1 and a database to label."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from db import Store
from tests.factory import classify_transcripts
from tests.fake_provider import FakeConfig, FakeProvider

ANTHROPIC_KEY = "sk-ant-LEAKCHECK-a1b2c3d4e5f6"
OPENAI_KEY = "sk-LEAKCHECK-openai-9f8e7d6c5b4a"


@pytest.fixture
def fake():
    server = FakeProvider(FakeConfig()).start()
    yield server
    server.stop()


@pytest.fixture
def keys(monkeypatch):
    """Test keys in the environment, and no base URL inherited from the developer's shell."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    for name in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return {"anthropic": ANTHROPIC_KEY, "openai": OPENAI_KEY}


@pytest.fixture
def labeled_db(tmp_path: Path):
    """A database with 12 transcripts, returned as (store, path)."""
    path = tmp_path / "classify.db"
    store = Store(path)
    store.insert_transcripts(classify_transcripts(12))
    yield store, path
    store.close()


def cli_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BASE_URL")}
    env.update({"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "OPENAI_API_KEY": OPENAI_KEY})
    env.update(base or {})
    return env
