"""Rendering a rubric's classifier prompt and reading the classifier's answer back.

The prompt has two parts. The system part depends only on the rubric (its instructions, every
category's definition, rules and examples, and the answer format), so it is long and identical
for every transcript: providers can cache it. The user part is the rubric's template filled in
with one transcript, and is the only part that changes between items.

The answer format is one tag per field named after the field id, plus ``<quote>`` tags. A
response that does not follow it raises :class:`ParseError` with the reason; nothing is guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rubrics.model import Field, Rubric

_PLACEHOLDER = re.compile(r"\{(user_input|scratchpad|output)\}")
_QUOTE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL | re.IGNORECASE)
_NONE_WORDS = {"", "none", "none.", "n/a", "[]"}


class ParseError(ValueError):
    """A classifier response that does not answer in the rubric's format."""


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


@dataclass(frozen=True)
class ParsedAnswer:
    """One sample's answer: a value per field (a list for multi fields) and its quotes."""

    answers: dict[str, Any]
    quotes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"answers": self.answers, "quotes": self.quotes}


def _format_line(f: Field) -> str:
    ids = ", ".join(f.category_ids)
    if f.kind == "multi":
        return f"<{f.id}>none, or comma-separated ids from: {ids}</{f.id}>"
    return f"<{f.id}>one of: {ids}</{f.id}>"


def render_system(rubric: Rubric) -> str:
    """The fixed part of the prompt: the same text for every transcript of this rubric."""
    if rubric.classifier is None:
        raise ValueError(f"rubric {rubric.id!r} has no [classifier] section")
    parts = [rubric.classifier.system.strip(), "", "# The rubric", "", rubric.description.strip()]
    for f in rubric.fields:
        kind = {
            "binary": "choose exactly one",
            "single": "choose exactly one",
            "ordinal": "choose exactly one (ordered from least to most)",
            "multi": "choose every category that applies, or none",
        }[f.kind]
        parts += ["", f"## Field `{f.id}`: {f.question.strip()} ({kind})"]
        for c in f.categories:
            parts += ["", f"### `{c.id}` ({c.label})", " ".join(c.definition.split())]
            parts += [f"- Rule: {rule}" for rule in c.rules]
            parts += [f"- Example: {ex}" for ex in c.examples]
    parts += [
        "",
        "# How to answer",
        "",
        "Quote the passages of the transcript that decide your answer, each inside "
        "<quote></quote> tags, copied exactly. Then give one tag per field, with category ids "
        "exactly as written above and nothing else inside the tag:",
        "",
        *(_format_line(f) for f in rubric.fields),
    ]
    return "\n".join(parts).strip() + "\n"


def render_user(rubric: Rubric, transcript: Mapping[str, Any]) -> str:
    """The rubric's template filled with one transcript's text (taken literally)."""
    if rubric.classifier is None:
        raise ValueError(f"rubric {rubric.id!r} has no [classifier] section")
    values = {k: str(transcript.get(k) or "") for k in ("user_input", "scratchpad", "output")}
    # One pass, so a transcript that itself contains "{output}" is never substituted into.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], rubric.classifier.template).strip()


def render_prompt(rubric: Rubric, transcript: Mapping[str, Any]) -> RenderedPrompt:
    return RenderedPrompt(render_system(rubric), render_user(rubric, transcript))


def _tags(text: str, tag: str) -> list[str]:
    return re.findall(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", text, re.DOTALL)


def _clean(token: str) -> str:
    return token.strip().strip("`'\"*").strip().rstrip(".").strip().lower()


def parse_value(f: Field, raw: str) -> Any:
    """A field's value from the text inside its tag, validated against its categories."""
    if f.kind == "multi":
        text = _clean(raw)
        if text in _NONE_WORDS:
            return []
        tokens = [_clean(t) for t in re.split(r"[,\n;]+", text)]
        tokens = [t for t in tokens if t]
        unknown = [t for t in tokens if t not in f.category_ids]
        if unknown:
            raise ParseError(
                f"<{f.id}> has unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; expected ids from {', '.join(f.category_ids)}"
                " or none"
            )
        return sorted(set(tokens))
    value = _clean(raw)
    if value not in f.category_ids:
        shown = raw.strip()[:60]
        raise ParseError(f"<{f.id}> is {shown!r}; expected one of {', '.join(f.category_ids)}")
    return value


def parse_response(rubric: Rubric, text: str) -> ParsedAnswer:
    """Every field's answer from one response, or ParseError naming what is wrong.

    A tag whose content is no category (``yes or no``, the format restated while reasoning)
    is passed over when another tag of the field gives a category. Every tag that gives one
    must give the same: two different answers are no answer, and the response is stored raw
    as unparseable.
    """
    if not text or not text.strip():
        raise ParseError("empty response")
    answers: dict[str, Any] = {}
    for f in rubric.fields:
        raws = _tags(text, f.id)
        if not raws:
            raise ParseError(f"no <{f.id}>...</{f.id}> tag in the response")
        values, last_error = [], None
        for raw in raws:
            try:
                values.append(parse_value(f, raw))
            except ParseError as exc:
                last_error = exc
        if not values:
            raise last_error or ParseError(f"<{f.id}> is empty")
        distinct = list(dict.fromkeys(json.dumps(v) for v in values))
        if len(distinct) > 1:
            raise ParseError(
                f"<{f.id}> given {len(values)} times with different answers "
                f"({', '.join(distinct)}): no answer is taken"
            )
        answers[f.id] = values[0]
    quotes = [q.strip() for q in _QUOTE.findall(text) if q.strip()]
    return ParsedAnswer(answers, quotes)
