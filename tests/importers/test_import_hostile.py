"""Hostile files for every format never crash an import, never raise, and never leave part
of a file in: each is imported, or refused with an error naming the file (and the record).
The same generators run 10,000 times per format in ``bench/bench_fuzz.py``."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import Store
from importers.guard import InputLimitError, JsonGuard
from importers.run import import_file
from tests.hostile_inputs import GENERATORS, Raw, check_import, dump

pytestmark = pytest.mark.slow  # many hostile files per format

_STORES: dict[str, tuple[Store, Path]] = {}


def _store(fmt: str) -> Store:
    if fmt not in _STORES:
        folder = Path(tempfile.mkdtemp(prefix=f"hostile-{fmt}-"))
        _STORES[fmt] = (Store(folder / "fuzz.db"), folder)
    return _STORES[fmt][0]


@pytest.mark.parametrize("fmt", sorted(GENERATORS))
def test_hostile_files_import_whole_or_fail_cleanly(fmt):
    store = _store(fmt)
    folder = _STORES[fmt][1]

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.randoms(use_true_random=False), st.booleans(), st.booleans())
    def one(rng: random.Random, detect: bool, skip_bad: bool) -> None:
        case = GENERATORS[fmt](rng)
        path = folder / case.name
        path.write_bytes(case.data)
        problem = check_import(store, path, case, fmt=None if detect else fmt, skip_bad=skip_bad)
        assert problem == "", (problem, case.data[:300])

    one()


def test_the_inputs_that_crashed_or_blew_up_now_fail_cleanly(tmp_path):
    store = Store(tmp_path / "x.db")
    cases = {
        "bigint.json": b'[{"messages": [], "n": ' + b"9" * 5000 + b"}]",  # ijson segfaulted
        "bigint.jsonl": b'{"messages": ' + b"9" * 5000 + b"}\n",
        "brackets.json": b"[" * 30_000,  # 2.5 N^2 bytes: 2.2 GB
        "deep.jsonl": b'{"messages":' + b"[" * 5000 + b"]" * 5000 + b"}\n",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = import_file(store, path)
        assert result.status == "failed" and str(path) in result.error
        assert "deeper than 256" in result.error or "4,000 digits" in result.error
    assert store.transcript_count() == 0
    store.close()


def test_one_bad_record_under_skip_bad_does_not_cost_the_file(tmp_path):
    from tests.factory import anthropic_record, openai_record

    store = Store(tmp_path / "x.db")
    lines = [
        dump(openai_record()),
        b'{"messages":' + b"[" * 3000 + b"]" * 3000 + b"}",
        dump({**anthropic_record(), "model": Raw(b'"\\ud800"')}),
        dump(anthropic_record()),
        dump({**openai_record(), "x": Raw(b"1" * 5000)}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = import_file(store, path, fmt="chat", skip_bad=True)
    assert (result.status, result.n_new, result.n_rejected) == ("done", 2, 3)
    result = import_file(store, path, fmt="chat")  # without --skip-bad: refused, named
    assert result.status == "failed" and "line 2" in result.error
    store.close()


@pytest.mark.parametrize(
    "chunks",
    [[b'["a\\"]]]]]]"', b"]"], [b'["\\', b'"]]]]]]"]'], [b"[" * 100, b"]" * 100, b"[" * 100]],
)
def test_the_guard_is_blind_to_brackets_inside_strings_across_chunks(chunks):
    guard = JsonGuard(max_depth=150)
    for chunk in chunks:
        guard.feed(chunk)
    assert guard.depth <= 150


def test_the_guard_counts_digits_across_chunks_but_not_inside_strings():
    guard = JsonGuard(max_digits=10)
    guard.feed(b'["' + b"1" * 50 + b'", 12345')
    with pytest.raises(InputLimitError):
        guard.feed(b"678901]")
