"""Exports that are safe to share, and commands that print data literally.

- ``--pseudonymize``: no annotator name survives anywhere in the export (labels, notes, gold
  raters, the reason humans disagree, CSV column names, the dataset card), and the mapping
  kept beside the export gives the same pseudonyms next time;
- absolute source paths are reduced to file names;
- no CSV cell starts with a character a spreadsheet would run as a formula;
- values another tool wrote (not JSON, NaN, a lone surrogate, broken metadata) export;
- rater names, models and file names with terminal escapes print as visible text.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from db import Store, labels
from reviewer.cli import cli
from tests.factory import register_rubric, transcript

RUBRIC = "goal_guarding"
NAMES = ("annika_q", "bobbert_z")
FORMULAS = ('=HYPERLINK("http://evil")', "+SUM(1,2)", "-2+3", "@cmd", "\tx", "\rx")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def people_db(tmp_path: Path) -> Path:
    store = Store(tmp_path / "people.db")
    store.insert_transcripts(
        transcript(
            f"u{i}",
            turns=[],
            scratchpad=f"reasoning {i}",
            output=f"out {i}",
            model="m",
            condition="free",
            source_path=f"/home/{NAMES[0]}/runs/batch{i}.jsonl",
        )
        for i in range(3)
    )
    digest = register_rubric(store)
    for tid, (a, b) in zip((1, 2), (("yes", "no"), ("yes", "yes")), strict=True):
        for name, value in zip(NAMES, (a, b), strict=True):
            labels.commit_label(
                store,
                tid,
                annotator=name,
                rubric_id=RUBRIC,
                rubric_hash=digest,
                values={"alignment_faking": value},
            )
    labels.record_meta(
        store,
        3,
        annotator=NAMES[0],
        rubric_id=RUBRIC,
        rubric_hash=digest,
        kind="_comment",
        value="odd one",
        note="see the output",
    )
    labels.record_error_reason(
        store,
        2,
        auditor=NAMES[1],
        rubric_id=RUBRIC,
        rubric_hash=digest,
        field="alignment_faking",
        classifier="clf",
        classifier_value="no",
        codes=["missed_passage"],
        note="the quote was there",
    )
    store.close()
    return tmp_path / "people.db"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "hf"])
def test_pseudonymized_exports_name_nobody_and_keep_their_pseudonyms(
    tmp_path: Path, people_db: Path, fmt: str
) -> None:
    out = tmp_path / f"share.{fmt}"
    code, output = run("--db", people_db, "export", "--format", fmt, "--out", out, "--pseudonymize")
    assert code == 0, output
    kept = tmp_path / f"share.{fmt}.pseudonyms.json"
    mapping = json.loads(kept.read_text())["pseudonyms"]
    assert set(mapping) == set(NAMES)
    assert (kept.stat().st_mode & 0o077) == 0  # the owner's only
    files = [out] if out.is_file() else sorted(out.iterdir())
    text = "".join(f.read_text() for f in files)
    for name in NAMES:
        assert name not in text
    for pseudonym in mapping.values():
        assert pseudonym in text
    assert "batch0.jsonl" in text and "/home/" not in text  # source path: the file name
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        gold = rows[0]["gold"][RUBRIC]["alignment_faking"]
        assert (
            gold["reason"] == (f"humans disagree: {mapping[NAMES[0]]}=yes, {mapping[NAMES[1]]}=no")
            or gold["reason"] == f"humans disagree: {mapping[NAMES[1]]}=no, {mapping[NAMES[0]]}=yes"
        )
        assert sorted(rows[1]["gold"][RUBRIC]["alignment_faking"]["raters"]) == sorted(
            mapping.values()
        )
        assert rows[2]["notes"][0]["rater"] == mapping[NAMES[0]]
    # The same map next time: the same pseudonyms.
    again = tmp_path / f"again.{fmt}"
    code, output = run(
        "--db", people_db, "export", "--format", fmt, "--out", again, "--pseudonym-map", kept
    )
    assert code == 0, output
    again_files = [again] if again.is_file() else sorted(again.iterdir())
    again_text = "".join(f.read_text() for f in again_files)
    assert all(p in again_text for p in mapping.values())
    assert json.loads(kept.read_text())["pseudonyms"] == mapping


def test_a_broken_pseudonym_map_is_refused_by_name(tmp_path: Path, people_db: Path) -> None:
    bad = tmp_path / "names.json"
    bad.write_text("[1, 2]")
    code, output = run(
        "--db",
        people_db,
        "export",
        "--format",
        "jsonl",
        "--out",
        tmp_path / "x.jsonl",
        "--pseudonym-map",
        bad,
    )
    assert code == 1 and "names.json: not a pseudonym map" in output
    assert not (tmp_path / "x.jsonl").exists()


def hostile_db(tmp_path: Path) -> Path:
    """Formula-looking and escape-laden names, and values no JSON reader accepts."""
    store = Store(tmp_path / "hostile.db")
    store.insert_transcripts(
        transcript(
            f"u{i}",
            turns=[],
            scratchpad=f"s{i}",
            output=f"o{i}",
            model=f"{FORMULAS[i % len(FORMULAS)]}\x1b[31m",
            condition="@free",
            dataset="-ds",
            source_path=f"/tmp/\x1b]0;pwned\x07{i}.jsonl",
        )
        for i in range(8)
    )
    digest = register_rubric(store)
    for i, rater in enumerate(FORMULAS):
        labels.commit_label(
            store,
            1 + i,
            annotator=f"{rater}\x1b[2J",
            rubric_id=RUBRIC,
            rubric_hash=digest,
            values={"alignment_faking": "yes"},
        )
    store.close()
    raw = sqlite3.connect(tmp_path / "hostile.db")
    insert = (
        "INSERT INTO label_events(transcript_id, rubric_id, field, value, source, rater, "
        "phase, created_at) VALUES (?, ?, 'alignment_faking', ?, 'human', 'zed', 'blind', "
        "'2026-01-01')"
    )
    raw.execute(insert, (7, RUBRIC, "not json at all"))
    raw.execute(insert, (8, RUBRIC, "NaN"))
    raw.execute(insert, (6, RUBRIC, '"\\ud800 lone"'))
    raw.execute("UPDATE transcripts SET metadata = '{broken' WHERE id = 5")
    raw.commit()
    raw.close()
    return tmp_path / "hostile.db"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "hf"])
def test_odd_values_export_and_csv_cells_never_run_as_formulas(tmp_path: Path, fmt: str) -> None:
    db = hostile_db(tmp_path)
    out = tmp_path / f"out.{fmt}"
    code, output = run("--db", db, "export", "--format", fmt, "--out", out)
    assert code == 0, output
    assert "\x1b" not in output
    if fmt == "jsonl":

        def no_constants(name: str):
            raise ValueError(f"not JSON: {name}")

        rows = [
            json.loads(line, parse_constant=no_constants) for line in out.read_text().splitlines()
        ]
        values = {lab["value"] for r in rows for lab in r["labels"] if lab["rater"] == "zed"}
        assert values == {"not json at all", "NaN", "\ud800 lone"}
        assert rows[4]["metadata"] == "{broken"
    if fmt == "csv":
        with out.open(newline="", encoding="utf-8") as f:
            cells = [c for row in csv.reader(f) for c in row]
        assert cells, "the export wrote nothing"
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert '\'=HYPERLINK("http://evil")\x1b[31m' in cells  # kept, as text
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows == 8


def test_commands_print_untrusted_text_literally(tmp_path: Path) -> None:
    db = hostile_db(tmp_path)
    for args in (
        ["info"],
        ["stats"],
        ["analyze"],
        ["rubrics", "list"],
        ["doctor"],
        [
            "queue",
            "create",
            "q\x1b[5m",
            "--kind",
            "random",
            "--annotator",
            "evil\x1b[31m",
            "--size",
            "2",
        ],
        ["queue", "list"],
        ["queue", "show", "q\x1b[5m"],
        ["backup", tmp_path / "b\x1b[1m.db"],
        ["merge", tmp_path / "b\x1b[1m.db"],
        ["export", "--format", "csv", "--out", tmp_path / "x\x1b[1m.csv"],
    ):
        code, output = run("--db", db, *args)
        assert "\x1b" not in output, (args, output)
        assert code in (0, 1), (args, output)
    code, output = run("--db", db, "info")
    assert "\\x1b[31m" in output  # shown, as visible text
    code, output = run("--db", db, "queue", "show", "nope\x1b[2J")
    assert code == 1 and "\x1b" not in output
