"""A large JSON array read in parts, one reader process each: the same items as one reader
reading the whole file, wherever the cuts fall, and the whole file read on where a cut does
not hold or a part ends in an error."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

import importers.prefetch as prefetch
from importers.base import ImportOptions, Rejected, reader_for
from importers.jsonstream import array_cuts
from importers.run import Progress, import_file
from tests.factory import hughes_records


def _write(path: Path, records: list, indent: int | str | None = 4, newline: str = "\n") -> bytes:
    text = json.dumps(records, indent=indent)
    if newline != "\n":
        text = text.replace("\n", newline)
    path.write_text(text, newline="")
    return path.read_bytes()


def _whole(path: Path) -> list:
    """What one reader in this process yields for the whole file."""
    return list(reader_for("hughes")(path, ImportOptions()))


def _in_parts(
    path: Path,
    cuts: list[tuple[int, int]],
    spool: Path | None = None,
    *,
    whole_from: int | None,
    transform=None,
) -> list:
    """The items ``read_in_parts`` passes on, checking where (if anywhere) it went on with
    one reader over the whole file."""
    taken_over: list[int] = []
    read_on = prefetch.read_prefetched

    def reading_on(fmt, path, options, transform, readers):
        taken_over.append(options.first_record)
        return read_on(fmt, path, options, transform, readers)

    prefetch.read_prefetched = reading_on
    try:
        items = list(
            prefetch.read_in_parts("hughes", path, ImportOptions(), transform or _same, cuts, spool)
        )
    finally:
        prefetch.read_prefetched = read_on
    assert taken_over == ([] if whole_from is None else [whole_from])
    return items


def _same(item):  # the reader processes need a picklable transform
    return item


@pytest.mark.parametrize(
    ("indent", "newline"), [(4, "\n"), (2, "\n"), ("\t", "\n"), (4, "\r\n")], ids=str
)
def test_cuts_fall_on_the_commas_between_records(tmp_path, indent, newline) -> None:
    records = [
        {"n": i, "text": "a,\n    {" * (i % 3), "more": [{"x": [1, 2]}] * i} for i in range(30)
    ]
    data = _write(tmp_path / "a.json", records, indent, newline)
    for parts in (2, 3, 4, 7):
        cuts = array_cuts(tmp_path / "a.json", parts)
        assert cuts is not None and len(cuts) == parts - 1
        for comma, before in cuts:
            assert data[comma : comma + 1] == b","
            assert len(json.loads(data[:comma] + b"]")) == before
        assert [b for _, b in cuts] == sorted({b for _, b in cuts})  # distinct, in order


@pytest.mark.parametrize(
    "content",
    [
        json.dumps([{"n": i} for i in range(50)]).encode(),  # compact: no line break
        b"\xef\xbb\xbf" + json.dumps([{"n": i} for i in range(50)], indent=4).encode(),
        json.dumps([[i] for i in range(50)], indent=4).encode(),  # items are not objects
        json.dumps([{"n": 1}], indent=4).encode(),  # one record: nothing to cut between
        json.dumps({"n": 1}, indent=4).encode(),  # not an array
        b"",
    ],
    ids=["compact", "bom", "arrays", "one", "object", "empty"],
)
def test_no_cut_is_guessed_where_the_layout_gives_none(tmp_path, content) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(content)
    assert array_cuts(path, 2) is None


@pytest.mark.slow
def test_the_parts_give_the_whole_files_items_in_its_order(shared_data, tmp_path) -> None:
    records = hughes_records(shared_data, 9)
    records[2]["output"] = 17  # rejected (not fatal), in the first part
    records[7]["prompt"] = "not messages"  # and another in the last
    path = tmp_path / "nine.json"
    _write(path, records)
    whole = _whole(path)
    assert [type(x).__name__ for x in whole].count("Rejected") == 2
    cuts = array_cuts(path, 3)
    assert cuts is not None and len(cuts) == 2
    assert _in_parts(path, cuts, spool=tmp_path, whole_from=None) == whole
    assert sorted(os.listdir(tmp_path)) == ["nine.json"]  # the spool leaves nothing behind


def _comma_inside_record(data: bytes, k: int) -> int:
    """The offset of a comma between two keys of record ``k`` (depth 2, not between records)."""
    return data.index(b'",\n', data.index(b"hen #%d," % k)) + 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "wrong",
    ["inside_a_record", "count_too_high", "count_too_low", "inside_a_string", "past_the_end"],
)
def test_a_cut_that_does_not_hold_reads_the_rest_of_the_whole_file(
    shared_data, tmp_path, wrong
) -> None:
    records = hughes_records(shared_data, 8)
    for i, r in enumerate(records):
        r["output"] = r["output"].replace(f"hen #{i}", f"hen #{i}, and {{this}}")
    path = tmp_path / "eight.json"
    data = _write(path, records)
    [(comma, before)] = array_cuts(path, 2)
    last = before - 1  # the last record before the true cut
    # The wrong cut, and how many records the first part passes on before it is found wrong:
    # all it read whole but the last, which is held back.
    cut, passed = {
        "inside_a_record": ((_comma_inside_record(data, last), before), last - 1),
        "count_too_high": ((comma, before + 1), before - 1),
        "count_too_low": ((comma, before - 1), before - 1),
        "inside_a_string": ((data.index(b"hen #%d," % last) + 6, before), last - 1),
        # read whole and confirmed; the second part, past the end, is not
        "past_the_end": ((len(data) + 10, 8), 8),
    }[wrong]
    assert _in_parts(path, [cut], whole_from=passed) == _whole(path)


@pytest.mark.slow
def test_an_item_made_wrong_by_a_cut_is_never_passed_on(tmp_path) -> None:
    """Cut inside a record that is itself an array of objects laid out like the records, the
    first part parses one bogus item (half that array) before it fails: held back, then
    dropped, so only the whole read's items come out."""
    records = [{"n": 0}, [{"n": 1}, {"n": 2}], {"n": 3}, {"n": 4}]
    path = tmp_path / "nested.json"
    text = json.dumps(records, indent=4)
    # Lay the inner array's objects out like top-level records so the cut's guess matches.
    text = text.replace(
        '[\n        {\n            "n": 1\n        },\n        {', '[{"n": 1},\n    {'
    )
    path.write_text(text)
    assert json.loads(text) == [{"n": 0}, [{"n": 1}, {"n": 2}], {"n": 3}, {"n": 4}]
    inner = text.index('{"n": 1},') + len('{"n": 1}')
    whole = _whole(path)
    assert isinstance(whole[1], Rejected) and whole[1].raw == [{"n": 1}, {"n": 2}]
    assert _in_parts(path, [(inner, 2)], whole_from=1) == whole


@pytest.mark.slow
@pytest.mark.parametrize("where", ["first_part", "last_part", "truncated"])
def test_an_error_in_a_part_reads_as_it_does_in_the_whole_file(
    shared_data, tmp_path, where
) -> None:
    records = hughes_records(shared_data, 8)
    path = tmp_path / "eight.json"
    data = _write(path, records)
    if where == "truncated":
        data = data[: data.index(b"hen #6")]
    else:  # a colon where a comma belongs, between two keys of record 1 or record 6
        at = data.index(b'",\n', data.index(b"hen #1" if where == "first_part" else b"hen #6"))
        data = data[: at + 1] + b";" + data[at + 2 :]
    path.write_bytes(data)
    whole = _whole(path)
    assert isinstance(whole[-1], Rejected) and whole[-1].fatal
    cuts = array_cuts(path, 2)
    assert cuts is not None and 1 < cuts[0][1] < 6
    before = cuts[0][1]
    # The first part passes on what it read whole but its last record; the second, all the
    # first part's records and its own but the last before the error.
    passed = {"first_part": 0, "last_part": 5, "truncated": 5}[where]
    assert _in_parts(path, cuts, whole_from=passed) == whole
    assert before <= passed or where == "first_part"  # the error is in the part it says


class _DiskFull:
    """``os`` for the spool's thread, with a disk that is full."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.slow
def test_a_spool_that_cannot_be_written_reads_the_rest_of_the_whole_file(
    shared_data, tmp_path, monkeypatch
) -> None:
    path = tmp_path / "six.json"
    _write(path, hughes_records(shared_data, 6))
    whole = _whole(path)
    monkeypatch.setattr(prefetch, "os", _DiskFull())
    cuts = array_cuts(path, 2)
    # The first part is passed on whole; the second's spool fails at once.
    assert _in_parts(path, cuts, whole_from=cuts[0][1]) == whole


@pytest.mark.slow
def test_an_import_in_parts_stores_what_one_reader_stores(
    shared_data, tmp_path, store, monkeypatch
) -> None:
    import db.connection

    monkeypatch.setattr(prefetch, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setattr(db.connection, "usable_cores", lambda: 3)
    records = hughes_records(shared_data, 9)
    records[5] = records[1]  # a duplicate in another part: the first one wins
    path = tmp_path / "results.json"
    _write(path, records)
    assert prefetch.part_cuts("hughes", path) is not None
    seen: list[int] = []

    class Seen(Progress):
        def update(self, bytes_read: int) -> None:
            seen.append(bytes_read)

    result = import_file(store, path, fmt="hughes", progress=Seen())
    assert (result.status, result.n_new, result.n_duplicate) == ("done", 8, 1)
    refs = [r[0] for r in store.execute("SELECT source_ref FROM transcripts ORDER BY id")]
    assert refs == [f"record {i}" for i in (0, 1, 2, 3, 4, 6, 7, 8)]
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size


def _large(path: Path, bad: str, where: float, records: int = 5000) -> int:
    """A file of about 10 MB (more than two of the parser's 4 MB reads), with ``bad`` in place
    of one record's value ``where`` of the way through; returns that record's index."""
    record = {"user_input": "q", "prompt": {"messages": [{"role": "user", "content": "hi"}]}}
    items = [
        dict(record, output="<OUTPUT>" + "x" * 1800 + "</OUTPUT>", n=i, extra="PLACE")
        for i in range(records)
    ]
    text = json.dumps(items, indent=4)
    index = int(records * where)
    at = text.index('"PLACE"', text.index(f'"n": {index},'))
    path.write_text(text[:at] + bad + text[at + len('"PLACE"') :])
    return index


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["[" * 300 + "]" * 300, "1" * 4500], ids=["deep", "digits"])
@pytest.mark.parametrize("where", [0.3, 0.55, 0.9])
def test_a_value_past_the_guards_limits_stops_both_reads_at_the_same_record(
    tmp_path, bad, where
) -> None:
    """The guard refuses a chunk at a time; the reader must still yield every record before
    the refused byte, or a whole read (4 MB chunks from the file's start) and a part (chunks
    from its cut) would stop at different records."""
    path = tmp_path / "big.json"
    index = _large(path, bad, where)
    whole = _whole(path)
    assert len(whole) == index + 1
    last = whole[-1]
    assert isinstance(last, Rejected) and last.fatal and last.index == index
    assert "at byte" in last.reason and path.read_bytes()[last.byte_offset] in b"[1"
    cuts = array_cuts(path, 2)
    passed = index if index == cuts[0][1] else index - 1  # the record before it held back
    assert _in_parts(path, cuts, whole_from=passed) == whole


def test_a_hughes_file_named_as_json_lines_is_not_cut(tmp_path, shared_data, monkeypatch) -> None:
    """Such a file is read line by line, not as an array: cutting it would read another way."""
    import db.connection

    monkeypatch.setattr(db.connection, "usable_cores", lambda: 2)
    records = hughes_records(shared_data, 4)
    for name in ("results.json", "results.jsonl", "results.NDJSON"):
        _write(tmp_path / name, records)
        cuts = prefetch.part_cuts("hughes", tmp_path / name, tmp_path)
        assert (cuts is not None) == (name == "results.json"), name
    assert prefetch.part_cuts("inspect", tmp_path / "results.json", tmp_path) is None
    monkeypatch.setattr(db.connection, "usable_cores", lambda: 1)
    assert prefetch.part_cuts("hughes", tmp_path / "results.json", tmp_path) is None


def test_no_parts_without_room_beside_the_database_for_them(tmp_path, shared_data, monkeypatch):
    import db.connection

    monkeypatch.setattr(db.connection, "usable_cores", lambda: 2)
    path = tmp_path / "results.json"
    size = len(_write(path, hughes_records(shared_data, 4)))
    free = [prefetch.SPOOL_ROOM * size]
    real = shutil.disk_usage
    monkeypatch.setattr(prefetch.shutil, "disk_usage", lambda at: real(at)._replace(free=free[0]))
    assert prefetch.part_cuts("hughes", path, tmp_path) is not None
    free[0] -= 1
    assert prefetch.part_cuts("hughes", path, tmp_path) is None


class _DiesOnce:
    """A transform whose process dies at one record, once (a marker file says it did)."""

    def __init__(self, ref: str, marker: Path):
        self.ref, self.marker = ref, marker

    def __call__(self, item):
        if getattr(item, "source_ref", None) == self.ref and not self.marker.exists():
            self.marker.touch()
            os._exit(9)
        return item


@pytest.mark.slow
def test_a_part_whose_reader_dies_is_read_on_by_one_reader(shared_data, tmp_path) -> None:
    path = tmp_path / "eight.json"
    _write(path, hughes_records(shared_data, 8))
    whole = _whole(path)
    cuts = array_cuts(path, 2)
    dies = _DiesOnce(f"record {cuts[0][1] + 2}", tmp_path / "died")
    # The second part's reader dies at its third record, before it has sent a batch (they
    # are of prefetch.BATCH records): only the first part is passed on before one reader
    # reads on.
    items = _in_parts(path, cuts, whole_from=cuts[0][1], transform=dies)
    assert (tmp_path / "died").exists() and items == whole
