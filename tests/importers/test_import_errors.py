"""Bad input: a clear error naming file and record, and a database left as it was."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from importers.base import ImportOptions
from importers.run import Progress, import_file, import_files, rejected_path_for
from tests.factory import hughes_records, openai_record, snapshot, write_jsonl

GOLD = ImportOptions(
    maps={"scratchpad": "text", "label.alignment_faking": "label"},
    values={"potential_faking": "yes", "aligned": "no"},
    rater="gold",
)


@pytest.fixture
def seeded(store, shared_data):
    """A store that already holds the gold set, so 'unchanged' is a real claim."""
    assert import_file(store, shared_data / "labels" / "gold_106.jsonl", options=GOLD).n_new == 106
    return store


def _assert_failed_unchanged(store, before, result, path: Path, *fragments: str):
    assert result.status == "failed"
    assert str(path) in result.error
    for fragment in fragments:
        assert fragment in result.error, result.error
    assert snapshot(store) == before
    last = store.imports()[-1]
    assert (last["status"], last["n_new"], last["path"]) == ("failed", 0, str(path))
    assert json.loads(last["errors"])


def test_truncated_json_array(seeded, shared_data, tmp_path):
    path = tmp_path / "trunc.json"
    text = json.dumps(hughes_records(shared_data), indent=4)
    path.write_text(text[: int(len(text) * 0.8)])
    before = snapshot(seeded)
    result = import_file(seeded, path, fmt="hughes")
    _assert_failed_unchanged(seeded, before, result, path, "record 2", "truncated")


def test_wrong_types(seeded, shared_data, tmp_path):
    records = hughes_records(shared_data)
    records[1]["output"] = 42
    records[2]["deceptive_alignment"]["final_answer"] = "high"
    path = tmp_path / "types.json"
    path.write_text(json.dumps(records))
    before = snapshot(seeded)
    result = import_file(seeded, path, fmt="hughes")
    _assert_failed_unchanged(
        seeded, before, result, path, "record 1", "'output' should be a string, found number"
    )


def test_missing_field(seeded, shared_data, tmp_path):
    records = hughes_records(shared_data)
    del records[2]["output"]
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(records))
    before = snapshot(seeded)
    result = import_file(seeded, path, fmt="hughes")
    _assert_failed_unchanged(seeded, before, result, path, "record 2", "missing field 'output'")


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_invalid_utf8(seeded, tmp_path, suffix):
    path = tmp_path / f"bad{suffix}"
    good = json.dumps(openai_record()).encode()
    bad = good.replace(b"phishing", b"phish\xff\xfeing")
    if suffix == ".json":
        path.write_bytes(b"[" + good + b",\n" + bad + b"]")
        fmt, where = "chat", "record 1"
    elif suffix == ".jsonl":
        path.write_bytes(good + b"\n" + bad + b"\n")
        fmt, where = "chat", "line 2"
    else:
        path.write_bytes(b"text,label\nfine,yes\n" + b"caf\xe9,no\n")
        fmt, where = "table", "line 3"
    before = snapshot(seeded)
    options = ImportOptions(maps={"scratchpad": "text"}) if fmt == "table" else None
    result = import_file(seeded, path, fmt=fmt, options=options)
    _assert_failed_unchanged(seeded, before, result, path, where, "UTF-8")


@pytest.mark.slow
def test_fifty_megabyte_field(seeded, tmp_path):
    record = openai_record()
    record["messages"][2]["content"] = "<OUTPUT>" + "x" * (50 * 1024 * 1024) + "</OUTPUT>"
    path = write_jsonl(tmp_path / "huge.jsonl", [openai_record(), record])
    before = snapshot(seeded)
    result = import_file(seeded, path)
    _assert_failed_unchanged(seeded, before, result, path, "line 2", "over the 10,000,000 limit")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("e.json", "hughes"),
        ("e.jsonl", "chat"),
        ("e.csv", "table"),
        ("e.eval", "inspect"),
        ("e.json", "inspect"),
        ("e.json", "redwood"),
    ],
)
def test_empty_file(seeded, tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(b"" if fmt != "hughes" else b"[]")
    before = snapshot(seeded)
    options = ImportOptions(maps={"scratchpad": "text"}) if fmt == "table" else None
    result = import_file(seeded, path, fmt=fmt, options=options, skip_bad=True)
    assert result.status == "failed" and str(path) in result.error
    assert "empty" in result.error or "not a zip" in result.error
    assert snapshot(seeded) == before


def test_corrupt_eval_member(seeded, shared_data, tmp_path):
    source = shared_data / "transcripts" / "inspect" / "af_helpful_only_free.eval"
    path = tmp_path / "corrupt.eval"
    shutil.copy(source, path)
    with zipfile.ZipFile(source) as zf:
        info = zf.getinfo("samples/free-3_epoch_1.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    data[start : start + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    before = snapshot(seeded)
    result = import_file(seeded, path)
    _assert_failed_unchanged(seeded, before, result, path, "samples/free-3_epoch_1.json")
    again = import_file(seeded, path, skip_bad=True)
    assert (again.status, again.n_new, again.n_rejected) == ("done", 11, 1)


def test_label_value_error_lists_values_and_categories(seeded, shared_data):
    path = shared_data / "labels" / "gold_106.jsonl"
    options = ImportOptions(maps=GOLD.maps, rater="gold2")
    before = snapshot(seeded)
    result = import_file(seeded, path, options=options)
    _assert_failed_unchanged(
        seeded,
        before,
        result,
        path,
        "line 1",
        "values found: aligned (55), potential_faking (51)",
        "categories expected: yes, no",
        "--value potential_faking=",
    )


def test_skip_bad_writes_rejected_records_with_reasons(store, tmp_path):
    lines = [
        json.dumps(openai_record()),
        "{not json",
        "42",
        json.dumps({**openai_record(), "model": "other"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [result] = import_files(store, [path], skip_bad=True)
    assert (result.status, result.n_read, result.n_new, result.n_rejected) == ("done", 4, 2, 2)
    sidecar = rejected_path_for(store.path)
    assert result.rejected_path == str(sidecar)
    rows = [json.loads(line) for line in sidecar.read_text().splitlines()]
    assert [(r["line"], r["file"]) for r in rows] == [(2, str(path)), (3, str(path))]
    assert "invalid JSON" in rows[0]["reason"] and rows[0]["record"] == "{not json"
    assert "should be a JSON object, found number" in rows[1]["reason"]
    assert rows[1]["record"] == 42
    assert store.imports()[-1]["n_rejected"] == 2


def test_importing_twice_adds_nothing_and_records_both_runs(store, shared_data):
    paths = [
        shared_data / "transcripts" / "hughes_pipeline_record.json",
        shared_data / "transcripts" / "inspect" / "af_helpful_only_free.eval",
    ]
    first = import_files(store, paths)
    state = snapshot(store)
    second = import_files(store, paths)
    assert [r.n_new for r in first] == [1, 12] and [r.n_new for r in second] == [0, 0]
    assert [r.n_duplicate for r in second] == [1, 12]
    assert snapshot(store) == state
    runs = store.imports()
    assert [(r["status"], r["n_new"], r["n_duplicate"]) for r in runs] == [
        ("done", 1, 0),
        ("done", 12, 0),
        ("done", 0, 1),
        ("done", 0, 12),
    ]
    assert runs[0]["sha256"] == runs[2]["sha256"] and len(runs[0]["sha256"]) == 64


def test_missing_file(store, tmp_path):
    result = import_file(store, tmp_path / "nope.json")
    assert result.status == "failed" and "no such file" in result.error


@pytest.mark.slow
def test_reader_process_gives_the_same_result_and_rolls_back(
    store, shared_data, tmp_path, monkeypatch
):
    """Large files are read in a child process; the outcome must not depend on it."""
    import importers.prefetch

    monkeypatch.setattr(importers.prefetch, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setattr(importers.prefetch, "BATCH", 2)
    records = hughes_records(shared_data, 5)
    path = tmp_path / "five.json"
    path.write_text(json.dumps(records))
    seen = []

    class Seen(Progress):
        def update(self, bytes_read: int) -> None:
            seen.append(bytes_read)

    result = import_file(store, path, fmt="hughes", progress=Seen())
    assert (result.status, result.n_new, result.n_labels) == ("done", 5, 25)
    assert seen and seen[-1] == path.stat().st_size
    before = snapshot(store)
    records[3]["output"] = None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(records))
    failed = import_file(store, bad, fmt="hughes")
    _assert_failed_unchanged(store, before, failed, bad, "record 3", "missing field 'output'")


def test_failed_generations_are_named_as_such(store, shared_data, tmp_path):
    records = hughes_records(shared_data, 2)
    records[1].update(output=None, success=False)
    path = tmp_path / "failed_gen.json"
    path.write_text(json.dumps(records))
    result = import_file(store, path, fmt="hughes", skip_bad=True)
    assert (result.status, result.n_new, result.n_rejected) == ("done", 1, 1)
    row = json.loads(store.imports()[-1]["errors"])[0]
    assert row == {
        "where": "record 1",
        "reason": "the pipeline recorded a failed generation (success: false, no output)",
    }


@pytest.mark.slow
def test_fifty_megabyte_field_in_a_json_array(seeded, shared_data, tmp_path):
    records = hughes_records(shared_data, 2)
    records[0]["output"] = "<OUTPUT>" + "y" * (50 * 1024 * 1024) + "</OUTPUT>"
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(records))
    before = snapshot(seeded)
    result = import_file(seeded, path, fmt="hughes")
    _assert_failed_unchanged(seeded, before, result, path, "record 0", "output is 52,428,817")


def test_an_internal_error_rolls_back_marks_the_run_failed_and_propagates(
    seeded, shared_data, monkeypatch
):
    import db.staging

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    before = snapshot(seeded)
    monkeypatch.setattr(db.staging, "_copy_chunk", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_file(seeded, shared_data / "transcripts" / "hughes_pipeline_record.json")
    assert snapshot(seeded) == before
    last = seeded.imports()[-1]
    assert last["status"] == "failed" and "disk on fire" in last["errors"]


def test_skip_bad_with_unknown_label_values_says_which(store, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("text,label\na,yes\nb,maybe\nc,maybe\n", encoding="utf-8")
    options = ImportOptions(maps={"scratchpad": "text", "label.alignment_faking": "label"})
    result = import_file(store, path, options=options, skip_bad=True)
    assert (result.status, result.n_new, result.n_rejected) == ("done", 1, 2)
    assert "values found: maybe (2), yes (1)" in result.hint
    assert "--value maybe=CATEGORY" in result.hint


@pytest.mark.slow
def test_several_reader_processes_keep_file_order_and_stop_at_a_truncation(
    store, shared_data, tmp_path, monkeypatch
):
    """Readers that each convert every third record must give the single reader's result."""
    import importers.prefetch

    monkeypatch.setattr(importers.prefetch, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setattr(importers.prefetch, "BATCH", 2)
    monkeypatch.setattr(importers.prefetch, "READERS", 3)
    monkeypatch.setattr(importers.prefetch, "spare_cores", lambda: 3.0)  # however busy
    records = hughes_records(shared_data, 7)
    records[4]["output"] = 17  # a bad record in the middle, owned by the second reader
    path = tmp_path / "seven.json"
    text = json.dumps(records, indent=4)
    path.write_text(text)
    result = import_file(store, path, fmt="hughes", skip_bad=True)
    assert (result.status, result.n_new, result.n_rejected) == ("done", 6, 1)
    refs = [r[0] for r in store.execute("SELECT source_ref FROM transcripts ORDER BY id")]
    assert refs == [f"record {i}" for i in (0, 1, 2, 3, 5, 6)]

    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index("hen #6")])  # ends inside record 6
    before = snapshot(store)
    failed = import_file(store, cut, fmt="hughes")
    _assert_failed_unchanged(store, before, failed, cut, "record 4")
    partial = import_file(store, cut, fmt="hughes", skip_bad=True)
    assert (partial.status, partial.n_read, partial.n_rejected) == ("done", 7, 2)
    assert "record 6" in json.loads(store.imports()[-1]["errors"])[-1]["where"]
