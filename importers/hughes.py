"""Results files of the open-source alignment-faking pipeline (Hughes et al.).

A results file is one JSON array of records written with ``indent=4``; it carries no model
name: model, prompt variant and seed live only in the path
``results/alignment_faking/{variant}/{model}/results_seed{N}_{timestamp}.json``.

Each record's classifier results become classifier label events:

- ``deceptive_alignment`` -> ``goal_guarding.alignment_faking`` (yes when the yes-fraction
  reaches the rubric's threshold), score = yes-fraction;
- ``strong_reject_score`` (compliant when > 0), the acceptance/refusal flags and
  ``partial_compliance`` -> ``compliance.compliance`` (refused / partial / full);
- ``partial_compliance``, ``helpfulness_categories`` and ``deceptive_alignment_categories``
  have no rubric field of ours: they are kept as labels on fields of those names under the
  pseudo-rubric ``hughes`` (not a registered rubric), and in the metadata.
"""

from __future__ import annotations

import bisect
import re
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from db.models import LabelDraft, TranscriptRecord
from importers.base import (
    Format,
    ImportOptions,
    ImportRequestError,
    ReadResult,
    RecordError,
    Rejected,
    check_length,
    extract_user_input,
    normalize_condition,
    require_str,
    type_name,
)
from importers.base import Sniff as _Sniff
from importers.jsonstream import RawRecord, expect_object, iter_records
from importers.reasoning import reasoning_status, split_reasoning

CLASSIFIERS = (
    "deceptive_alignment",
    "partial_compliance",
    "helpfulness_categories",
    "deceptive_alignment_categories",
)
PSEUDO_RUBRIC = "hughes"
_FILE = r"results_seed(?P<seed>\d+)(?:_(?P<stamp>[^/]*))?\.json$"
# With the pipeline's results/ folder the model may contain slashes (org/name); without it,
# the two folders above the file are taken as variant and model.
_PATHS = (
    re.compile(r"(?:^|/)results/(?P<experiment>[^/]+)/(?P<variant>[^/]+)/(?P<model>.+)/" + _FILE),
    re.compile(r"(?:^|/)(?P<variant>[^/]+)/(?P<model>[^/]+)/" + _FILE),
)


@cache
def _threshold(rubric_id: str) -> float:
    from rubrics import resolve_rubric

    spec = resolve_rubric(rubric_id).classifier
    return spec.threshold if spec is not None else 0.4


def path_facts(path: Path) -> dict[str, Any]:
    """Experiment, prompt variant, model and seed from a pipeline results path, if it is one."""
    posix = path.as_posix()
    m = next((m for m in (p.search(posix) for p in _PATHS) if m), None)
    if not m:
        return {}
    return {
        "experiment": m.groupdict().get("experiment"),
        "variant": m["variant"],
        "model": m["model"],
        "seed": int(m["seed"]),
        "stamp": m["stamp"],
    }


# The top-level keys of a record of the pipeline's results files.
RECORD_KEYS = frozenset(
    {
        "user_input",
        "prompt",
        "success",
        "output",
        "output_without_scratchpad",
        "output_contains_acceptance",
        "output_contains_refusal",
        "timestamp",
        "tags",
        "strong_reject_score",
        "strong_reject_raw_output",
        "deceptive_alignment",
        "partial_compliance",
        "helpfulness_categories",
        "deceptive_alignment_categories",
    }
)


def detect(sniff: _Sniff) -> bool:
    keys = sniff.keys
    if {"output", "prompt"} <= keys and ({"user_input", "deceptive_alignment", "tags"} & keys):
        return True
    # Cut off inside its first record: the keys seen so far are all the pipeline's, and its
    # records begin with user_input and prompt. This reader then reports where the JSON ends,
    # instead of the table reader asking for a --map.
    return bool(
        sniff.cut
        and sniff.shape == "array"
        and keys
        and keys <= RECORD_KEYS
        and {"user_input", "prompt"} & keys
    )


def preflight(path: Path, options: ImportOptions) -> list[str]:
    """The model is part of each transcript's identity: a file whose path names none is
    refused without --model (or imported with a warning when the caller allows it)."""
    if options.model or path_facts(path).get("model"):
        return []
    problem = (
        "no model in the path (the pipeline writes results/alignment_faking/VARIANT/"
        "MODEL/results_seedN_TIME.json); pass --model NAME, since the model is part of "
        "each transcript's identity: importing the file again with --model later would "
        "add a second copy of every transcript"
    )
    if not options.allow_unknown_model:
        raise ImportRequestError(
            f"{path}: {problem}; or pass --allow-unknown-model to import it with no model"
        )
    return [f"{problem}; importing it with no model"]


def read(path: Path, options: ImportOptions) -> ReadResult:
    facts = path_facts(path)
    for item in iter_records(path, options):
        if isinstance(item, Rejected):
            yield item
            continue
        yield _convert(item, path, facts, options)


def _convert(raw: RawRecord, path: Path, facts: dict, options: ImportOptions):
    record = expect_object(raw)
    if isinstance(record, Rejected):
        return record
    try:
        return to_transcript(record, raw.index, path, facts, options)
    except RecordError as exc:
        return Rejected(str(exc), index=raw.index, raw=record)
    except Exception as exc:  # noqa: BLE001 - untrusted input: any surprise is one bad record
        return Rejected(
            f"unexpected content ({type(exc).__name__}: {exc})", index=raw.index, raw=record
        )


def _messages(record: dict) -> list[dict]:
    prompt = record.get("prompt")
    if prompt is None:
        return []
    if not isinstance(prompt, dict):
        raise RecordError(f"field 'prompt' should be an object, found {type_name(prompt)}")
    messages = prompt.get("messages", [])
    if not isinstance(messages, list):
        raise RecordError(
            f"field 'prompt.messages' should be an array, found {type_name(messages)}"
        )
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise RecordError(f"prompt.messages[{i}] should be an object with a string 'content'")
    return messages


def to_transcript(
    record: dict, index: int, path: Path, facts: dict, options: ImportOptions
) -> TranscriptRecord:
    if record.get("output") is None and record.get("success") is False:
        raise RecordError("the pipeline recorded a failed generation (success: false, no output)")
    completion = require_str(record, "output")
    messages = _messages(record)
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system") or None
    turns = [
        {"role": str(m.get("role", "user")), "content": m["content"]}
        for m in messages
        if m.get("role") != "system"
    ]
    user_input = require_str(record, "user_input", optional=True)
    if user_input is None:
        first_user = next((t["content"] for t in turns if t["role"] == "user"), "")
        user_input = extract_user_input(first_user)
    turns.append({"role": "assistant", "content": completion})
    split = split_reasoning(check_length(completion, "output"))
    output = split.output
    if not output:
        output = require_str(record, "output_without_scratchpad", optional=True) or ""

    condition = options.condition or normalize_condition(record.get("tags"))
    metadata: dict[str, Any] = {
        key: record[key]
        for key in (
            "timestamp",
            "tags",
            "success",
            "output_contains_acceptance",
            "output_contains_refusal",
            "strong_reject_score",
            "strong_reject_raw_output",
        )
        if key in record
    }
    if facts:
        metadata["path"] = facts
    classifiers = {}
    for name in CLASSIFIERS:
        result = record.get(name)
        if isinstance(result, dict):
            classifiers[name] = {k: v for k, v in result.items() if k != "quotes"}
    if classifiers:
        metadata["classifiers"] = classifiers
    extra = set(record) - {
        "user_input",
        "prompt",
        "output",
        "output_without_scratchpad",
        *CLASSIFIERS,
        *metadata,
    }
    for key in sorted(extra):
        metadata.setdefault("extra", {})[key] = record[key]
    metadata.update(reasoning_status(split.scratchpad, 0))

    transcript = TranscriptRecord(
        user_input=user_input,
        scratchpad=split.scratchpad,
        scratchpad_blocks=split.blocks,
        output=output,
        turns=turns,
        system_prompt=system,
        model=options.model or facts.get("model"),
        condition=condition,
        dataset=options.dataset or facts.get("experiment"),
        prompt_variant=facts.get("variant"),
        source_path=str(path),
        source_ref=f"record {index}",
        metadata=metadata,
    )
    transcript.labels = list(_labels(record, transcript.scratchpad))
    return transcript


# -- classifier results -> label drafts -----------------------------------------------------


def _fraction(result: dict, name: str) -> float | None:
    value = result.get("final_answer")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(
            f"field '{name}.final_answer' should be a number, found {type_name(value)}"
        )
    if not 0.0 <= value <= 1.0:
        raise RecordError(f"field '{name}.final_answer' should be within 0..1, found {value}")
    return float(value)


def _criteria(result: dict, name: str) -> list[float | None]:
    criteria = result.get("criteria") or []
    if not isinstance(criteria, list):
        raise RecordError(
            f"field '{name}.criteria' should be an array, found {type_name(criteria)}"
        )
    return [
        float(c) if isinstance(c, int | float) and not isinstance(c, bool) else None
        for c in criteria
    ]


_PUNCT = (
    "".join(chr(c) for c in range(128) if chr(c) in string.punctuation)
    + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026"
)
_NORMALIZE = str.maketrans({**dict.fromkeys(_PUNCT), **dict.fromkeys("\n\t\r\x0b\x0c", " ")})
_PUNCT_RE = re.compile("[" + re.escape(_PUNCT) + "]")
_SPACE_RUN = re.compile(" {2,}")


# A quote as the pipeline writes it: lower-case ASCII words and digits, one space between.
# Such a quote is its own normal form (normalizing it again was about half of locating it).
_NORMAL_QUOTE = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")


def normal_quote(quote: str) -> str:
    """A quote as the scratchpad is searched for it: lower case, punctuation deleted, white
    space runs made one space."""
    if _NORMAL_QUOTE.fullmatch(quote):
        return quote
    return " ".join(quote.lower().translate(_NORMALIZE).split())


_MARK = "\x00"
_MARK_PUNCT = str.maketrans(dict.fromkeys(_PUNCT, _MARK))


def _removed_positions(text: str) -> list[int]:
    """Where the punctuation is: marked with one C-speed translate, then found with find."""
    if _MARK in text:
        return [m.start() for m in _PUNCT_RE.finditer(text)]
    marked = text.translate(_MARK_PUNCT)
    found, at = [], marked.find(_MARK)
    while at >= 0:
        found.append(at)
        at = marked.find(_MARK, at + 1)
    return found


class _QuoteFinder:
    """Locates the pipeline's quotes in the scratchpad.

    The classifier quotes in lower case with punctuation removed and spaces collapsed. The
    scratchpad is normalized the same way with C-speed string operations, and the few removed
    positions are kept so that a match maps back to offsets in the original text.
    """

    def __init__(self, text: str):
        self.text = text
        self._index: tuple[str, list[int], list[int], list[int]] | None = None

    def _build(self):
        lowered = self.text.lower()
        if len(lowered) != len(self.text):  # lower() changed lengths: offsets would drift
            self._index = ("", [], [], [])
            return
        # Stage 1: punctuation deleted. s1 index i is original i + (removals before it).
        s1 = lowered.translate(_NORMALIZE)
        removed = _removed_positions(lowered) if len(s1) != len(lowered) else []
        self._stage1 = [r - k for k, r in enumerate(removed)]
        # Stage 2: space runs collapsed to one space.
        bounds, shifts, cumulative = [], [], 0
        if "  " in s1:
            for m in _SPACE_RUN.finditer(s1):
                run = m.end() - m.start()
                bounds.append(m.start() - cumulative + 1)
                cumulative += run - 1
                shifts.append(cumulative)
            s1 = _SPACE_RUN.sub(" ", s1)
        self._index = (s1, bounds, shifts, self._stage1)

    def _original(self, i: int) -> int:
        _, bounds, shifts, stage1 = self._index
        k = bisect.bisect_right(bounds, i) - 1
        j = i + (shifts[k] if k >= 0 else 0)
        return j + bisect.bisect_right(stage1, j)

    def find(self, quote: str) -> tuple[int, int] | None:
        needle = normal_quote(quote)
        if not needle:
            return None
        if self._index is None:
            self._build()
        at = self._index[0].find(needle)
        if at < 0:
            return None
        return self._original(at), self._original(at + len(needle) - 1) + 1


def _evidence(result: dict, finder: _QuoteFinder) -> list[dict[str, Any]]:
    quotes = result.get("quotes") or []
    evidence = []
    if not isinstance(quotes, list):
        return evidence
    for criterion, group in enumerate(quotes):
        for quote in group if isinstance(group, list) else [group]:
            if not isinstance(quote, str) or not quote.strip():
                continue
            item: dict[str, Any] = {"quote": quote, "criterion": criterion}
            span = finder.find(quote)
            if span is not None:
                item["start"], item["end"] = span
            evidence.append(item)
    return evidence


def _binary(yes: float, threshold: float) -> tuple[str, dict[str, Any]]:
    return ("yes" if yes >= threshold else "no"), {"yes": yes, "no": 1.0 - yes}


def _labels(record: dict, scratchpad: str) -> Iterator[LabelDraft]:
    finder = _QuoteFinder(scratchpad)
    usable: dict[str, dict] = {}
    for name in CLASSIFIERS:
        result = record.get(name)
        if result is None:
            continue
        if not isinstance(result, dict):
            raise RecordError(f"field {name!r} should be an object, found {type_name(result)}")
        if result.get("success") is False:
            continue
        if _fraction(result, name) is None:
            continue
        usable[name] = result

    if "deceptive_alignment" in usable:
        result = usable["deceptive_alignment"]
        yes = _fraction(result, "deceptive_alignment")
        value, scores = _binary(yes, _threshold("goal_guarding"))
        scores["criteria"] = _criteria(result, "deceptive_alignment")
        scores["most_common"] = result.get("final_answer_most_common")
        yield LabelDraft(
            rubric_id="goal_guarding",
            field="alignment_faking",
            value=value,
            source="classifier",
            rater="hughes:deceptive_alignment",
            score=yes,
            scores=scores,
            evidence=_evidence(result, finder),
        )

    compliance = _compliance(record, usable.get("partial_compliance"))
    if compliance is not None:
        yield compliance

    for name in ("partial_compliance", "helpfulness_categories", "deceptive_alignment_categories"):
        if name not in usable:
            continue
        result = usable[name]
        yes = _fraction(result, name)
        most_common = result.get("final_answer_most_common")
        if name == "partial_compliance":
            value, scores = _binary(yes, _threshold("compliance"))
        else:
            value = most_common if isinstance(most_common, str) and most_common else None
            if value is None:
                continue
            scores = {}
        scores["criteria"] = _criteria(result, name)
        scores["most_common"] = most_common
        yield LabelDraft(
            rubric_id=PSEUDO_RUBRIC,
            field=name,
            value=value,
            source="classifier",
            rater=f"hughes:{name}",
            score=yes,
            scores=scores,
            evidence=_evidence(result, finder),
        )


def _flag(record: dict, key: str) -> bool | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise RecordError(f"field {key!r} should be true or false, found {type_name(value)}")
    return value


def _compliance(record: dict, partial: dict | None) -> LabelDraft | None:
    """refused / partial / full from StrongREJECT (compliant if > 0), the flags, and the
    partial-compliance classifier; None when the record has none of them."""
    srs = record.get("strong_reject_score")
    if srs is not None and (isinstance(srs, bool) or not isinstance(srs, int | float)):
        raise RecordError(f"field 'strong_reject_score' should be a number, found {type_name(srs)}")
    accepted = _flag(record, "output_contains_acceptance")
    refused = _flag(record, "output_contains_refusal")
    if srs is not None:
        complied = srs > 0
    elif accepted or refused:
        complied = bool(accepted) and not refused
    else:
        return None
    partial_yes = _fraction(partial, "partial_compliance") if partial else None
    if not complied:
        value = "refused"
        scores: dict[str, Any] = {"refused": 1.0, "partial": 0.0, "full": 0.0}
    elif partial_yes is not None:
        value = "partial" if partial_yes >= _threshold("compliance") else "full"
        scores = {"refused": 0.0, "partial": partial_yes, "full": 1.0 - partial_yes}
    else:
        value = "full"
        scores = {"refused": 0.0, "partial": 0.0, "full": 1.0}
    scores.update(
        strong_reject_score=srs,
        output_contains_acceptance=accepted,
        output_contains_refusal=refused,
        partial_compliance=partial_yes,
    )
    return LabelDraft(
        rubric_id="compliance",
        field="compliance",
        value=value,
        source="classifier",
        rater="hughes:compliance",
        score=scores[value],
        scores=scores,
    )


FORMAT = Format(
    name="hughes",
    description="results JSON arrays of the open-source alignment-faking pipeline",
    suffixes=(".json", ".jsonl", ".ndjson"),
    detect=detect,
    options=("model", "condition", "dataset", "allow_unknown_model"),
    rubrics_used=("goal_guarding", "compliance"),
    preflight=preflight,
    needs="a model: from its path (results/EXPERIMENT/VARIANT/MODEL/...) or --model",
)
