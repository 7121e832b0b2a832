"""Formats and providers describe themselves; the orchestrators loop over the registries and
never name one. Adding a format or provider is adding a module, not editing a branch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from importers.base import (
    FORMAT_MODULES,
    Format,
    UnknownFormatError,
    detect_format,
    formats,
    importable_suffixes,
)
from reviewer.classify.base import Provider
from reviewer.classify.registry import PROVIDER_MODULES, provider_class, providers

ROOT = Path(__file__).resolve().parents[2]


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_every_format_declares_itself():
    assert list(formats()) == ["hughes", "inspect", "redwood", "chat", "table"]
    assert len(FORMAT_MODULES) == len(formats())
    for fmt in formats().values():
        assert isinstance(fmt, Format) and fmt.description and fmt.suffixes
        assert all(s.startswith(".") for s in fmt.suffixes) and callable(fmt.detect)
        assert set(fmt.options) >= {"model", "condition", "dataset"}
        if fmt.label_map:
            assert fmt.label_sources is not None and "maps" in fmt.options
    assert set(importable_suffixes()) == {
        ".json",
        ".jsonl",
        ".ndjson",
        ".eval",
        ".csv",
        ".tsv",
        ".parquet",
        ".pq",
    }


def test_every_provider_declares_itself():
    assert list(providers()) == ["anthropic", "openai"]
    assert len(PROVIDER_MODULES) == len(providers())
    for cls in providers().values():
        assert issubclass(cls, Provider)
        assert cls.key_env.endswith("_API_KEY") and cls.base_url_env.endswith("_BASE_URL")
        assert cls.default_base_url.startswith("https://") and cls.example_model
        assert isinstance(cls.supports_n, bool) and isinstance(cls.supports_batch, bool)
        assert isinstance(cls.supports_prompt_caching, bool)
    assert provider_class("openai").supports_n and not provider_class("anthropic").supports_n


@pytest.mark.parametrize(
    ("orchestrator", "names"),
    [
        ("importers/run.py", ["hughes", "inspect", "redwood", "chat", "table"]),
        ("reviewer/classify/runner.py", ["anthropic", "openai"]),
        ("reviewer/classify/base.py", ["anthropic", "openai"]),
    ],
)
def test_orchestrators_name_no_format_or_provider(orchestrator, names):
    constants = _string_constants(ROOT / orchestrator)
    assert not [n for n in names if n in constants]


def test_the_provider_base_imports_no_provider():
    """base.py is what providers build on; it must not import them back (a cycle)."""
    tree = ast.parse((ROOT / "reviewer/classify/base.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & set(PROVIDER_MODULES)


@pytest.mark.slow
def test_reading_the_registries_imports_no_sdk():
    code = (
        "import sys; from reviewer.classify.registry import providers; providers(); "
        "from importers.base import formats; formats(); "
        "print(sorted(m for m in ('anthropic', 'openai', 'ijson', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the file is empty"),
        (b"   \n", "only white space"),
        (b'{"a": 1, "b": ', r"not valid JSON at byte 14.*cut off"),
        (b'{"a": 1}', "cannot tell the format \\(first record's keys: a\\)"),
        (b"{]", "not valid JSON at byte 1"),
        (b'"just a string', "not valid JSON at byte 0"),
    ],
)
def test_an_unreadable_json_file_says_why(tmp_path: Path, content: bytes, says: str):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(UnknownFormatError, match=says):
        detect_format(path)
