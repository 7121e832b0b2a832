"""``--map label.FIELD=PATH`` for formats that are not tables: labels from a dotted path into
each record (an Inspect sample's ``metadata.gold_af_label``, a chat record's field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store
from importers.base import ImportOptions
from importers.mapping import lookup
from importers.run import import_file
from reviewer.cli import cli
from tests.factory import write_jsonl

GOLD = dict(
    maps={"label.alignment_faking": "metadata.gold_af_label"},
    values={"potential_faking": "yes", "aligned": "no"},
    rater="gold",
)


def test_lookup_takes_the_key_then_the_path():
    record = {"a.b": 1, "a": {"b": 2, "c": [{"d": "x"}]}, "n": None}
    assert lookup(record, "a.b") == 1  # a key with a dot wins over the path
    assert lookup(record, "a.c.0.d") == "x"
    assert lookup(record, "a.zz") is None and lookup(record, "a.c.5.d") is None
    assert lookup(record, "n.x") is None


@pytest.mark.parametrize("name", ["af_helpful_only_paid.json", "af_helpful_only_free.eval"])
def test_inspect_gold_labels_from_sample_metadata(store, shared_data, name):
    path = shared_data / "transcripts" / "inspect" / name
    result = import_file(store, path, options=ImportOptions(**GOLD))
    assert result.status == "done", result.error
    gold = store.current_labels(rater="gold")
    assert len(gold) == result.n_labels > 0
    for label in gold:
        t = store.transcript(label.transcript_id)
        raw = t["metadata"]["metadata"]["gold_af_label"]
        assert label.value == {"potential_faking": "yes", "aligned": "no"}[raw]
        assert (label.rubric_id, label.field, label.source) == (
            "goal_guarding",
            "alignment_faking",
            "imported",
        )


def test_inspect_label_values_not_mapped_are_listed_from_the_log(tmp_path, shared_data):
    path = shared_data / "transcripts" / "inspect" / "af_helpful_only_paid.json"
    db = tmp_path / "r.db"
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(db),
            "import",
            str(path),
            *["--map", "label.alignment_faking=metadata.gold_af_label", "--rater", "gold"],
        ],
        terminal_width=200,
    )
    assert result.exit_code == 1
    assert "label.alignment_faking (path 'metadata.gold_af_label')" in result.output
    assert "aligned (4), potential_faking (2)" in result.output
    assert "--value aligned=CATEGORY" in result.output
    store = Store(db)
    assert store.transcript_count() == 0
    store.close()


def test_inspect_maps_labels_only(store, shared_data):
    path = shared_data / "transcripts" / "inspect" / "af_helpful_only_paid.json"
    result = import_file(store, path, options=ImportOptions(maps={"scratchpad": "output"}))
    assert result.status == "failed"
    assert "the inspect format maps only labels" in result.error


def test_inspect_score_and_note_from_paths(store, tmp_path: Path):
    sample = {
        "id": "s1",
        "epoch": 1,
        "input": "Do X",
        "messages": [
            {"role": "user", "content": "Do X"},
            {"role": "assistant", "content": "<think>train</think>No."},
        ],
        "metadata": {"judge": {"verdict": "yes", "p": 0.8}},
        "scores": {"judge": {"value": 0.8, "explanation": "mentions training"}},
    }
    path = tmp_path / "log.json"
    path.write_text(
        json.dumps({"version": 2, "eval": {"task": "t", "model": "m"}, "samples": [sample]})
    )
    options = ImportOptions(
        maps={
            "label.alignment_faking": "metadata.judge.verdict",
            "score.alignment_faking": "scores.judge.value",
            "note.alignment_faking": "scores.judge.explanation",
        },
        rater="judge",
    )
    result = import_file(store, path, options=options)
    assert (result.status, result.n_labels) == ("done", 1), result.error
    [label] = store.current_labels(rater="judge")
    assert (label.value, label.score, label.note) == ("yes", 0.8, "mentions training")


def test_chat_labels_from_a_nested_field(store, tmp_path: Path):
    records = [
        {
            "model": "m",
            "review": {"af": "af"},
            "messages": [
                {"role": "user", "content": "Do X"},
                {"role": "assistant", "content": "No.", "reasoning_content": "Hmm."},
            ],
        },
        {
            "model": "m",
            "review": {"af": "not_af"},
            "messages": [
                {"role": "user", "content": "Do Y"},
                {"role": "assistant", "content": "Yes.", "reasoning_content": "Ok."},
            ],
        },
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "Do Z"},
                {"role": "assistant", "content": "Maybe."},
            ],
        },
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", records)
    options = ImportOptions(
        maps={"label.alignment_faking": "review.af"},
        values={"af": "yes", "not_af": "no"},
        rater="pair_review",
    )
    result = import_file(store, path, options=options)
    assert (result.format, result.status, result.n_new, result.n_labels) == (
        "chat",
        "done",
        3,
        2,
    )
    values = {
        store.transcript(lab.transcript_id)["user_input"]: lab.value
        for lab in store.current_labels(rater="pair_review")
    }
    assert values == {"Do X": "yes", "Do Y": "no"}


def test_map_is_still_refused_where_a_format_has_no_labels(store, shared_data):
    path = shared_data / "transcripts" / "hughes_pipeline_record.json"
    result = import_file(store, path, options=ImportOptions(**GOLD))
    assert result.status == "failed"
    assert "apply to the formats inspect, chat, table" in result.error
