"""Every key `reviewer import --json` prints is described in docs/formats.md."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from reviewer.cli import cli
from tests.conftest import ROOT


def _section(page: str, heading: str) -> str:
    start = page.index(heading)
    rest = page[start + len(heading) :]
    following = re.search(r"^#{1,3} ", rest, flags=re.M)
    return rest if following is None else rest[: following.start()]


def test_formats_documents_every_key_of_import_json(tmp_path) -> None:
    path = tmp_path / "chats.jsonl"
    record = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "<think>why</think>hi"},
        ],
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "r.db"), "import", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    keys = list(payload) + list(payload["files"][0])
    assert len(keys) > 15
    page = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    section = _section(page, "### `reviewer import --json`")
    undocumented = [key for key in keys if f"| `{key}` |" not in section]
    assert not undocumented, (
        f"keys of reviewer import --json missing from docs/formats.md: {undocumented}"
    )
