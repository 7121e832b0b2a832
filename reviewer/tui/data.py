"""What the labeling screen needs about one item, read in a worker thread (no Textual here).

The blind rule is enforced at this level: unless the annotator has already committed a label
on the item (or works in audit mode), other people's and classifiers' labels are not even
read from the database, so no widget can show them by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from db import Store
from db.labeling import item_transcript
from db.labels import item_comments, others_labels, own_events
from db.models import LabelEvent


@dataclass
class ItemBundle:
    transcript: dict[str, Any]
    position: int | None = None
    own: list[LabelEvent] = field(default_factory=list)
    others: list[LabelEvent] | None = None
    all_comments: list[LabelEvent] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.transcript["id"]

    def own_label(self, phase: str) -> dict[str, Any]:
        return {
            e.field: e.value
            for e in self.own
            if e.phase == phase and e.source == "human" and not e.field.startswith("_")
        }

    @property
    def latest_label(self) -> dict[str, Any]:
        """The annotator's current answer: the revision if there is one, else the blind label."""
        values = self.own_label("blind")
        values.update(self.own_label("revealed"))
        return values

    @property
    def latest_evidence(self) -> list[dict[str, Any]]:
        """Evidence spans of the current answer (each field's revision, else its blind label)."""
        by_field: dict[str, list[dict[str, Any]]] = {}
        for phase in ("blind", "revealed"):
            for e in self.own:
                if e.phase == phase and not e.field.startswith("_"):
                    by_field[e.field] = list(e.evidence or [])
        return [span for spans in by_field.values() for span in spans]

    @property
    def adjudicated(self) -> dict[str, Any]:
        """This adjudicator's current decision on the item (field -> value)."""
        return {e.field: e.value for e in self.own if e.source == "adjudication"}

    @property
    def error_reasons(self) -> list[LabelEvent]:
        """This auditor's live reasons why a classifier erred on the item."""
        return [e for e in self.own if e.field == "_error"]

    @property
    def committed(self) -> bool:
        return any(not e.field.startswith("_") and e.source == "human" for e in self.own)

    @property
    def revealed(self) -> bool:
        return any(e.field == "_reveal" for e in self.own)

    @property
    def flagged(self) -> bool:
        flags = [e for e in self.own if e.field == "_flag"]
        return bool(flags and flags[-1].value)

    @property
    def comments(self) -> list[str]:
        return [e.note or "" for e in self.own if e.field == "_comment"]

    def comments_with_authors(self, show_others: bool) -> list[tuple[str, str]]:
        """(author, text) of every comment: the annotator's own, and others' once revealed."""
        own = {e.id for e in self.own if e.field == "_comment"}
        out = []
        for e in self.all_comments or [e for e in self.own if e.field == "_comment"]:
            if e.id in own:
                out.append(("you", e.note or ""))
            elif show_others:
                out.append((e.rater, e.note or ""))
        return out


def load_bundle(
    store: Store,
    transcript_id: int,
    *,
    annotator: str,
    rubric_id: str,
    blind: bool,
    position: int | None = None,
) -> ItemBundle | None:
    transcript = item_transcript(store, transcript_id)
    if transcript is None:
        return None
    bundle = ItemBundle(
        transcript, position, own_events(store, transcript_id, annotator, rubric_id)
    )
    if not blind or bundle.committed or bundle.revealed:
        bundle.others = others_labels(store, transcript_id, annotator, rubric_id)
        bundle.all_comments = item_comments(store, transcript_id, rubric_id)
    return bundle
