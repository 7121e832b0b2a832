"""Hostile inputs for every import format, from a seeded ``random.Random``.

Each generator starts from a good file of its format and breaks it the way files written by
other people's pipelines break, or the way an attacker would: a value replaced by a number
of thousands of digits, nesting thousands deep, a lone surrogate, a value of the wrong type,
invalid UTF-8, a truncation, random byte damage; for ``.eval`` zips also corrupt, encrypted
and bomb-sized members. The property tests (hypothesis hands them a ``Random``) and
``bench/bench_fuzz.py`` (10,000 per format) use the same generators.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from importers.base import ImportOptions
from tests.factory import anthropic_record, openai_record, redwood_record


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is (what ``json.dumps`` would refuse to write)."""

    data: bytes


def dump(value: Any) -> bytes:
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, dict):
        return (
            b"{"
            + b",".join(json.dumps(str(k)).encode() + b":" + dump(v) for k, v in value.items())
            + b"}"
        )
    if isinstance(value, list):
        return b"[" + b",".join(dump(v) for v in value) + b"]"
    return json.dumps(value).encode()


def hostile_value(rng: random.Random) -> Any:
    kind = rng.randrange(14)
    if kind == 0:
        return Raw(b"9" * rng.choice([4301, 5000, 30000]))
    if kind == 1:
        depth = rng.choice([300, 3000, 30000])
        return Raw(b"[" * depth + b"]" * depth)
    if kind == 2:
        return Raw(b"[" * rng.choice([300, 30000]))  # never closed
    if kind == 3:
        return Raw(b'{"a":' * 2000 + b"1" + b"}" * 2000)
    if kind == 4:
        return Raw(rng.choice([b'"\\ud800"', b'"a\\udfffb"', b'"\\udc00\\ud800"']))
    if kind == 5:
        return rng.choice([0, -1, 1e308, True, False, None, 3.5])
    if kind == 6:
        return rng.choice([{}, [], {"a": [1, {"b": None}]}, [[[]]], ""])
    if kind == 7:
        return Raw(rng.choice([b"NaN", b"Infinity", b"-Infinity", b"-0", b"1e99999"]))
    if kind == 8:
        return "x" * rng.choice([10_000, 200_000])
    if kind == 9:
        return Raw(b'"' + rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00"]) + b'"')
    if kind == 10:
        return "".join(chr(rng.choice([0, 7, 27, 0x202E, 0xFEFF, 0x10FFFF])) for _ in range(8))
    if kind == 11:
        return Raw(b'"' + b"\\" * rng.randrange(1, 5) + b'"')
    if kind == 12:
        return Raw(b"-" + b"1" * 4500 + b".5")
    return "<SCRATCHPAD_REASONING>" * rng.randrange(1, 50)


def _positions(value: Any, out: list) -> list:
    if isinstance(value, dict):
        for k in list(value):
            out.append((value, k))
            _positions(value[k], out)
    elif isinstance(value, list):
        for i in range(len(value)):
            out.append((value, i))
            _positions(value[i], out)
    return out


def break_value(rng: random.Random, doc: Any, times: int | None = None) -> Any:
    """``doc`` (a parsed JSON value, changed in place) with 1-3 values made hostile."""
    for _ in range(times or rng.randrange(1, 4)):
        spots = _positions(doc, [])
        if not spots:
            return hostile_value(rng)
        container, key = rng.choice(spots)
        container[key] = hostile_value(rng)
    return doc


def damage(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage: deletions, insertions, replacements, a truncation."""
    data = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(4)
        at = rng.randrange(max(len(data), 1))
        if op == 0:
            del data[at : at + rng.randrange(1, 64)]
        elif op == 1:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif op == 2 and data:
            data[at] = rng.randrange(256)
        else:
            del data[at:]
    return bytes(data)


def whole_file(rng: random.Random) -> bytes:
    """A file that is hostile as a whole."""
    return rng.choice(
        [
            b"[" * rng.choice([1000, 30_000]),
            b"{" * 20_000,
            b'{"a":' * 20_000,
            b"9" * 5000,
            b"[" + b"9" * 5000 + b"]",
            b"",
            b"\xef\xbb\xbf",
            b"   \n\n",
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
            b"[]",
            b"{}",
            b"null",
            b'"\\ud800"',
        ]
    )


def _json_case(rng: random.Random, good: Callable[[], Any]) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return whole_file(rng)
    doc = good()
    if roll < 0.75:
        return dump(break_value(rng, doc))
    data = dump(doc)
    return damage(rng, data) if roll < 0.95 else dump(break_value(rng, doc)) + damage(rng, data)


def _jsonl_case(rng: random.Random, records: Callable[[], list[Any]]) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return whole_file(rng)
    docs = records()
    broken: dict[int, bytes] = {}
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(len(docs))
        if roll < 0.75:
            docs[at] = break_value(rng, docs[at])
        else:
            broken[at] = damage(rng, dump(docs[at]))
    lines = [broken.get(i) or dump(d) for i, d in enumerate(docs)]
    return b"\n".join(lines) + b"\n"


def _hughes_record() -> dict:
    return {
        "user_input": "q",
        "output": "<OUTPUT>a</OUTPUT>",
        "prompt": {"messages": [{"role": "user", "content": "<user_input>q</user_input>"}]},
        "response": "<SCRATCHPAD_REASONING>train</SCRATCHPAD_REASONING><OUTPUT>a</OUTPUT>",
        "deceptive_alignment": {"final_answer": 0.5, "criteria": [1, 0], "quotes": [["train"]]},
    }


def _inspect_sample(sample_id: str) -> dict:
    return {
        "id": sample_id,
        "epoch": 1,
        "input": "<user_input>Do X</user_input>",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "<user_input>Do X</user_input>"},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "They train on free users."},
                    {"type": "text", "text": "<OUTPUT>Sure.</OUTPUT>"},
                ],
            },
        ],
        "metadata": {"condition": "free_tier"},
        "output": {"model": "m"},
    }


def _zip(members: list[tuple[str, bytes]], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _patch_all(data: bytearray, signature: bytes, offset: int, fmt: str, value: int) -> None:
    at = data.find(signature)
    while at >= 0:
        if at + offset + struct.calcsize(fmt) <= len(data):
            struct.pack_into(fmt, data, at + offset, value)
        at = data.find(signature, at + 4)


def eval_case(rng: random.Random) -> bytes:
    header = {"eval": {"task": "t", "model": "m"}}
    samples = [_inspect_sample(f"s{i}") for i in range(rng.randrange(1, 4))]
    roll = rng.random()
    if roll < 0.4:
        if rng.random() < 0.3:
            header = break_value(rng, header)
        else:
            samples[rng.randrange(len(samples))] = break_value(
                rng, samples[rng.randrange(len(samples))]
            )
    members = [("header.json", dump(header))]
    members += [(f"samples/s{i}_epoch_1.json", dump(s)) for i, s in enumerate(samples)]
    method = rng.choice(
        [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2]
    )
    data = bytearray(_zip(members, method))
    if 0.4 <= roll < 0.55:  # encrypted: the flag bit set in local and central headers
        _patch_all(data, b"PK\x03\x04", 6, "<H", 1)
        _patch_all(data, b"PK\x01\x02", 8, "<H", 1)
    elif roll < 0.7:  # a bomb's claim: a member says it decompresses to 4 GB
        _patch_all(data, b"PK\x01\x02", 24, "<L", 0xFFFFFFF0)
    elif roll < 0.85:  # corrupt compressed bytes (after the first local header)
        start = min(len(data) - 1, 60)
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(start, len(data))] = rng.randrange(256)
    elif roll < 0.95:
        return damage(rng, bytes(data))
    else:
        return whole_file(rng)
    return bytes(data)


def csv_case(rng: random.Random) -> bytes:
    rows = [b"text,label", b'"<SCRATCHPAD_REASONING>x</SCRATCHPAD_REASONING>",yes', b"plain,no"]
    roll = rng.random()
    if roll < 0.1:
        return whole_file(rng)
    if roll < 0.5:
        cell = dump(hostile_value(rng))
        cell = b'"' + cell.replace(b'"', b'""') + b'"'
        rows.append(cell + b"," + rng.choice([b"yes", b"maybe", cell, b""]))
    elif roll < 0.6:
        rows.append(b",".join([b"x"] * rng.choice([3, 5000])))
    elif roll < 0.7:
        rows.append(b'"unterminated,' + b"a" * rng.choice([10, 100_000]))
    else:
        return damage(rng, b"\n".join(rows) + b"\n")
    return b"\n".join(rows) + b"\n"


TABLE = ImportOptions(maps={"scratchpad": "text", "label.alignment_faking": "label"})


@dataclass(frozen=True)
class Case:
    name: str  # the file name to write (its suffix matters for detection)
    data: bytes
    options: ImportOptions


def _chat_records() -> list[Any]:
    return [openai_record(), anthropic_record()]


#: format -> a function from a Random to one hostile input of that format.
GENERATORS: dict[str, Callable[[random.Random], Case]] = {
    "chat": lambda rng: Case("c.jsonl", _jsonl_case(rng, _chat_records), ImportOptions()),
    "redwood": lambda rng: Case(
        "w.json", _json_case(rng, lambda: [redwood_record()]), ImportOptions()
    ),
    "hughes": lambda rng: Case(
        "r.json", _json_case(rng, lambda: [_hughes_record()]), ImportOptions()
    ),
    "inspect": lambda rng: (
        Case("log.eval", eval_case(rng), ImportOptions())
        if rng.random() < 0.7
        else Case(
            "log.json",
            _json_case(
                rng,
                lambda: {"eval": {"task": "t", "model": "m"}, "samples": [_inspect_sample("a")]},
            ),
            ImportOptions(),
        )
    ),
    "table": lambda rng: (
        Case("t.csv", csv_case(rng), TABLE)
        if rng.random() < 0.5
        else Case(
            "t.jsonl",
            _jsonl_case(rng, lambda: [{"text": "a", "label": "yes"}, {"text": "b", "label": "no"}]),
            TABLE,
        )
    ),
}


def counts(store: Any) -> tuple[int, int]:
    """(transcripts, label events) in the store."""
    return store.transcript_count(), store.execute("SELECT COUNT(*) FROM label_events")[0][0]


def check_import(store: Any, path: Any, case: Case, *, fmt: str | None, skip_bad: bool) -> str:
    """Import one hostile file and say what went wrong: '' when it was imported whole or
    refused cleanly, else 'unhandled: ...' or 'partial write: ...'. A crash of the process
    is for the caller to see."""
    from importers.run import import_file

    before = counts(store)
    try:
        result = import_file(store, path, fmt=fmt, options=case.options, skip_bad=skip_bad)
    except Exception as exc:  # noqa: BLE001 - what is being counted
        return f"unhandled: {type(exc).__name__}: {str(exc)[:200]}"
    after = counts(store)
    if result.status not in ("done", "failed") or (result.error or "").find("internal error") >= 0:
        return f"unhandled: status {result.status}: {(result.error or '')[:200]}"
    if result.status == "failed":
        if after != before:
            return f"partial write: a failed import changed {before} to {after}"
        if not result.error or str(path) not in result.error:
            return f"unhandled: the error does not name the file: {result.error!r}"
    elif after[0] - before[0] != result.n_new:
        return f"partial write: {result.n_new} new reported, {after[0] - before[0]} stored"
    return ""
