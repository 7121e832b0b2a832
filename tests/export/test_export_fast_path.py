"""The streaming export writes what the export before it wrote, byte for byte (row for row in
parquet), on a small database with every kind of awkward data; and it shows progress.

The old module is kept (reformatted only) in tests/export/export_before.py as the oracle. Awkward data:
agreeing, split and revised human labels, an undone label, an adjudication, imported gold,
multi-label answers, notes and error reasons, classifier scores, values no JSON reader
accepts (text, NaN, a lone surrogate), broken metadata, absolute Windows and home paths, text
that a spreadsheet would run as a formula, and an API key inside text, a note and a name.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from db import Store, labels
from db.labels import GoldPolicy
from db.models import TranscriptRecord
from reviewer import export as fast
from rubrics import resolve_rubric
from tests.export import export_before as before

RUBRIC = "goal_guarding"
KEY = "sk-ant-api03-KEEPTHISOUT0123456789"
PATHS = (
    "/home/annika/runs/a.jsonl",
    "C:\\Users\\bob\\b.jsonl",
    "~/c.jsonl",
    "runs/d.jsonl",
    None,
    "https://user:pw@host/e.jsonl",
)


def tricky_db(path: Path) -> Path:
    store = Store(path)
    store.insert_transcripts(
        TranscriptRecord(
            user_input=['=HYPERLINK("http://evil")', f"my key is {KEY}", "+1", "plain"][i % 4],
            turns=[{"role": "user", "content": f"request {i}"}],
            scratchpad=f'@reasoning {i}\n\ttabbed "quoted", comma',
            output=f"-answer {i} ünïcode",
            model=["opus", "sonnet"][i % 2],
            condition=["free", "paid"][i % 2],
            dataset="set",
            system_prompt="You are a model." if i % 3 else None,
            source_path=PATHS[i % len(PATHS)],
            source_ref=f"ref-{i}",
            metadata={"i": i, "nested": {"k": [1, 2.5, None]}},
        )
        for i in range(14)
    )
    rubric = resolve_rubric(RUBRIC)
    digest = store.register_rubric(
        rubric.id, rubric.version, rubric.source_text, rubric.content_hash, rubric.origin
    )

    def commit(tid, who, **values):
        labels.commit_label(
            store, tid, annotator=who, rubric_id=RUBRIC, rubric_hash=digest, values=values
        )

    def classify(tid, value, score):
        store.append_label(
            tid,
            rubric_id=RUBRIC,
            field="alignment_faking",
            value=value,
            source="classifier",
            rater="clf-20v",
            score=score,
            scores={"yes": score, "no": 1 - score},
        )

    commit(1, "ann", alignment_faking="yes", motivation=["other", "rater_sycophancy"])
    commit(1, "bob", alignment_faking="yes", motivation=["rater_sycophancy", "other"])
    classify(1, "no", 0.25)
    commit(2, "ann", alignment_faking="yes")
    commit(2, "bob", alignment_faking="no")
    classify(2, "yes", 0.75)
    commit(3, "ann", alignment_faking="yes")
    labels.undo_last_act(store, "ann")  # retracted: not live
    commit(3, "ann", alignment_faking="no")
    labels.record_reveal(store, 4, annotator="ann", rubric_id=RUBRIC, rubric_hash=digest)
    commit(4, "ann", alignment_faking="yes")  # revealed: never gold on its own
    commit(4, "ann", alignment_faking="no")  # a revision: the newest is current
    labels.adjudicate(
        store,
        5,
        adjudicator="judge",
        rubric_id=RUBRIC,
        rubric_hash=digest,
        values={"alignment_faking": "no"},
        reason="rule 1 not met",
    )
    labels.record_meta(
        store,
        5,
        annotator="ann",
        rubric_id=RUBRIC,
        rubric_hash=digest,
        kind="_comment",
        value="odd one",
        note=f"pasted {KEY} by mistake",
    )
    labels.record_meta(
        store, 6, annotator="bob", rubric_id=RUBRIC, rubric_hash=digest, kind="_flag", note="check"
    )
    labels.record_meta(
        store, 6, annotator="bob", rubric_id=RUBRIC, rubric_hash=digest, kind="_skip"
    )
    store.append_label(
        7,
        rubric_id="compliance",
        field="compliance",
        value="partial",
        source="imported",
        rater="gold",
    )
    store.append_label(
        7, rubric_id="compliance", field="compliance", value="full", source="imported", rater="gold"
    )
    labels.record_error_reason(
        store,
        2,
        auditor="cy",
        rubric_id=RUBRIC,
        rubric_hash=digest,
        field="alignment_faking",
        classifier="clf-20v",
        classifier_value="yes",
        codes=["missed_passage"],
        note="the quote was there",
    )
    labels.record_error_reason(
        store,
        2,
        auditor="ann",
        rubric_id=RUBRIC,
        rubric_hash=digest,
        field="alignment_faking",
        classifier="clf-20v",
        classifier_value="yes",
        codes=[],
        note="second opinion",
    )
    commit(8, f"=evil{KEY}", alignment_faking="yes")  # a name with a formula and a key
    commit(8, "ann", alignment_faking="yes")
    for tid in range(9, 13):
        classify(tid, ["yes", "no"][tid % 2], tid / 20)
    store.close()
    raw = sqlite3.connect(path)
    insert = (
        "INSERT INTO label_events(transcript_id, rubric_id, field, value, source, rater, "
        "phase, scores, created_at) VALUES (?, ?, 'alignment_faking', ?, ?, ?, 'blind', ?, "
        "'2026-01-01')"
    )
    raw.execute(insert, (9, RUBRIC, "not json at all", "human", "zed", None))
    raw.execute(insert, (10, RUBRIC, "NaN", "human", "zed", "NaN"))
    raw.execute(insert, (11, RUBRIC, '"\\ud800 lone"', "human", "zed", None))
    raw.execute(insert, (12, RUBRIC, '"yes"', "classifier", "clf-raw", '{"yes": Infinity}'))
    raw.execute("UPDATE transcripts SET metadata = '{broken' WHERE id = 13")
    raw.execute("UPDATE transcripts SET metadata = '[1, NaN]' WHERE id = 14")
    raw.commit()
    raw.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return tricky_db(tmp_path_factory.mktemp("fast") / "tricky.db")


# (name, options as keyword arguments of ExportOptions, pseudonyms?)
VARIANTS = {
    "default": {},
    "no text": {"include_text": False},
    "gold only": {"gold_only": True},
    "imported as human, one human": {"policy": GoldPolicy(min_humans=1, imported_as_human=True)},
    "one rubric": {"rubric_ids": ["compliance"]},
    "masked key": {"redact": [KEY]},
    "masked key with quote": {"redact": [KEY, 'odd "one']},
    "pseudonymized": {"pseudonyms": True, "redact": [KEY]},
}


def _both(db: Path, tmp_path: Path, fmt: str, variant: dict) -> tuple[Path, Path, dict, dict]:
    mapping = {"ann": "rater-aaaaaa", "bob": "rater-bbbbbb"}  # others get fresh pseudonyms
    outs, reports = [], []
    for module, name in ((fast, "fast"), (before, "before")):
        options = dict(variant)
        if options.get("pseudonyms"):
            options["pseudonyms"] = module.Pseudonyms(dict(mapping))
        store = Store(db)
        try:
            out = tmp_path / f"{name}.{fmt}"
            report = module.export(store, fmt, out, module.ExportOptions(**options))
        finally:
            store.close()
        if options.get("pseudonyms"):
            mapping = options["pseudonyms"].mapping  # the same names for the old path
        outs.append(out)
        reports.append(report)
    return outs[0], outs[1], reports[0], reports[1]


def _files(out: Path) -> dict[str, bytes]:
    if out.is_dir():
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    return {out.name.split(".", 1)[1]: out.read_bytes()}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("fmt", ["jsonl", "csv", pytest.param("hf", marks=pytest.mark.slow)])
def test_text_formats_are_byte_identical_to_the_export_before(
    db: Path, tmp_path: Path, fmt: str, variant: str
) -> None:
    new, old, new_report, old_report = _both(db, tmp_path, fmt, VARIANTS[variant])
    assert _files(new) == _files(old)
    assert new_report.rows == old_report.rows and new_report.rows > 0
    for counter in ("gold_status", "gold_values", "labels_by_source", "raters"):
        assert getattr(new_report, counter) == getattr(old_report, counter), counter
    if fmt == "jsonl" and variant == "masked key":
        text = new.read_text(encoding="utf-8", errors="surrogateescape")
        assert KEY not in text and "***" in text


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_parquet_is_row_identical_to_the_export_before(
    db: Path, tmp_path: Path, variant: str
) -> None:
    import pyarrow.parquet as pq

    new, old, _, _ = _both(db, tmp_path, "parquet", VARIANTS[variant])
    new_table, old_table = pq.read_table(new), pq.read_table(old)
    assert new_table.schema == old_table.schema
    assert new_table.num_rows > 0
    assert new_table.to_pylist() == old_table.to_pylist()


def test_pages_of_every_size_give_the_same_export(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page edges (an item's labels split over two reads would be a bug) change nothing."""
    store = Store(db)
    try:
        fast.export(store, "jsonl", tmp_path / "whole.jsonl")
        for page in (1, 2, 3, 5):
            monkeypatch.setattr(fast.Exporter, "page", page)
            out = tmp_path / f"page{page}.jsonl"
            fast.export(store, "jsonl", out)
            assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes(), page
    finally:
        store.close()


def _reviewer(*args: str, env: dict, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    code = "from reviewer.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        stderr=stderr,
        stdout=subprocess.PIPE,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # a real process
def test_progress_is_a_line_now_and_then_when_stderr_is_not_a_terminal(
    db: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, REVIEWER_PROGRESS_SECONDS="0")
    out = tmp_path / "p.jsonl"
    done = _reviewer("--db", str(db), "export", "--format", "jsonl", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.decode().splitlines()
    assert "exporting p.jsonl: 0 of 14 transcripts (0%), 0 s" in lines
    assert any(line.startswith("exporting p.jsonl: 14 of 14 transcripts (100%)") for line in lines)
    assert b"wrote 14 transcripts" in done.stdout
    # --json keeps stderr quiet and stdout one JSON document
    done = _reviewer(
        "--db",
        str(db),
        "export",
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--overwrite",
        "--json",
        env=env,
    )
    assert done.returncode == 0 and done.stderr == b""
    assert json.loads(done.stdout)["rows"] == 14


def test_the_card_tells_no_progress_when_no_rubric_has_labels(tmp_path: Path) -> None:
    store = Store(tmp_path / "bare.db")
    store.insert_transcripts(
        [TranscriptRecord(user_input="q", scratchpad="s", output="o", turns=[])]
    )
    told: list[tuple[int, int]] = []
    lines = fast.agreement_card_lines(
        fast.Exporter(store, fast.ExportOptions()), progress=lambda d, t: told.append((d, t))
    )
    store.close()
    assert "## Agreement" in lines and told == []


@pytest.mark.slow  # a real process
def test_the_cards_agreement_table_has_its_own_progress(db: Path, tmp_path: Path) -> None:
    env = dict(os.environ, REVIEWER_PROGRESS_SECONDS="0")
    out = tmp_path / "hf"
    done = _reviewer("--db", str(db), "export", "--format", "hf", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.decode().splitlines()
    store = Store(db)
    rubrics = len(fast.Exporter(store, fast.ExportOptions()).rubric_fields)
    store.close()
    assert rubrics >= 2
    card = [i for i, line in enumerate(lines) if line.startswith("README.md: agreement")]
    said = "README.md: agreement with bootstrap intervals"
    assert lines[card[0]] == f"{said}: 0 of {rubrics} rubrics (0%), 0 s"
    assert lines[card[-1]].startswith(f"{said}: {rubrics} of {rubrics} rubrics (100%), ")
    rows = [i for i, line in enumerate(lines) if line.startswith("exporting hf: ")]
    assert rows and max(rows) < card[0]  # the rows' progress ends before the card's begins


@pytest.mark.slow  # a real process on a pty
def test_progress_is_a_bar_on_a_terminal(db: Path, tmp_path: Path) -> None:
    parent, child = pty.openpty()
    try:
        env = dict(os.environ, COLUMNS="100")
        env.pop("REVIEWER_PROGRESS_SECONDS", None)
        out = tmp_path / "bar.csv"
        done = _reviewer(
            "--db", str(db), "export", "--format", "csv", "--out", str(out), env=env, stderr=child
        )
        os.close(child)
        child = -1
        seen = b""
        while True:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if child != -1:
            os.close(child)
        os.close(parent)
    assert done.returncode == 0, seen
    assert b"exporting bar.csv" in seen and b"\x1b[" in seen  # drawn with terminal codes
    assert b"of 14 transcripts" not in seen  # a bar, not lines
