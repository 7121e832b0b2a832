"""What the labeling screen needs about one item, read in a worker thread (no Textual here).

The blind rule is enforced at this level: unless the annotator has already committed a label
on the item (or works in audit mode), other people's and classifiers' labels are not even
read from the database, so no widget can show them by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from db import Store
from db.labels import others_labels, own_events
from db.models import LabelEvent

TRANSCRIPT_COLUMNS = (
    "t.id, t.model, t.condition, t.dataset, t.prompt_variant, t.user_input, t.scratchpad, "
    "t.scratchpad_blocks, t.output, t.source_ref, p.text"
)


@dataclass
class ItemBundle:
    transcript: dict[str, Any]
    position: int | None = None
    own: list[LabelEvent] = field(default_factory=list)
    others: list[LabelEvent] | None = None

    @property
    def id(self) -> int:
        return self.transcript["id"]

    def own_label(self, phase: str) -> dict[str, Any]:
        return {e.field: e.value for e in self.own if e.phase == phase and not e.field.startswith("_")}  # fmt: skip

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
    def committed(self) -> bool:
        return any(not e.field.startswith("_") for e in self.own)

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


def load_transcript(store: Store, transcript_id: int) -> dict[str, Any] | None:
    import json

    cur = store.db.conn.execute(
        f"SELECT {TRANSCRIPT_COLUMNS} FROM transcripts t "
        "LEFT JOIN prompts p ON p.hash = t.system_prompt_hash WHERE t.id = ?",
        (transcript_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    keys = ("id", "model", "condition", "dataset", "prompt_variant", "user_input", "scratchpad",
            "scratchpad_blocks", "output", "source_ref", "system_prompt")  # fmt: skip
    item = dict(zip(keys, row, strict=True))
    item["scratchpad_blocks"] = [tuple(b) for b in json.loads(item["scratchpad_blocks"] or "[]")]
    return item


def load_bundle(
    store: Store,
    transcript_id: int,
    *,
    annotator: str,
    rubric_id: str,
    blind: bool,
    position: int | None = None,
) -> ItemBundle | None:
    transcript = load_transcript(store, transcript_id)
    if transcript is None:
        return None
    bundle = ItemBundle(
        transcript, position, own_events(store, transcript_id, annotator, rubric_id)
    )
    if not blind or bundle.committed or bundle.revealed:
        bundle.others = others_labels(store, transcript_id, annotator, rubric_id)
    return bundle
