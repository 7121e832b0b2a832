"""``reviewer import`` as a user runs it: exit codes, the summary, --json, the errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from db import Store
from reviewer.cli import cli

GOLD_ARGS = [
    "--format",
    "table",
    "--map",
    "scratchpad=text",
    "--map",
    "label.alignment_faking=label",
    "--value",
    "potential_faking=yes",
    "--value",
    "aligned=no",
    "--rater",
    "gold",
]


def _run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), "import", *map(str, args)])


def test_gold_example_from_help_imports_and_reports(tmp_path, shared_data):
    db = tmp_path / "r.db"
    gold = shared_data / "labels" / "gold_106.jsonl"
    result = _run(db, gold, *GOLD_ARGS)
    assert result.exit_code == 0, result.output
    assert "gold_106.jsonl" in result.output and "106" in result.output
    store = Store(db)
    assert len(store.current_labels(rater="gold")) == 106
    again = _run(db, gold, *GOLD_ARGS, "--json")
    payload = json.loads(again.output)
    [file] = payload["files"]
    assert (file["n_read"], file["n_new"], file["n_duplicate"], file["status"]) == (
        106,
        0,
        106,
        "done",
    )
    assert len(store.imports()) == 2


def test_help_lists_formats_and_the_gold_example():
    result = CliRunner().invoke(cli, ["import", "--help"])
    assert result.exit_code == 0
    for name in ("hughes", "inspect", "redwood", "chat", "table"):
        assert name in result.output
    assert "--value potential_faking=yes --value aligned=no --rater gold" in result.output


def test_failures_exit_1_and_name_the_file(tmp_path, shared_data):
    db = tmp_path / "r.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    good = shared_data / "transcripts" / "hughes_pipeline_record.json"
    result = _run(db, bad, good, "--model", "claude-3-opus")
    assert result.exit_code == 1
    assert f"{bad}: line 1, record 0: the conversation has no assistant message" in result.output
    assert Store(db).transcript_count() == 1  # the good file still went in


def test_unknown_format_option_lists_formats(tmp_path):
    result = _run(tmp_path / "r.db", tmp_path / "x.json", "--format", "nope")
    assert result.exit_code == 2
    assert "'hughes', 'inspect', 'redwood', 'chat', 'table'" in result.output


def test_map_is_refused_for_other_formats(tmp_path, shared_data):
    path = shared_data / "transcripts" / "hughes_pipeline_record.json"
    result = _run(tmp_path / "r.db", path, "--format", "hughes", "--map", "scratchpad=x")
    assert result.exit_code == 2
    assert "apply to the formats inspect, chat, table" in result.output


def test_map_on_a_detected_non_table_file_is_an_error(tmp_path, shared_data):
    path = shared_data / "transcripts" / "hughes_pipeline_record.json"
    result = _run(tmp_path / "r.db", path, "--map", "scratchpad=x")
    assert result.exit_code == 1
    assert "this file is hughes; pass --format table" in result.output
    assert Store(tmp_path / "r.db").transcript_count() == 0
