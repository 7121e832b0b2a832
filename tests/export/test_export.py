"""Exports round-trip: read back jsonl, csv, parquet and hf and check values and provenance."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from db.labels import GoldPolicy
from reviewer.cli import cli
from reviewer.export import Exporter, ExportError, ExportOptions, export, scrub_secrets
from rubrics import resolve_rubric
from tests.factory import add_transcripts, classifier, human, label, register_rubric

SECRET = "sk-ant-SECRET-do-not-export"


@pytest.fixture
def labeled(store):
    """Transcripts with agreeing humans, split humans, a classifier run, evidence and notes."""
    ids = add_transcripts(store, per_stratum=3)  # 12
    rubric_hash = register_rubric(store)
    run_id = (
        store.db["classifier_runs"]
        .insert(
            {
                "name": "gpt4o-20",
                "provider": "openai",
                "model": "gpt-4o",
                "rubric_hash": rubric_hash,
                "params": json.dumps(
                    {
                        "votes": 20,
                        "max_tokens": 512,
                        "api_key": SECRET,
                        "headers": {"Authorization": "Bearer " + SECRET},
                    }
                ),
                "base_url": f"https://user:{SECRET}@llm.example/v1",
                "started_at": "2026-01-01T00:00:00+00:00",
            }
        )
        .last_pk
    )
    evidence = [{"start": 0, "end": 5, "text": "opus/", "category": "yes"}]
    human(store, ids[0], "ann", "yes", rubric_hash=rubric_hash, evidence=evidence, seconds=12.5)
    human(store, ids[0], "bob", "yes", rubric_hash=rubric_hash)
    human(
        store,
        ids[0],
        "ann",
        ["rater_sycophancy", "other"],
        field="motivation",
        rubric_hash=rubric_hash,
    )
    human(
        store,
        ids[0],
        "bob",
        ["other", "rater_sycophancy"],
        field="motivation",
        rubric_hash=rubric_hash,
    )
    classifier(store, ids[0], "no", 0.3, rater="gpt4o-20", run_id=run_id, rubric_hash=rubric_hash)
    human(store, ids[1], "ann", "yes")
    human(store, ids[1], "bob", "no")
    classifier(store, ids[1], "yes", 0.65, rater="gpt4o-20", run_id=run_id)
    label(
        store,
        ids[2],
        "no",
        source="adjudication",
        rater="judge",
        phase="adjudicated",
        note="rule 1 not met",
    )
    store.append_label(
        ids[2],
        rubric_id="goal_guarding",
        field="_comment",
        value="odd one",
        source="human",
        rater="ann",
        note="odd one",
    )
    store.append_label(
        ids[3],
        rubric_id="compliance",
        field="compliance",
        value="partial",
        source="imported",
        rater="gold",
    )
    return store, ids, run_id


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_round_trip_carries_gold_and_provenance(labeled, tmp_path):
    store, ids, run_id = labeled
    report = export(store, "jsonl", tmp_path / "out.jsonl")
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert report.rows == len(rows) == 12
    assert [r["transcript_id"] for r in rows] == ids
    first = rows[0]
    assert first["model"] == "opus" and first["scratchpad"].startswith("opus/free/0")
    gold = first["gold"]["goal_guarding"]
    assert gold["alignment_faking"]["value"] == "yes"
    assert gold["alignment_faking"]["status"] == "unanimous"
    assert sorted(gold["motivation"]["value"]) == ["other", "rater_sycophancy"]
    ann = next(
        lab
        for lab in first["labels"]
        if lab["rater"] == "ann" and lab["field"] == "alignment_faking"
    )
    assert ann["phase"] == "blind" and ann["source"] == "human"
    assert ann["evidence"][0]["text"] == "opus/" and ann["seconds"] == 12.5
    assert ann["rubric_version"] == resolve_rubric("goal_guarding").version
    assert len(ann["rubric_hash"]) == 64
    assert ann["created_at"].endswith("+00:00")
    clf = next(lab for lab in first["labels"] if lab["source"] == "classifier")
    assert (clf["score"], clf["run_id"], clf["run"]["model"]) == (0.3, run_id, "gpt-4o")
    assert clf["scores"] == {"yes": 0.3, "no": 0.7}
    split = rows[1]["gold"]["goal_guarding"]["alignment_faking"]
    assert split["value"] is None and split["reason"] == "humans disagree: ann=yes, bob=no"
    adjudicated = rows[2]["gold"]["goal_guarding"]["alignment_faking"]
    assert (adjudicated["value"], adjudicated["status"]) == ("no", "adjudicated")
    assert rows[2]["notes"][0]["kind"] == "comment" and rows[2]["notes"][0]["value"] == "odd one"
    assert rows[3]["gold"]["compliance"]["compliance"]["status"] == "unresolved"
    assert rows[5]["labels"] == [] and rows[5]["gold"]["goal_guarding"]["motivation"]["reason"]


def test_gold_only_and_imported_as_human(labeled, tmp_path):
    store, ids, _ = labeled
    report = export(store, "jsonl", tmp_path / "g.jsonl", ExportOptions(gold_only=True))
    assert [r["transcript_id"] for r in read_jsonl(tmp_path / "g.jsonl")] == [ids[0], ids[2]]
    assert report.skipped_no_gold == 10
    options = ExportOptions(
        gold_only=True, policy=GoldPolicy(1, imported_as_human=True), rubric_ids=["compliance"]
    )
    export(store, "jsonl", tmp_path / "c.jsonl", options)
    rows = read_jsonl(tmp_path / "c.jsonl")
    assert [r["transcript_id"] for r in rows] == [ids[3]]
    assert set(rows[0]["gold"]) == {"compliance"}
    assert rows[0]["gold"]["compliance"]["compliance"]["value"] == "partial"


def test_csv_round_trip_flattens_labels(labeled, tmp_path):
    store, ids, _ = labeled
    export(store, "csv", tmp_path / "out.csv", ExportOptions(include_text=False))
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and int(rows[0]["transcript_id"]) == ids[0]
    assert "scratchpad" not in rows[0]
    first = rows[0]
    assert first["goal_guarding.alignment_faking.gold"] == "yes"
    assert json.loads(first["goal_guarding.motivation.gold"]) == ["other", "rater_sycophancy"]
    assert first["goal_guarding.alignment_faking.human:ann:blind"] == "yes"
    assert first["goal_guarding.alignment_faking.classifier:gpt4o-20"] == "no"
    assert float(first["goal_guarding.alignment_faking.classifier:gpt4o-20.score"]) == 0.3
    assert json.loads(first["labels_json"])[0]["rater"] == "ann"
    assert rows[1]["goal_guarding.alignment_faking.gold_reason"].startswith("humans disagree")
    assert json.loads(first["metadata"]) == {"i": 0}


def test_parquet_round_trip(labeled, tmp_path):
    import pandas as pd

    store, ids, _ = labeled
    Exporter.page = 5  # several pages and row groups
    try:
        export(store, "parquet", tmp_path / "out.parquet")
    finally:
        Exporter.page = 500
    df = pd.read_parquet(tmp_path / "out.parquet")
    assert list(df["transcript_id"]) == ids
    assert df.loc[0, "goal_guarding.alignment_faking.gold"] == "yes"
    assert df.loc[1, "goal_guarding.alignment_faking.gold_status"] == "unresolved"
    assert df.loc[1, "goal_guarding.alignment_faking.classifier:gpt4o-20.score"] == 0.65
    assert pd.isna(df.loc[5, "goal_guarding.alignment_faking.classifier:gpt4o-20.score"])
    assert df.loc[2, "goal_guarding.alignment_faking.adjudication:judge:adjudicated"] == "no"
    assert df.loc[0, "scratchpad"].startswith("opus/free/0")


def test_hf_folder_has_data_and_card(labeled, tmp_path):
    store, ids, _ = labeled
    report = export(store, "hf", tmp_path / "hf")
    rows = read_jsonl(tmp_path / "hf" / "data.jsonl")
    assert len(rows) == report.rows == 12
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nconfigs:")
    assert "| goal_guarding.alignment_faking | unanimous | 1 |" in card
    assert "| human | ann | 3 |" in card
    assert "gpt-4o" in card and '"votes":20' in card and '"max_tokens":512' in card


def test_no_api_key_is_ever_exported(labeled, tmp_path):
    store, _, _ = labeled
    for fmt, name in (
        ("jsonl", "a.jsonl"),
        ("csv", "a.csv"),
        ("parquet", "a.parquet"),
        ("hf", "hf"),
    ):
        export(store, fmt, tmp_path / name)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".db" and "test.db" not in path.name:
            assert b"SECRET" not in path.read_bytes(), path
    assert scrub_secrets({"api_key": "x", "n": 1, "url": "https://u:p@h:8/v1?k=1"}) == {
        "n": 1,
        "url": "https://h:8/v1",
    }


def test_export_errors_name_the_problem(labeled, tmp_path):
    store, _, _ = labeled
    (tmp_path / "exists.jsonl").write_text("keep me")
    with pytest.raises(ExportError, match="exists"):
        export(store, "jsonl", tmp_path / "exists.jsonl")
    assert (tmp_path / "exists.jsonl").read_text() == "keep me"
    with pytest.raises(ExportError, match="unknown export format"):
        export(store, "xml", tmp_path / "x.xml")
    with pytest.raises(ExportError, match="unknown rubric.*with labels: compliance, goal_guarding"):
        export(store, "jsonl", tmp_path / "x.jsonl", ExportOptions(rubric_ids=["nope"]))


def test_cli_queue_and_export(labeled, tmp_path):
    store, ids, _ = labeled
    db = str(store.path)
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "--db",
            db,
            *[
                "queue",
                "create",
                "agree",
                "--kind",
                "overlap",
                "--annotator",
                "ann",
                "--annotator",
                "bob",
                "--size",
                "4",
            ],
        ],
    )
    assert res.exit_code == 0, res.output
    assert "created queue agree: overlap under goal_guarding, blind, 8 assignments" in res.output
    res = runner.invoke(cli, ["--db", db, *["queue", "show", "agree", "--json"]])
    shown = json.loads(res.output)
    assert shown["progress"]["ann"]["total"] == 4 and shown["per_annotator"] == {"ann": 4, "bob": 4}
    res = runner.invoke(
        cli, ["--db", db, *["queue", "create", "agree", "--kind", "overlap", "--annotator", "ann"]]
    )
    assert res.exit_code == 1 and "exists" in res.output
    res = runner.invoke(cli, ["--db", db, "queue", "show", "nope"])
    assert res.exit_code == 1 and "no queue named 'nope'" in res.output
    out = tmp_path / "cli.jsonl"
    res = runner.invoke(
        cli,
        ["--db", db, *["export", "--format", "jsonl", "--out"], str(out), "--gold-only", "--json"],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["rows"] == 2 and report["skipped_no_gold"] == 10
    assert len(read_jsonl(out)) == 2


def test_queue_and_export_modules_import_no_heavy_packages():
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        "for m in ('db.queues', 'db.dataset', 'reviewer.queues', 'db.labels', "
        "'reviewer.export', 'reviewer.commands.queue', 'reviewer.commands.export'):\n"
        "    importlib.import_module(m)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'pandas', 'pyarrow', 'numpy', 'anthropic', 'openai'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_labels_under_an_unknown_rubric_id_are_exported_with_their_fields(store, tmp_path):
    ids = add_transcripts(store, per_stratum=1)
    store.append_label(
        ids[0],
        rubric_id="hughes",
        field="deceptive_alignment",
        value="yes",
        source="classifier",
        rater="hughes:deceptive_alignment",
        score=0.7,
    )
    report = export(store, "csv", tmp_path / "h.csv", ExportOptions(rubric_ids=["hughes"]))
    assert report.rubric_fields == {"hughes": ["deceptive_alignment"]}
    with (tmp_path / "h.csv").open(encoding="utf-8", newline="") as f:
        first = next(csv.DictReader(f))
    assert first["hughes.deceptive_alignment.classifier:hughes:deceptive_alignment.score"] == "0.7"
    assert first["hughes.deceptive_alignment.gold_reason"] == "no human label"


def test_cli_queue_list_json_is_stable(labeled):
    store, _, _ = labeled
    runner = CliRunner()
    db = str(store.path)
    assert "no queues yet" in runner.invoke(cli, ["--db", db, "queue", "list"]).output
    runner.invoke(cli, ["--db", db, *["queue", "create", "u", "--kind", "uncertain"]])
    listed = json.loads(runner.invoke(cli, ["--db", db, "queue", "list", "--json"]).output)
    assert [(q["name"], q["kind"], q["blind"], q["per_annotator"]) for q in listed] == [
        ("u", "uncertain", True, {"": 1})  # only the 0.3 score is within 0.15 of 0.4
    ]
    assert set(listed[0]) == {
        "name",
        "base_name",
        "version",
        "kind",
        "rubric_id",
        "blind",
        "params",
        "created_at",
        "per_annotator",
    }


def test_file_for_folder_and_folder_for_file_are_explained(labeled, tmp_path):
    store, _, _ = labeled
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep me")
    afile = tmp_path / "l.csv"
    afile.write_text("keep me too")
    runner = CliRunner()
    for fmt in ("jsonl", "csv", "parquet"):
        result = runner.invoke(
            cli,
            [
                "--db",
                str(store.path),
                "export",
                "--format",
                fmt,
                "--out",
                str(folder),
                "--overwrite",
            ],
        )
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "is a folder" in result.output and f"labels.{fmt}" in result.output
    result = runner.invoke(
        cli,
        [
            "--db",
            str(store.path),
            *["export", "--format", "hf", "--out"],
            str(afile),
            "--overwrite",
        ],
    )
    assert result.exit_code == 1 and "is a file" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (folder / "keep.txt").read_text() == "keep me"
    assert afile.read_text() == "keep me too"


def test_csv_tells_none_chosen_from_no_label(labeled, tmp_path):
    store, ids, _ = labeled
    human(store, ids[4], "ann", [], field="motivation")
    human(store, ids[4], "bob", ["other"], field="motivation")
    export(store, "csv", tmp_path / "out.csv", ExportOptions(include_text=False))
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = {int(r["transcript_id"]): r for r in csv.DictReader(f)}
    ann, bob = (
        "goal_guarding.motivation.human:ann:blind",
        "goal_guarding.motivation.human:bob:blind",
    )
    assert rows[ids[4]][ann] == "[]" and json.loads(rows[ids[4]][bob]) == ["other"]
    assert rows[ids[5]][ann] == ""  # no label at all
    assert sorted(json.loads(rows[ids[0]][ann])) == ["other", "rater_sycophancy"]
    assert rows[ids[0]]["goal_guarding.alignment_faking.human:ann:blind"] == "yes"
