"""What `reviewer import` prints when a file fails: one message per line, as the manual shows."""

from __future__ import annotations

import json

from click.testing import CliRunner

from reviewer.cli import cli


def test_a_failed_file_prints_its_error_and_advice_on_separate_lines(tmp_path) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [{"text": f"reasoning {i}", "label": "potential_faking"} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(tmp_path / "r.db"),
            "import",
            str(path),
            "--format",
            "table",
            "--map",
            "scratchpad=text",
            "--map",
            "label.alignment_faking=label",
            "--rater",
            "gold",
        ],
    )
    assert result.exit_code == 1
    assert "\\n" not in result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("label.alignment_faking (column 'label'): values found") for line in lines
    )
    assert "  map them with --value potential_faking=CATEGORY" in lines
    assert any(line.startswith("Nothing from this file was imported.") for line in lines)


def test_a_terminal_escape_in_a_message_is_still_shown_literally(tmp_path) -> None:
    path = tmp_path / "bad\x1b[31m.jsonl"
    path.write_text('{"messages": "oops"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "import", str(path)])
    assert result.exit_code == 1
    assert "\x1b[31m" not in result.output
    assert "bad\\x1b[31m.jsonl" in result.output
