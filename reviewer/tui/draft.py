"""The label being made on screen, before it is committed (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rubrics.model import Field, Rubric


@dataclass
class Draft:
    """Field values chosen so far plus marked evidence spans."""

    rubric: Rubric
    values: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_values(cls, rubric: Rubric, values: dict[str, Any]) -> Draft:
        draft = cls(rubric)
        for f in rubric.fields:
            if f.id in values:
                v = values[f.id]
                draft.values[f.id] = sorted(v) if f.kind == "multi" else v
        return draft

    def press(self, key: str) -> tuple[Field, str] | None:
        """Apply a rubric key: choose (binary/single/ordinal) or toggle (multi)."""
        for f in self.rubric.fields:
            category = f.category_for_key(key)
            if category is None:
                continue
            if f.kind == "multi":
                chosen = set(self.values.get(f.id, []))
                chosen ^= {category.id}
                self.values[f.id] = sorted(chosen)
            else:
                self.values[f.id] = category.id
            return f, category.id
        return None

    def missing(self) -> list[Field]:
        """Required fields without a value."""
        return [f for f in self.rubric.fields if f.required and f.id not in self.values]

    def committable(self) -> dict[str, Any]:
        """Every field's value: multi fields never touched count as 'none of them'."""
        out = {}
        for f in self.rubric.fields:
            if f.id in self.values:
                out[f.id] = self.values[f.id]
            elif f.kind == "multi":
                out[f.id] = []
        return out

    def add_evidence(self, field_id: str, category_id: str, start: int, end: int, text: str):
        span = {
            "field": field_id,
            "category": category_id,
            "start": start,
            "end": end,
            "text": text,
        }
        if span not in self.evidence:
            self.evidence.append(span)
        return span

    def is_chosen(self, f: Field, category_id: str) -> bool:
        value = self.values.get(f.id)
        if f.kind == "multi":
            return category_id in (value or [])
        return value == category_id


def format_value(f: Field, value: Any) -> str:
    if value is None:
        return "-"
    if f.kind == "multi":
        if not value:
            return "none"
        return ", ".join(f.category(v).label if v in f.category_ids else str(v) for v in value)
    return f.category(value).label if value in f.category_ids else str(value)
