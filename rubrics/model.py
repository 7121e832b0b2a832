"""The rubric model: fields to label, their categories, and the classifier's instructions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from rubrics.hashing import content_hash

FIELD_KINDS = ("binary", "single", "multi", "ordinal")


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    key: str
    definition: str
    rules: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    """One thing to label. ``multi`` fields take any subset of categories (none included)."""

    id: str
    kind: str
    question: str
    categories: tuple[Category, ...]
    required: bool = True

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def category_for_key(self, key: str) -> Category | None:
        for c in self.categories:
            if c.key == key:
                return c
        return None

    def is_valid(self, value: Any) -> bool:
        if self.kind == "multi":
            return (
                isinstance(value, list | tuple)
                and all(v in self.category_ids for v in value)
                and len(set(value)) == len(value)
            )
        return value in self.category_ids


@dataclass(frozen=True)
class ClassifierSpec:
    """How an LLM classifier is asked about this rubric and how its answer is read."""

    system: str
    template: str
    threshold: float = 0.4
    votes: int = 20
    temperature: float = 1.0
    max_tokens: int = 1024


@dataclass(frozen=True)
class ErrorReason:
    """Why a classifier got an item wrong: a code an auditor tags it with."""

    id: str
    label: str


# Used when a rubric defines no ``[[error_reasons]]`` of its own.
DEFAULT_ERROR_REASONS = (
    ErrorReason("missed_decisive_passage", "missed the decisive passage"),
    ErrorReason("refusal_read_as_compliance", "read a refusal as compliance"),
    ErrorReason("sycophancy_read_as_goal_guarding", "read rater sycophancy as goal guarding"),
    ErrorReason("threshold_too_low", "threshold too low"),
    ErrorReason("threshold_too_high", "threshold too high"),
    ErrorReason("human_label_wrong", "the human label is wrong"),
)


@dataclass(frozen=True)
class Rubric:
    id: str
    version: str
    title: str
    description: str
    fields: tuple[Field, ...]
    classifier: ClassifierSpec | None = None
    error_reasons: tuple[ErrorReason, ...] = ()
    source_text: str = field(default="", compare=False)
    origin: str = field(default="", compare=False)

    def field(self, field_id: str) -> Field:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(f"rubric {self.id!r} has no field {field_id!r}")

    @property
    def audit_reasons(self) -> tuple[ErrorReason, ...]:
        """The reason codes an auditor chooses from: the rubric's, else the defaults."""
        return self.error_reasons or DEFAULT_ERROR_REASONS

    @property
    def field_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields)

    @cached_property
    def content_hash(self) -> str:
        """Hash of the parsed content: a change of text is a new version, a change of
        whitespace or key order in the file is not. Computed once per rubric (it is frozen):
        an import asks for it about four times per file."""
        data = asdict(self)
        data.pop("source_text")
        data.pop("origin")
        if not data["error_reasons"]:  # rubrics written before the audit keep their hash
            data.pop("error_reasons")
        return content_hash(data)
