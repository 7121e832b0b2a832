"""The input guard reaches the same verdict however the bytes are cut into chunks: strings with
runs of backslashes, escaped quotes and brackets inside them, cut anywhere (even between a
backslash and the byte it escapes, or in a chunk that is only backslashes)."""

from __future__ import annotations

import copy
import io
import json
import random

import pytest

from importers.guard import GuardedReader, InputLimitError, JsonGuard, bytes_within_limits

DOCUMENTS = [
    ["\\", '\\"', [], {}],
    {"k\\": ["\\\\\\", 'q"x', "[[[{{{", {"]}": '\\\\"'}], "n": 123456789},
    [[[[[[["\\\\\\\\" * 3, '"' * 4]]]]]]],
    {"a": "x" * 50 + "\\" * 7 + '"', "b": [[["}}}]]]"]]]},
]


def verdict(data: bytes, cuts: list[int], max_depth: int, max_digits: int):
    guard = JsonGuard(max_depth=max_depth, max_digits=max_digits)
    last = 0
    try:
        for cut in [*cuts, len(data)]:
            guard.feed(data[last:cut])
            last = cut
    except InputLimitError:  # (which limit is met first may depend on the cuts)
        return ("refused",)
    return ("ok", guard.depth, guard.in_string)


@pytest.mark.parametrize("doc", DOCUMENTS)
@pytest.mark.parametrize("max_depth", [3, 6, 256])
def test_every_cut_and_byte_by_byte_agree_with_one_chunk(doc, max_depth):
    data = json.dumps(doc).encode()
    whole = verdict(data, [], max_depth, 8)
    for cut in range(len(data) + 1):
        assert verdict(data, [cut], max_depth, 8) == whole, cut
    assert verdict(data, list(range(1, len(data))), max_depth, 8) == whole


def _random_document(rng: random.Random, deepest: int, leaves: list, depth: int = 0):
    """Nested lists and objects of ``leaves``, with keys holding quotes, backslashes and
    brackets; nothing nests below ``deepest``."""
    r = rng.random()
    if depth > deepest or r < 0.3:
        return rng.choice(leaves)
    if r < 0.65:
        return [_random_document(rng, deepest, leaves, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(['k"', "k\\", "["]) + str(i): _random_document(rng, deepest, leaves, depth + 1)
        for i in range(3)
    }


def test_random_documents_and_cuts_agree():
    rng = random.Random(3)
    leaves = ["a\\b", 'q"x', "[{", "}]", "\\", '\\"', 12345678901, '\\\\"']
    refused = 0
    for _ in range(2000):
        data = json.dumps(_random_document(rng, 7, leaves)).encode()
        cuts = sorted(rng.sample(range(len(data) + 1), min(5, len(data) + 1)))
        whole = verdict(data, [], 6, 10)
        refused += whole[0] == "refused"
        assert verdict(data, cuts, 6, 10) == whole, (data, cuts)
    assert 0 < refused < 2000  # both verdicts were exercised


def test_bracket_runs_in_one_chunk_agree_with_byte_by_byte():
    """Long runs of brackets, well or badly nested (mismatched pairs), reach the same verdict
    and depth in one chunk (counted by deleting pairs) as byte by byte (counted one bracket
    at a time). (A closer with nothing open is left out: a chunk that stays within the limit
    is counted as a whole, not clamped at zero at each bracket.)"""
    rng = random.Random(5)
    verdicts = set()
    for _ in range(3000):
        stack, parts = [], []
        for _ in range(rng.randint(1, 60)):
            r = rng.random()
            if r < (0.45 if len(stack) < 5 else 0.1):  # mostly within the limit, often not
                stack.append(rng.choice("[{"))
                parts.append(stack[-1])
            elif r < 0.9 and stack:
                closer = {"[": "]", "{": "}"}[stack.pop()]
                parts.append(closer if rng.random() < 0.97 else {"]": "}", "}": "]"}[closer])
            else:
                parts.append(rng.choice(["[]", "{}", "[}", ' "[[" ', ' "]}" ', "7"]))
        data = "".join(parts).encode()
        whole = verdict(data, [], 6, 10)
        verdicts.add(whole[0])
        assert verdict(data, list(range(1, len(data))), 6, 10) == whole, data
    assert verdicts == {"ok", "refused"}


def _read_to_the_limit(data: bytes, chunk: int, **limits) -> tuple[bytes, int | None]:
    reader = GuardedReader(io.BytesIO(data), stop_at_limit=True)
    reader.guard = JsonGuard(**limits)
    out, buffer = bytearray(), bytearray(chunk)
    while n := reader.readinto(buffer):
        out += buffer[:n]
    return bytes(out), None if reader.limit is None else reader.limit.offset


@pytest.mark.parametrize(
    ("data", "limits", "bad"),
    [
        (b'{"a": "[[[", "b": [[[[1]]]], "c": 2}', {"max_depth": 4}, b'{"a": "[[[", "b": [[[['),
        (b'[1, "1234567", 12345678, 3]', {"max_digits": 7}, b'[1, "1234567", 12345678'),
        (b'["\\\\", "\\"[[", [[[[]]]]]', {"max_depth": 3}, b'["\\\\", "\\"[[", [[['),
    ],
)
def test_stopping_at_a_limit_ends_at_the_same_byte_however_the_input_is_read(data, limits, bad):
    """With ``stop_at_limit`` the reader passes on every byte before the first one past a
    limit, then reads as the end: the same bytes whatever the size of its reads."""
    for chunk in range(1, len(data) + 1):
        passed, offset = _read_to_the_limit(data, chunk, **limits)
        assert (passed, offset) == (bad[:-1], len(bad) - 1), chunk
    assert _read_to_the_limit(b"[[1]]", 2, max_depth=4) == (b"[[1]]", None)


def _first_too_deep(data: bytes, max_depth: int) -> int | None:
    """The offset of the first bracket past ``max_depth``, by the plain rule (no strings here)."""
    depth = 0
    for at, byte in enumerate(data):
        if byte in b"[{":
            depth += 1
            if depth > max_depth:
                return at
        elif byte in b"]}":
            depth -= 1
    return None


@pytest.mark.parametrize("depth", [31, 33, 100, 256, 257, 2000])
def test_nesting_past_the_pair_passes_is_walked_to_the_exact_byte(depth):
    # Many sibling pairs first, so that counting opening brackets cannot clear the chunk, then
    # one nest: deeper than the pair-deleting passes go, the guard walks bracket by bracket.
    data = b"[" + b"[]," * 300 + b"[" * (depth - 1) + b"]" * (depth - 1) + b"]"
    expected = _first_too_deep(data, 256)
    guard = JsonGuard()
    try:
        guard.feed(data)
    except InputLimitError:
        assert expected is not None
        accepted, refusal = bytes_within_limits(JsonGuard(), data)
        assert accepted == expected and refusal.offset == expected
        assert f"at byte {expected:,}" in str(refusal)
    else:
        assert expected is None and guard.depth == 0


def test_the_exact_byte_search_finds_what_feeding_byte_by_byte_finds():
    """``bytes_within_limits`` (halving, carrying the guard's state forward) names the same
    first byte past a limit as feeding the input one byte at a time, also for a guard that
    has already accepted some of the input."""
    rng = random.Random(11)
    leaves = ["a\\b", 'q"x', "[{", "\\", '\\"', 1234567890123, 7, '\\\\"']
    searched = 0
    for _ in range(1500):
        data = json.dumps(_random_document(rng, 9, leaves)).encode()
        one_by_one = JsonGuard(max_depth=6, max_digits=10)
        first_bad = None
        for at in range(len(data)):
            try:
                one_by_one.feed(data[at : at + 1])
            except InputLimitError:
                first_bad = at
                break
        if first_bad is None:
            continue
        split = rng.randint(0, first_bad)  # the guard has accepted data[:split] already
        guard = JsonGuard(max_depth=6, max_digits=10)
        guard.feed(data[:split])
        before = (guard.offset, guard.depth, guard.in_string, guard.escape, guard.digit_run)
        accepted, refusal = bytes_within_limits(guard, data[split:])
        assert split + accepted == first_bad == refusal.offset, data
        assert f"at byte {first_bad:,}" in str(refusal)
        assert (guard.offset, guard.depth, guard.in_string, guard.escape, guard.digit_run) == before
        searched += 1
    assert searched > 300


def _shortest_refused_prefix(guard: JsonGuard, data: bytes) -> int | None:
    """The length of the shortest prefix of ``data`` that a copy of ``guard`` refuses."""
    for end in range(1, len(data) + 1):
        trial = copy.copy(guard)
        try:
            trial.feed(data[:end])
        except InputLimitError:
            return end
    return None


def test_the_exact_byte_search_holds_with_stray_closing_brackets():
    """A closing bracket with nothing open (not JSON, but a file may hold anything) makes the
    guard's count depend on where the input is cut; the search still names the end of the
    shortest prefix the guard refuses, as a search over prefixes from its state would."""
    assert bytes_within_limits(JsonGuard(max_depth=2), b"][[[")[0] == 3
    rng = random.Random(17)
    searched = 0
    for _ in range(3000):
        data = "".join(
            rng.choice(["[", "{", "]", "}", "[]", ' "]" ', '"\\\\"', "7", ","])
            for _ in range(rng.randint(1, 40))
        ).encode()
        guard = JsonGuard(max_depth=3, max_digits=4)
        try:
            guard.feed(data[: rng.randint(0, len(data) // 2)])
        except InputLimitError:
            continue
        end = _shortest_refused_prefix(guard, data)
        if end is None:
            continue
        accepted, refusal = bytes_within_limits(guard, data)
        assert accepted == end - 1, data
        assert refusal.offset == guard.offset + end - 1
        searched += 1
    assert searched > 500


def test_records_before_a_stray_closer_and_a_deep_nest_are_read(tmp_path):
    """Trailing garbage after the array that nests too deep: the records are kept and the
    refusal names the byte past the limit (not "a chunk it accepts in part")."""
    from importers.base import ImportOptions
    from importers.jsonstream import iter_records

    path = tmp_path / "r.json"
    path.write_bytes(b'[{"a": 1}, {"b": 2}]][' + b"[" * 256)
    items = list(iter_records(path, ImportOptions()))
    assert [getattr(i, "value", None) for i in items[:2]] == [{"a": 1}, {"b": 2}]
    # Depth 1 at the '[' after the stray ']' (byte 21), 257 at byte 21 + 256.
    assert "nested deeper than 256 levels at byte 277" in items[-1].reason
