"""The domain records that flow between importers, the demo generator, the store and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rubrics.hashing import content_hash

SOURCES = ("human", "classifier", "adjudication", "imported")
PHASES = ("blind", "revealed", "adjudicated")
# A transcript's reasoning blocks are joined with this between them (see TranscriptRecord).
BLOCK_SEPARATOR = "\n\n"

__all__ = [
    "BLOCK_SEPARATOR",
    "INCLUSION_FIELD",
    "PHASES",
    "SOURCES",
    "content_hash",
    "join_blocks",
]
# The meta label an imported reference set's sampling design travels in: the probability that
# its rater's sample drew the item (``import --map inclusion_probability=COLUMN``).
INCLUSION_FIELD = "_inclusion_probability"


def join_blocks(bodies: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join reasoning block bodies with a blank line, keeping each block's offsets."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for i, body in enumerate(bodies):
        if i:
            parts.append(BLOCK_SEPARATOR)
            pos += len(BLOCK_SEPARATOR)
        parts.append(body)
        offsets.append((pos, pos + len(body)))
        pos += len(body)
    return "".join(parts), offsets


@lru_cache(maxsize=256)
def prompt_hash(text: str) -> str:
    """Hash of a system prompt. Cached: the same long prompt heads thousands of transcripts."""
    return content_hash(text)


@dataclass
class LabelDraft:
    """A label that arrives with a transcript (imported or classifier), before it has an id."""

    rubric_id: str
    field: str
    value: Any
    source: str = "imported"
    rater: str = "imported"
    score: float | None = None
    scores: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] | None = None
    note: str | None = None


@dataclass
class TranscriptRecord:
    """One normalized transcript, as importers and the demo generator produce it.

    ``turns`` is the full ordered conversation as ``{"role", "content"}`` dicts (system
    prompt excluded: it is stored once in ``prompts``). ``scratchpad`` is every reasoning
    block joined by a blank line; ``scratchpad_blocks`` holds each block's
    ``[start, end)`` offsets into it.
    """

    user_input: str
    scratchpad: str
    output: str
    turns: list[dict[str, Any]]
    model: str | None = None
    condition: str | None = None
    dataset: str | None = None
    prompt_variant: str | None = None
    system_prompt: str | None = None
    scratchpad_blocks: list[tuple[int, int]] = field(default_factory=list)
    source_path: str | None = None
    source_ref: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: list[LabelDraft] = field(default_factory=list)

    @property
    def uid(self) -> str:
        """Content hash of (model, messages, completion): re-imports are idempotent."""
        system = None if self.system_prompt is None else prompt_hash(self.system_prompt)
        return content_hash(self.model, system, self.turns, self.output)


@dataclass(frozen=True)
class LabelEvent:
    """One stored act of labeling (a row of label_events)."""

    id: int
    transcript_id: int
    rubric_id: str
    rubric_hash: str | None
    field: str
    value: Any
    source: str
    rater: str
    phase: str | None
    score: float | None
    scores: dict[str, Any] | None
    evidence: list[dict[str, Any]] | None
    note: str | None
    seconds: float | None
    retracts: int | None
    run_id: int | None
    created_at: str
