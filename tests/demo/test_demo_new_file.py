"""A demo built into a new file is built beside it, without journal or row triggers, and moved
into place only when complete: the result is a database like any other (doctor finds nothing
to say), and a failed or killed build leaves nothing at the path."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from db import Store
from db.demo import BuildFileLost, built_aside, remove_stale_builds
from db.doctor import OK, examine
from db.models import TranscriptRecord
from db.staging import encode
from reviewer import demo as demo_mod
from reviewer.cli import cli
from reviewer.demo import DemoGenerator, build_demo, build_demo_file


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name)


def test_the_fast_encoding_is_the_generic_encoding_of_the_same_record():
    for seed in (0, 3):
        by_record, direct = DemoGenerator(seed), DemoGenerator(seed)
        for _ in range(1500):
            record: TranscriptRecord = by_record.record()
            assert direct.encoded() == encode(record, send_prompt=False)
        assert direct.index == by_record.index == 1500


def test_a_new_file_is_a_healthy_database_with_every_guard_and_count(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_mod, "CHUNK", 150)  # several chunks and batches
    monkeypatch.setattr(demo_mod, "BATCH", 40)
    path = tmp_path / "demo.db"
    counts = build_demo_file(path, size=400, seed=5)
    assert counts["transcripts"] == 400 and counts["label_events"] == 1200
    assert _leftovers(tmp_path) == []
    exam = examine(path)
    assert exam.healthy and {c.status for c in exam.checks} == {OK}, exam.as_dict()
    facts = exam.check("label counts").facts
    assert facts["kept"] == facts["counted"] and facts["kept"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0] > 0  # analyzed
    conn.close()
    # The same rows as a build into an open store, and the restored triggers work: a second
    # build of the same seed into it finds 400 duplicates and counts the rest as it goes.
    elsewhere = Store(tmp_path / "plain.db")
    build_demo(elsewhere, size=400, seed=5)
    store = Store(path)
    query = "SELECT uid, scratchpad, metadata FROM transcripts ORDER BY id"
    assert store.execute(query) == elsewhere.execute(query)
    # Every table, index, trigger and view as a database built the ordinary way has them,
    # the indexes built after the load analyzed like the others.
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name != 'sqlite_stat1' ORDER BY name"
    assert store.execute(schema) == elsewhere.execute(schema)
    analyzed = "SELECT idx FROM sqlite_stat1 WHERE tbl = 'label_events' ORDER BY idx"
    assert store.execute(analyzed) == elsewhere.execute(analyzed)
    again = build_demo(store, size=450, seed=5)
    assert again["duplicates_skipped"] == 400 and store.transcript_count() == 850
    store.close()
    elsewhere.close()
    exam = examine(path)
    assert exam.healthy and exam.check("label counts").status == OK


def test_a_failed_build_leaves_nothing_at_the_path(tmp_path, monkeypatch):
    original = DemoGenerator._compose

    def compose(self):
        if self.index == 90:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(DemoGenerator, "_compose", compose)
    path = tmp_path / "demo.db"
    with pytest.raises(KeyboardInterrupt):
        build_demo_file(path, size=200, seed=0)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_the_cli_builds_a_new_file_and_reports_it(tmp_path):
    path = tmp_path / "sub" / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "demo", "--size", "70", "--build-only"])
    assert result.exit_code == 0, result.output
    assert f"Created {path}: 70 demo transcripts" in result.output
    assert Store(path).transcript_count() == 70
    assert _leftovers(path.parent) == []


def test_a_file_that_appears_during_the_build_is_kept(tmp_path):
    path = tmp_path / "demo.db"
    with (
        pytest.raises(FileExistsError, match="created by another process"),
        built_aside(path) as store,
    ):
        build_demo(store, size=20, seed=0)
        path.write_bytes(b"someone else's")
    assert path.read_bytes() == b"someone else's"
    assert _leftovers(tmp_path) == []


def test_a_building_file_deleted_during_the_build_is_reported_not_a_traceback(tmp_path):
    path = tmp_path / "demo.db"
    with (
        pytest.raises(BuildFileLost, match="was deleted or moved before the build finished"),
        built_aside(path) as store,
    ):
        build_demo(store, size=20, seed=0)
        store.path.unlink()
    assert not path.exists() and _leftovers(tmp_path) == []


def test_a_folder_moved_just_as_the_build_ends_is_reported_as_such(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    path = folder / "demo.db"
    link = os.link

    def link_then_move_the_folder(source, target):
        link(source, target)
        folder.rename(tmp_path / "moved")

    monkeypatch.setattr("db.demo.os.link", link_then_move_the_folder)
    with (
        pytest.raises(BuildFileLost, match="was built as .*, but its folder was moved"),
        built_aside(path) as store,
    ):
        build_demo(store, size=20, seed=0)
    moved = Store(tmp_path / "moved" / "demo.db")
    assert moved.transcript_count() == 20
    moved.close()


def test_the_cli_says_so_when_the_building_file_is_deleted(tmp_path, monkeypatch):
    path = tmp_path / "demo.db"
    original = DemoGenerator._compose

    def compose(self):
        if self.index == 30:  # someone cleans up the folder mid-build
            for found in tmp_path.glob("demo.db.building-*"):
                found.unlink()
        return original(self)

    monkeypatch.setattr(DemoGenerator, "_compose", compose)
    result = CliRunner().invoke(cli, ["--db", str(path), "demo", "--size", "60", "--build-only"])
    assert result.exit_code == 1
    assert "the file the demo was being built in, was deleted or moved" in result.output
    assert f"nothing was written to {path}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not path.exists() and _leftovers(tmp_path) == []


@pytest.mark.slow  # a real process, killed
def test_a_killed_build_leaves_only_its_own_file_which_the_next_build_removes(tmp_path):
    path = tmp_path / "demo.db"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from reviewer import demo\n"
        "original = demo.DemoGenerator._compose\n"
        "def compose(self):\n"
        "    if self.index == 150:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return original(self)\n"
        "demo.DemoGenerator._compose = compose\n"
        "demo.build_demo_file(Path(sys.argv[1]), size=300, seed=0)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    assert killed.returncode == -9
    assert not path.exists()
    (left,) = _leftovers(tmp_path)
    assert remove_stale_builds(path) == [tmp_path / left]
    build_demo_file(path, size=30, seed=0)
    assert _leftovers(tmp_path) == [] and Store(path).transcript_count() == 30


def test_a_build_of_a_live_process_is_not_removed(tmp_path):
    path = tmp_path / "demo.db"
    mine = tmp_path / f"demo.db.building-{os.getppid()}"  # a process that is alive
    mine.write_bytes(b"")
    assert remove_stale_builds(path) == [] and mine.exists()


def _search(store: Store, query: str) -> list[int]:
    return [
        r[0]
        for r in store.execute(
            "SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ? ORDER BY rowid",
            (query,),
        )
    ]


@pytest.mark.slow  # a second and a third process
def test_an_index_built_aside_is_whole_and_finds_what_an_index_built_in_place_finds(
    tmp_path, monkeypatch
):
    """A large new file is indexed for full-text search by another process in a side file,
    copied in at the end: FTS5's own integrity check passes, searches give the same rows
    as a build into an open store, and the side file is gone."""
    monkeypatch.setattr(demo_mod, "PARALLEL_FROM", 1)  # the large-build path, at 600
    monkeypatch.setattr(demo_mod, "CHUNK", 250)
    monkeypatch.setattr(demo_mod, "BATCH", 100)
    path = tmp_path / "demo.db"
    build_demo_file(path, size=600, seed=2)
    assert _leftovers(tmp_path) == []
    store, elsewhere = Store(path), Store(tmp_path / "plain.db")
    build_demo(elsewhere, size=600, seed=2)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO transcripts_fts(transcripts_fts) VALUES('integrity-check')")
    conn.close()
    for query in ("training", "refuse OR comply", '"free tier"', "values NOT harmful", "zzzz"):
        assert _search(store, query) == _search(elsewhere, query)
    assert len(_search(store, "training")) > 50
    # The index keeps working: the restored trigger indexes a later build's transcripts
    # (650 more after the 600 duplicates of the first build).
    again = build_demo(store, size=650, seed=2)
    assert again["duplicates_skipped"] == 600
    indexed = store.execute("SELECT COUNT(*) FROM transcripts_fts_docsize")[0][0]
    assert indexed == store.transcript_count() == 1250
    exam = examine(path)
    assert exam.healthy and {c.status for c in exam.checks} == {OK}, exam.as_dict()
    store.close()
    elsewhere.close()


def test_a_stale_side_index_is_removed_with_its_build(tmp_path):
    path = tmp_path / "demo.db"
    dead = 2**22 + 12345  # above any pid this machine hands out
    building = tmp_path / f"demo.db.building-{dead}"
    building.write_bytes(b"")
    side = tmp_path / f"demo.db.building-{dead}-fts"
    side.write_bytes(b"")
    assert remove_stale_builds(path) == [building]
    assert _leftovers(tmp_path) == []
