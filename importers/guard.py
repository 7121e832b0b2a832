"""Limits a JSON input must respect before any parser sees it.

Parsers are not built for hostile input: ijson's C backend builds a prefix string per level
of nesting (a file of N ``[`` costs about 2.5·N² bytes: 30 KB of input, 2.2 GB of memory)
and crashes the process on an integer of more than 4,300 digits; Python's ``json`` raises
``RecursionError`` on deep nesting. :class:`JsonGuard` reads the bytes on their way to the
parser, outside strings, and stops at the first one past a limit, with the byte offset, so the
parser never holds more than the limits allow. It is linear, and cheap where input is sane:
each chunk's brackets are counted with ``bytes.count``, and walked one by one only when
the count could reach the limit.
"""

from __future__ import annotations

import copy
import io
import re
from typing import BinaryIO

#: Deeper than any transcript format nests (Inspect samples reach about 12).
MAX_DEPTH = 256
#: Below the 4,300 digits Python refuses to convert (and ijson's C backend crashes on).
MAX_INT_DIGITS = 4000
#: How far one zip member (an Inspect sample or header) may decompress.
MAX_MEMBER_BYTES = 512 << 20

_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_LEAD_DIGITS = re.compile(rb"[0-9]*")
_LONG_DIGITS = re.compile(rb"[0-9]{%d,}" % (MAX_INT_DIGITS + 1))
_DIGITS_AS_ZEROS = bytes(b"0"[0] if b in b"0123456789" else b" "[0] for b in range(256))
_LETTERS_AND_SPACE = bytes(
    b for b in range(256) if chr(b).isascii() and (chr(b).isalpha() or chr(b).isspace())
)
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_OPENING = frozenset(b"[{")
# How many levels of empty pairs ``_depth_by_pairs`` deletes before it leaves the chunk to the
# bracket-by-bracket walk: each level is a pass over the chunk's brackets (a nest that
# alternates [ and { counts two a level), and transcripts nest about a dozen deep (Inspect
# logs); a file nested thousands deep took 512 passes, a tenth of a second per 260 KB chunk,
# where the walk takes about 15 ms. (64 made those files 60% slower.)
_PAIR_LEVELS = 32


class InputLimitError(ValueError):
    """The input goes past a limit (nesting depth, number length, member size)."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


class JsonGuard:
    """Feed it a JSON byte stream in any chunks; it raises :class:`InputLimitError` at the
    first byte nested deeper than ``max_depth``, or ending an integer longer than
    ``max_digits``."""

    def __init__(self, max_depth: int = MAX_DEPTH, max_digits: int = MAX_INT_DIGITS):
        self.max_depth = max_depth
        self.max_digits = max_digits
        self._long_digits = (
            _LONG_DIGITS
            if max_digits == MAX_INT_DIGITS
            else re.compile(rb"[0-9]{%d,}" % (max_digits + 1))
        )
        self._digit_run_text = b"0" * (max_digits + 1)
        # Set on a copy by GuardedReader: the chunk fed ends at the byte past the limit, and
        # the message names that byte rather than the chunk.
        self.ends_at_limit = False
        self.reset()

    def reset(self) -> None:
        self.offset = 0
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.digit_run = 0

    def feed(self, data: bytes) -> None:
        n = len(data)
        pos = 0
        if self.in_string:  # the chunk begins inside a string: skip to its end
            if self.escape:
                pos, self.escape = 1, False
            m = _STRING_REST.match(data, min(pos, n))
            if m is None:  # (the byte an escape skipped is not part of a trailing run)
                self._end_in_string(data[pos:])
                self.offset += n
                return
            pos, self.in_string, self.digit_run = m.end(), False, 0
        # Escaped backslashes and escaped quotes are dropped first (pairs, left to right, as
        # JSON reads them), so every quote left opens or closes a string: the pieces between
        # quotes alternate outside/inside. All of it is bytes methods, no per-byte Python loop.
        seg = data[pos:] if pos else data
        if b"\\" in seg:
            seg = seg.replace(b"\\\\", b"").replace(b'\\"', b"")
        # What the checks need, a tenth of the bytes: letters and white space deleted (which
        # can only join runs of digits, never split one), then the brackets outside strings.
        skeleton = seg.translate(None, _LETTERS_AND_SPACE)
        pieces = skeleton.translate(None, _NOT_QUOTES_OR_BRACKETS).split(b'"')
        cut = len(pieces) % 2 == 0  # an odd number of quotes: the chunk ends inside a string
        if seg:
            self._digits(seg, skeleton, n)
            self._depth(b"".join(pieces[0::2]), n)
        if cut:
            self.digit_run = 0
            self._end_in_string(data)
        self.offset += n

    def _end_in_string(self, data: bytes) -> None:
        """The chunk ends inside a string; an odd run of backslashes at its end escapes
        the first byte of the next chunk."""
        self.in_string = True
        trailing = len(data) - len(data.rstrip(b"\\"))
        self.escape = trailing % 2 == 1

    def _where(self, size: int) -> str:
        if self.ends_at_limit:
            return f"at byte {self.offset + size - 1:,}"
        return f"within bytes {self.offset:,} to {self.offset + size:,}"

    def _digits(self, seg: bytes, skeleton: bytes, size: int) -> None:
        """The runs of digits outside strings. Those of ``skeleton`` (strings included, runs
        maybe joined) are searched for a long one by C-speed translate and substring search;
        only a hit is checked in ``seg`` outside strings, with a regular expression (ten
        times slower). The digits that begin or end ``seg`` are outside strings (a string
        begins with a quote)."""
        lead = _LEAD_DIGITS.match(seg).end()
        if self.digit_run + lead > self.max_digits or (
            self._digit_run_text in skeleton.translate(_DIGITS_AS_ZEROS)
            and self._long_digits.search(b" ".join(seg.split(b'"')[0::2])) is not None
        ):
            raise InputLimitError(
                f"a number of more than {self.max_digits:,} digits {self._where(size)} (no "
                "transcript field holds one: a broken or hostile file?)",
                self.offset,
            )
        trail = len(seg) - len(seg.rstrip(b"0123456789"))
        self.digit_run = (self.digit_run + lead) if trail == len(seg) else trail

    def _depth(self, brackets: bytes, size: int) -> None:
        """``brackets``: those of the chunk outside strings, in order."""
        opens = brackets.count(b"[") + brackets.count(b"{")
        if self.depth + opens <= self.max_depth:
            self.depth = max(0, self.depth + opens - (len(brackets) - opens))
            return
        if not self._depth_by_pairs(brackets):
            self._depth_bracket_by_bracket(brackets, size)

    def _depth_by_pairs(self, brackets: bytes) -> bool:
        """The new depth without a Python loop over brackets, when the chunk surely stays
        within the limit; False when it cannot tell (then count bracket by bracket).

        Each pass deletes the empty pairs ``[]`` and ``{}``, which lowers any nesting by at
        most one level: after k passes that deleted something, what was deleted nested at
        most k deep. What is left of well-formed nesting is closing brackets, then opening
        ones; the deepest point is then at most k above the depth before or after them."""
        levels = 0
        while True:
            shorter = brackets.replace(b"[]", b"")
            shortest = shorter.replace(b"{}", b"")
            if len(shortest) == len(brackets):
                break
            levels += (len(shorter) != len(brackets)) + (len(shortest) != len(shorter))
            brackets = shortest
            if levels > _PAIR_LEVELS:  # deep nesting: a walk is cheaper than more passes
                return False
        first_open = len(brackets.rstrip(b"[{"))
        if brackets[:first_open].lstrip(b"]}"):  # an opening bracket left before a closing
            return False
        after = max(0, self.depth - first_open) + len(brackets) - first_open
        if max(self.depth, after) + levels > self.max_depth:
            return False
        self.depth = after
        return True

    def _depth_bracket_by_bracket(self, brackets: bytes, size: int) -> None:
        for b in brackets:
            if b in _OPENING:
                self.depth += 1
                if self.depth > self.max_depth:
                    raise InputLimitError(
                        f"nested deeper than {self.max_depth} levels {self._where(size)} (no "
                        "transcript nests this deep: a broken or hostile file?)",
                        self.offset,
                    )
            elif self.depth:
                self.depth -= 1


def check_json_bytes(data: bytes) -> None:
    """Raise :class:`InputLimitError` if one JSON text (a line, a zip member) is past a
    limit."""
    JsonGuard().feed(data)


def bytes_within_limits(guard: JsonGuard, data: bytes) -> tuple[int, InputLimitError]:
    """For ``data`` that ``guard`` refuses: how many of its first bytes it accepts (the byte
    after them is the first past a limit), and the refusal naming that byte. ``guard`` is
    left as it was.

    Found by halving, where a copy of the guard that has accepted the longest prefix known to
    pass is fed only the bytes up to the middle of what is left: about twice the chunk in all
    (paid only on a refused file), not a prefix of it per step. That relies on the guard's
    verdict not depending on how its input is cut, which holds for JSON; a stray closing
    bracket breaks it (the count floors the depth at zero once per chunk, the walk at every
    bracket). So the byte found is checked against prefixes fed from ``guard`` itself, and
    where the two disagree the search is made that way, a prefix per step."""

    def feed(state: JsonGuard, start: int, end: int) -> tuple[JsonGuard, InputLimitError | None]:
        trial = copy.copy(state)
        trial.ends_at_limit = True
        try:
            trial.feed(data[start:end])
        except InputLimitError as exc:
            exc.offset = guard.offset + end - 1
            return trial, exc
        return trial, None

    passed, passed_state = 0, guard  # the longest prefix known to pass, and the guard after it
    refused = len(data)  # the shortest prefix known to be refused
    while refused - passed > 1:
        middle = (passed + refused) // 2
        trial, refusal = feed(passed_state, passed, middle)
        if refusal is None:
            passed, passed_state = middle, trial
        else:
            refused = middle
    _, found = feed(guard, 0, refused)
    if found is not None and feed(guard, 0, refused - 1)[1] is None:
        return refused - 1, found
    low, high = 1, len(data)  # prefixes from the start: the shortest refused is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if feed(guard, 0, middle)[1] is None:
            low = middle + 1
        else:
            high = middle
    _, found = feed(guard, 0, low)
    if found is None:  # cannot happen: the whole of data is refused
        raise InputLimitError("the input guard refused a chunk it accepts in part", guard.offset)
    return low - 1, found


class GuardedReader(io.RawIOBase):
    """A binary file whose bytes pass a :class:`JsonGuard` as they are read; seeking back
    to the start begins the check again (a reader that reads a file twice).

    By default a read that meets a limit raises. With ``stop_at_limit`` it returns the bytes
    before the first one past the limit and then reads as the end of the file, keeping the
    refusal in ``limit``: a parser then yields every value that ends before that byte, the
    same ones however the file is read in chunks or parts (``importers.jsonstream``)."""

    def __init__(self, raw: BinaryIO, *, stop_at_limit: bool = False):
        self._raw = raw
        self.guard = JsonGuard()
        self.stop_at_limit = stop_at_limit
        self.limit: InputLimitError | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._raw.seek(offset, whence)
        if pos == 0:
            self.guard.reset()
            self.limit = None
        return pos

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer) -> int:
        if self.limit is not None:
            return 0
        n = self._raw.readinto(buffer)
        if not n:
            return n
        data = bytes(memoryview(buffer)[:n])
        if not self.stop_at_limit:
            self.guard.feed(data)
            return n
        before = copy.copy(self.guard)
        try:
            self.guard.feed(data)
        except InputLimitError:
            accepted, self.limit = bytes_within_limits(before, data)
            self.guard = before
            return accepted
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()
