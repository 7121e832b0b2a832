"""Small labeled databases for the queue, gold and export tests."""

from __future__ import annotations

from db import Store
from db.models import TranscriptRecord
from rubrics import resolve_rubric

MODELS = ("opus", "sonnet")
CONDITIONS = ("free", "paid")


def add_transcripts(store: Store, per_stratum: int = 5, dataset: str = "demo") -> list[int]:
    """``per_stratum`` transcripts per (model, condition); returns their ids in id order."""
    records = []
    for model in MODELS:
        for condition in CONDITIONS:
            for i in range(per_stratum):
                text = f"{model}/{condition}/{i}: I reason about training."
                records.append(
                    TranscriptRecord(
                        user_input=f"request {i}",
                        scratchpad=text,
                        output=f"answer {model} {condition} {i}",
                        turns=[{"role": "user", "content": f"request {i}"}],
                        model=model,
                        condition=condition,
                        dataset=dataset,
                        source_path="gen.jsonl",
                        source_ref=f"{model}-{condition}-{i}",
                        metadata={"i": i},
                    )
                )
    store.insert_transcripts(records)
    return store.transcript_ids()


def register(store: Store, rubric_id: str = "goal_guarding") -> str:
    r = resolve_rubric(rubric_id)
    return store.register_rubric(r.id, r.version, r.source_text, r.content_hash, r.origin)


def human(store: Store, tid: int, rater: str, value, *, field="alignment_faking", phase="blind",
          rubric_id="goal_guarding", rubric_hash=None, **kw) -> int:  # fmt: skip
    return store.append_label(
        tid,
        rubric_id=rubric_id,
        field=field,
        value=value,
        source="human",
        rater=rater,
        phase=phase,
        rubric_hash=rubric_hash,
        **kw,
    )


def classifier(store: Store, tid: int, value, score: float, *, rater="clf", run_id=None,
               field="alignment_faking", rubric_hash=None) -> int:  # fmt: skip
    return store.append_label(
        tid,
        rubric_id="goal_guarding",
        field=field,
        value=value,
        source="classifier",
        rater=rater,
        score=score,
        scores={"yes": score, "no": round(1 - score, 6)},
        run_id=run_id,
        rubric_hash=rubric_hash,
    )
