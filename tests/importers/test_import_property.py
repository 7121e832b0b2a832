"""Mutated inputs never raise: every reader turns any byte string into records or rejections."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import Store
from db.models import TranscriptRecord
from importers.base import ImportOptions, Rejected, reader_for
from importers.run import import_file
from tests.conftest import SHARED_DATA
from tests.factory import anthropic_record, openai_record, redwood_record

pytestmark = pytest.mark.slow  # hypothesis over mutated files

_HUGHES = SHARED_DATA / "transcripts" / "hughes_pipeline_record.json"
_HUGHES_TEXT = (
    _HUGHES.read_bytes()
    if _HUGHES.is_file()
    else json.dumps(
        [
            {
                "user_input": "q",
                "output": "<OUTPUT>a</OUTPUT>",
                "prompt": {"messages": []},
                "deceptive_alignment": {"final_answer": 0.5, "criteria": [1, 0], "quotes": [["a"]]},
            }
        ]
    ).encode()
)

SEEDS = {
    ("hughes", "r.json"): _HUGHES_TEXT,
    ("chat", "c.jsonl"): (
        json.dumps(openai_record()) + "\n" + json.dumps(anthropic_record())
    ).encode(),
    ("redwood", "w.json"): json.dumps([redwood_record()]).encode(),
    ("table", "t.csv"): b'text,label\n"<SCRATCHPAD_REASONING>x</SCRATCHPAD_REASONING>",yes\n'
    b"plain,no\n",
    ("table", "t.jsonl"): b'{"text": "a", "label": "yes"}\n{"text": "b", "label": "no"}\n',
}
TABLE = ImportOptions(maps={"scratchpad": "text", "label.alignment_faking": "label"})


@st.composite
def mutated(draw):
    (fmt, name), data = draw(st.sampled_from(sorted(SEEDS.items())))
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        else:
            del data[at:]
    return fmt, name, bytes(data)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_mutated_inputs_give_records_or_rejections(case):
    fmt, name, data = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        items = list(reader_for(fmt)(path, TABLE if fmt == "table" else ImportOptions()))
    assert items, "a reader always says something, if only that the file is empty"
    for item in items:
        assert isinstance(item, TranscriptRecord | Rejected)
        if isinstance(item, Rejected):
            assert item.reason and item.where


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_mutated_inputs_import_or_fail_cleanly(case):
    fmt, name, data = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        store = Store(Path(tmp) / "p.db")
        try:
            options = TABLE if fmt == "table" else ImportOptions()
            result = import_file(store, path, fmt=fmt, options=options)
            count = store.transcript_count()
            assert result.status in ("done", "failed")
            if result.status == "failed":
                assert result.error and str(path) in result.error and count == 0
            else:
                assert count == result.n_new
        finally:
            store.close()
