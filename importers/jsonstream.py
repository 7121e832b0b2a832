"""Streaming JSON containers: arrays, concatenated objects and JSON Lines, one record at a time.

Every reader that takes JSON goes through here, so a multi-gigabyte array costs the memory of
its largest record, and a syntax error is reported with the record index and byte offset.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importers.base import (
    IJSON_BUFFER,
    ImportOptions,
    Rejected,
    describe_json_error,
    open_binary,
    type_name,
)
from importers.guard import InputLimitError, check_json_bytes


@dataclass
class RawRecord:
    index: int
    value: Any
    line: int | None = None


def _first_byte(f) -> bytes:
    while True:
        chunk = f.read(4096)
        if not chunk:
            return b""
        stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
        if stripped:
            return stripped[:1]


def _parser_message(exc: Exception) -> str:
    """The parser's own words, without the yajl's "(right here) ------^" pointer."""
    text = " ".join(str(exc).split())
    text = re.sub(r"\s*\(right here\)\s*-*\^?", "", text).strip()
    return text.removeprefix("parse error: ")[:300]


def _syntax_reason(exc: Exception, index: int) -> str:
    if isinstance(exc, InputLimitError):
        return f"record {index}: {exc}; nothing from this point on is read"
    text = " ".join(str(exc).split())
    if "premature EOF" in text or "Incomplete JSON" in text:
        done = {0: "no record is whole", 1: "record 0 is whole"}.get(
            index, f"records 0 to {index - 1} are whole"
        )
        return (
            f"the JSON ends early, inside record {index}: the file is truncated (cut off while "
            f"being written or copied?); {done}, and nothing from record {index} on can be read"
        )
    if "UTF8" in text or "UTF-8" in text or "utf-8" in text:
        what = f"invalid UTF-8 in record {index}"
    else:
        what = f"invalid JSON in record {index}"
    return f"{what} ({_parser_message(exc)}); nothing after this point can be read"


def iter_records(path: Path, options: ImportOptions) -> Iterator[RawRecord | Rejected]:
    """Each top-level record of ``path``: array items, concatenated values, or JSONL lines.

    With ``options.shard`` = (k, n), only records k, k + n, k + 2n... (and fatal rejections);
    with ``options.span``, only the array items between two cuts (``array_cuts``); with
    ``options.first_record``, none before that index (fatal rejections always)."""
    items = _iter_span(path, options) if options.span is not None else _iter_all(path, options)
    if options.shard is not None:
        items = _sharded(items, *options.shard)
    if options.first_record:
        items = _from_index(items, options.first_record)
    return items


def _sharded(items: Iterator[RawRecord | Rejected], k: int, n: int) -> Iterator[Any]:
    for item in items:
        if item.index is None or getattr(item, "fatal", False) or item.index % n == k:
            yield item


def _from_index(items: Iterator[RawRecord | Rejected], first: int) -> Iterator[Any]:
    for item in items:
        if item.index is None or getattr(item, "fatal", False) or item.index >= first:
            yield item


# -- cutting a JSON array into parts that separate processes can read -------------------------

# How far into a file its first record must begin for array_cuts to see how records are laid out.
_HEAD_BYTES = 64 * 1024
_CUT_SCAN_CHUNK = 1 << 20


def array_cuts(path: Path, parts: int) -> list[tuple[int, int]] | None:
    """Where a JSON array of objects, written one record per line group (``json.dump`` with
    ``indent``, as the alignment-faking pipeline writes its results), can be cut into about
    ``parts`` equal parts: for each cut, the byte offset of a top-level comma and the number
    of records before it. None where the layout gives no safe guess (compact JSON, a byte
    order mark, a first item that is not an object, a file too small).

    The guess: the text between ``[`` and the first ``{`` holds a line break (so it cannot
    occur inside a JSON string, which holds none) and separates every top-level record from
    the next after a comma. It is only a guess: a reader of a part must confirm it, by
    parsing its part to the end as a whole array and finding as many records as predicted
    (``importers.prefetch`` does, and reads the file whole where it does not)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
            m = re.match(rb"[ \t\r\n]*\[([ \t\r\n]*)\{", head)
            if parts < 2 or m is None or b"\n" not in m.group(1):
                return None
            separator = b"," + m.group(1) + b"{"
            targets = [size * k // parts for k in range(1, parts)]
            cuts: list[tuple[int, int]] = []
            seen = 0  # separators so far: the records before the last one found
            offset, carry = len(head), b""
            data = head
            while targets:
                base = offset - len(data)
                at = data.find(separator)
                while at >= 0 and targets:
                    seen += 1
                    if base + at >= targets[0]:
                        cuts.append((base + at, seen))
                        targets.pop(0)
                    at = data.find(separator, at + 1)
                # A separator cut in two by the chunk's end is found in the next one.
                carry = data[len(data) - len(separator) + 1 :]
                chunk = f.read(_CUT_SCAN_CHUNK)
                if not chunk:
                    break
                offset += len(chunk)
                data = carry + chunk
    except OSError:
        return None
    return cuts or None


class _Span(io.RawIOBase):
    """The bytes of one part of a JSON array, made a whole array: ``[`` in place of the
    comma before it, ``]`` in place of the comma after it. ``tell`` is the file's offset of
    the next byte, so that positions reported while reading the part are the file's."""

    def __init__(self, raw, start: int, end: int):
        self._raw = raw
        self._prefix = b"[" if start > 0 else b""
        self._suffix = b"]" if end < os.fstat(raw.fileno()).st_size else b""
        self._start = start - len(self._prefix)
        self._end = end
        self._pos = self._start
        raw.seek(start)

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        first = self._start + len(self._prefix)
        if self._pos < first:
            n = min(len(view), first - self._pos)
            view[:n] = self._prefix[self._pos - self._start : self._pos - self._start + n]
        elif self._pos < self._end:
            n = self._raw.readinto(view[: min(len(view), self._end - self._pos)]) or 0
            if n == 0:  # the file got shorter than it was
                return 0
        elif self._pos < self._end + len(self._suffix):
            n = min(len(view), self._end + len(self._suffix) - self._pos)
            at = self._pos - self._end
            view[:n] = self._suffix[at : at + n]
        else:
            return 0
        self._pos += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _iter_span(path: Path, options: ImportOptions) -> Iterator[RawRecord | Rejected]:
    start, end, first_index = options.span
    with open_binary(
        path, options, json=True, stop_at_limit=True, part=lambda raw: _Span(raw, start, end)
    ) as f:
        yield from _iter_ijson(f, "item", first_index=first_index)


def _iter_all(path: Path, options: ImportOptions) -> Iterator[RawRecord | Rejected]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from iter_lines(path, options)
        return
    with open_binary(path, options, json=True, stop_at_limit=True) as f:
        try:
            first = _first_byte(f)
        except InputLimitError as exc:  # within the first bytes: no record can be read
            yield Rejected(_syntax_reason(exc, 0), index=0, fatal=True, byte_offset=exc.offset)
            return
        f.seek(0)
        if not first:
            yield Rejected("the file is empty (no JSON records)", fatal=True, kind="empty")
            return
        if first == b"[":
            yield from _iter_ijson(f, "item")
        elif first == b"{":
            yield from _iter_ijson(f, "", multiple=True)
        else:
            yield Rejected(
                f"not JSON: the file starts with {first!r}, expected '[' or '{{'",
                fatal=True,
                byte_offset=0,
                kind="file",
            )


def _iter_ijson(
    f, prefix: str, multiple: bool = False, first_index: int = 0
) -> Iterator[RawRecord | Rejected]:
    import ijson

    index = first_index
    guard = getattr(f, "json_guard", None)
    try:
        for value in ijson.items(
            f, prefix, use_float=True, multiple_values=multiple, buf_size=IJSON_BUFFER
        ):
            yield RawRecord(index, value)
            index += 1
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        # The guard ends the input just before a byte past a limit: that, not the end the
        # parser met, is the reason, and the byte is where reading stopped.
        limit = None if guard is None else guard.limit
        reason = _syntax_reason(exc if limit is None else limit, index)
        offset = f.tell() if limit is None else limit.offset
        yield Rejected(reason, index=index, fatal=True, byte_offset=offset)
        return
    if guard is not None and guard.limit is not None:  # past the values (trailing bytes)
        limit = guard.limit
        yield Rejected(
            _syntax_reason(limit, index), index=index, fatal=True, byte_offset=limit.offset
        )
        return
    if index == first_index == 0 and prefix == "item":
        yield Rejected("the JSON array is empty (no records)", fatal=True, kind="empty")


def iter_lines(path: Path, options: ImportOptions) -> Iterator[RawRecord | Rejected]:
    """JSON Lines: a bad line is one rejection and reading goes on with the next."""
    index = 0
    seen_any = False
    with open_binary(path, options) as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            seen_any = True
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rejected(
                    f"invalid UTF-8 at byte {exc.start} of the line ({exc.reason})",
                    index=index,
                    line=line_no,
                    raw=raw[:2000].decode("utf-8", "replace"),
                )
                index += 1
                continue
            try:
                check_json_bytes(raw)
            except InputLimitError as exc:
                yield Rejected(
                    re.sub(r"at byte ([\d,]+)", r"at byte \1 of the line", str(exc)),
                    index=index,
                    line=line_no,
                    raw=text[:2000],
                )
                index += 1
                continue
            try:
                text = text.rstrip("\r\n")  # a cut string then reads as unterminated
                value = json.loads(text)
            except (ValueError, RecursionError) as exc:
                reason = (
                    describe_json_error(exc, text)
                    if isinstance(exc, json.JSONDecodeError)
                    else f"{exc}" or "nested too deeply"
                )
                yield Rejected(
                    f"invalid JSON: {reason}",
                    index=index,
                    line=line_no,
                    raw=text.rstrip("\r\n"),
                )
                index += 1
                continue
            yield RawRecord(index, value, line=line_no)
            index += 1
    if not seen_any:
        yield Rejected("the file is empty (no JSON lines)", fatal=True, kind="empty")


def expect_object(raw: RawRecord) -> dict[str, Any] | Rejected:
    if isinstance(raw.value, dict):
        return raw.value
    return Rejected(
        f"a record should be a JSON object, found {type_name(raw.value)}",
        index=raw.index,
        line=raw.line,
        raw=raw.value,
    )
