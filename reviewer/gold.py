"""The gold label of an item (DESIGN.md, "The labeling protocol", step 4).

Per item and field: the newest live adjudicated label if there is one; otherwise the blind
human label when at least ``min_humans`` different humans gave one and they all agree;
anything else is unresolved, with the reason. Revealed revisions never make gold on their
own: they were made after seeing the classifier, and only an adjudicator settles a change.
Labels from source ``imported`` (e.g. a published gold set) count as humans only when the
caller says so (``imported_as_human``), since whether they are careful human labels depends
on where they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from db.models import LabelEvent

ADJUDICATED = "adjudicated"
UNANIMOUS = "unanimous"
UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class GoldPolicy:
    min_humans: int = 2
    imported_as_human: bool = False

    def __post_init__(self) -> None:
        if self.min_humans < 1:
            raise ValueError("min_humans must be at least 1")


@dataclass(frozen=True)
class GoldLabel:
    field: str
    value: Any  # None when unresolved
    status: str  # adjudicated | unanimous | unresolved
    reason: str | None = None  # why unresolved
    raters: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = field(default=(), compare=False)

    @property
    def resolved(self) -> bool:
        return self.status != UNRESOLVED

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": self.status,
            "reason": self.reason,
            "raters": list(self.raters),
            "event_ids": list(self.event_ids),
        }


def _canonical(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, list | tuple) else value


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def human_blind_labels(
    events: Iterable[LabelEvent], field_id: str, policy: GoldPolicy
) -> dict[str, LabelEvent]:
    """The blind label per human rater on one field (imported raters too, if the policy says
    so; an imported label has no phase). Expects live events only."""
    labels: dict[str, LabelEvent] = {}
    for e in events:
        if e.field != field_id:
            continue
        is_human = e.source == "human" and e.phase == "blind"
        is_imported = policy.imported_as_human and e.source == "imported"
        if not (is_human or is_imported):
            continue
        key = f"{e.source}:{e.rater}" if e.source == "imported" else e.rater
        if key not in labels or e.id > labels[key].id:
            labels[key] = e
    return labels


def gold_for_field(events: Sequence[LabelEvent], field_id: str, policy: GoldPolicy) -> GoldLabel:
    adjudications = [e for e in events if e.field == field_id and e.source == "adjudication"]
    if adjudications:
        final = max(adjudications, key=lambda e: e.id)
        value = sorted(final.value) if isinstance(final.value, list) else final.value
        return GoldLabel(field_id, value, ADJUDICATED, None, (final.rater,), (final.id,))
    humans = human_blind_labels(events, field_id, policy)
    raters = tuple(sorted(humans))
    ids = tuple(humans[r].id for r in raters)
    if not humans:
        return GoldLabel(field_id, None, UNRESOLVED, "no human label", (), ())
    values = {_canonical(e.value) for e in humans.values()}
    if len(values) > 1:
        split = ", ".join(f"{r}={_show(humans[r].value)}" for r in raters)
        return GoldLabel(field_id, None, UNRESOLVED, f"humans disagree: {split}", raters, ids)
    if len(humans) < policy.min_humans:
        return GoldLabel(
            field_id,
            None,
            UNRESOLVED,
            f"{len(humans)} human label(s), {policy.min_humans} needed",
            raters,
            ids,
        )
    value = next(iter(humans.values())).value
    if isinstance(value, list):
        value = sorted(value)
    return GoldLabel(field_id, value, UNANIMOUS, None, raters, ids)


def gold_for_item(
    events: Sequence[LabelEvent], fields: Iterable[str], policy: GoldPolicy | None = None
) -> dict[str, GoldLabel]:
    """Gold label per field of one item from its live events (all rubrics' events may be
    passed; only those of the fields asked about are read, so pass one rubric's events)."""
    policy = policy or GoldPolicy()
    return {f: gold_for_field(events, f, policy) for f in fields}


def iter_gold(
    store,
    rubric_id: str,
    fields: Sequence[str],
    policy: GoldPolicy | None = None,
) -> Iterator[tuple[int, dict[str, GoldLabel]]]:
    """(transcript_id, gold per field) for every transcript with labels under ``rubric_id``."""
    from db.dataset import iter_item_labels

    for tid, events in iter_item_labels(store, rubric_ids=[rubric_id]):
        yield tid, gold_for_item(events, fields, policy)
