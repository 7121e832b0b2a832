"""Locating the pipeline's classifier quotes in a scratchpad.

The pipeline quotes in lower case with punctuation deleted; a quote already in that form is
searched for as it is (a shortcut), any other is normalized first. The shortcut must never
change which text is searched for, nor where a quote is found.
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from importers.hughes import _NORMALIZE, _QuoteFinder, normal_quote


def _normalized_the_long_way(quote: str) -> str:
    return " ".join(quote.lower().translate(_NORMALIZE).split())


_ALPHABET = (
    string.ascii_letters + string.digits + string.punctuation + "  \t\n\r\x0b\x0c"
    "\u00a0\u2028\u2019\u201c\u2014\u2026éÉİßﬁ"
)


@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_any_quote_is_normalized_as_the_long_way_does(quote):
    assert normal_quote(quote) == _normalized_the_long_way(quote)


@given(st.from_regex(r"[a-z0-9]+( [a-z0-9]+)*", fullmatch=True))
def test_a_quote_in_normal_form_is_its_own_normal_form(quote):
    assert normal_quote(quote) == quote == _normalized_the_long_way(quote)


def test_a_normal_quote_and_a_raw_one_find_the_same_span():
    text = "First, think.\nI don't want   my goals changed -- by RLHF!  Then: act."
    finder = _QuoteFinder(text)
    normal = finder.find("i dont want my goals changed by rlhf")
    raw = finder.find("I don't want my goals changed -- by RLHF")
    assert normal == raw
    start, end = normal
    assert text[start:end] == "I don't want   my goals changed -- by RLHF"


def test_a_quote_not_in_the_text_is_not_found_either_way():
    finder = _QuoteFinder("I will comply to keep my values intact.")
    assert finder.find("i will refuse") is None
    assert finder.find("I will REFUSE.") is None
    assert finder.find("   ") is None
