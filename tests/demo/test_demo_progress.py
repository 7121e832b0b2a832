"""A long demo build says how far it has got: a line every few seconds when stderr is not a
terminal (a log file, a pipe), so a silent build is never mistaken for a hung one."""

from __future__ import annotations

import re

from click.testing import CliRunner

from reviewer.cli import cli
from reviewer.commands import demo as demo_cmd


def test_a_build_off_a_terminal_prints_progress_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_cmd, "PROGRESS_FROM", 100)
    monkeypatch.setenv("REVIEWER_PROGRESS_SECONDS", "0")
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--size", "150", "--build-only"])
    assert result.exit_code == 0, result.output
    lines = re.findall(
        r"building demo: ([\d,]+) of 150 transcripts \((\d+)%\), \d+ s", result.stderr
    )
    assert lines, result.stderr
    done = [int(d.replace(",", "")) for d, _ in lines]
    assert done == sorted(done) and done[-1] == 150
    assert "150 demo transcripts" in result.stdout


def test_a_small_build_prints_no_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWER_PROGRESS_SECONDS", "0")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "d.db"), "demo", "--size", "50", "--build-only"]
    )
    assert result.exit_code == 0
    assert "building demo:" not in result.stderr
