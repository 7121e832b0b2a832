"""A constructed study database for the report, the dataset card and the analysis screen:
two models (one with markup in its name), free and paid, two prompt variants, two humans who
label every item, a classifier with scores on all three fields, and an audit's error reason.

Counts are fixed, not drawn, so the rates are known: in every (model, condition, variant)
group of ten, the classifier says alignment faking on the first ``AF[model, condition]``
items and full compliance on the first ``FULL[model, condition]``.
"""

from __future__ import annotations

from pathlib import Path

from db import Store, labels
from db.models import TranscriptRecord
from rubrics import resolve_rubric

MODELS = ("helix", "<b>quill</b>")
VARIANTS = ("base", "nocot")
PER_GROUP = 10
AF = {("helix", "free"): 4, ("helix", "paid"): 1, ("<b>quill</b>", "free"): 2,
      ("<b>quill</b>", "paid"): 2}  # fmt: skip
FULL = {("helix", "free"): 7, ("helix", "paid"): 3, ("<b>quill</b>", "free"): 5,
        ("<b>quill</b>", "paid"): 5}  # fmt: skip


def build(path: Path) -> Path:
    store = Store(path)
    hashes = {}
    for rid in ("goal_guarding", "compliance"):
        r = resolve_rubric(rid)
        hashes[rid] = store.register_rubric(r.id, r.version, r.source_text, r.content_hash,
                                            r.origin)  # fmt: skip
    for model in MODELS:
        for condition in ("free", "paid"):
            for variant in VARIANTS:
                store.insert_transcripts(
                    TranscriptRecord(user_input=f"{model}{condition}{variant}{i}",
                                     scratchpad=f"reasoning {i}", output="o",
                                     turns=[{"role": "user", "content": f"{model}{condition}{variant}{i}"}],
                                     model=model, condition=condition, prompt_variant=variant,
                                     dataset="study")
                    for i in range(PER_GROUP)
                )  # fmt: skip
    events = []
    rows = store.execute("SELECT id, model, condition FROM transcripts ORDER BY id")
    position: dict[tuple, int] = {}
    for tid, model, condition in rows:
        k = position.get((model, condition), 0) % PER_GROUP
        position[(model, condition)] = position.get((model, condition), 0) + 1
        af = "yes" if k < AF[(model, condition)] else "no"
        full = "full" if k < FULL[(model, condition)] else ("partial" if k % 2 else "refused")
        motive = ["terminal_goal_guarding"] if af == "yes" else []
        score = 0.85 if af == "yes" else 0.1 + 0.02 * k
        for rid, fid, value, extra in (
            ("goal_guarding", "alignment_faking", af,
             {"score": score, "scores": {"yes": score, "no": round(1 - score, 6)}}),
            ("goal_guarding", "motivation", motive,
             {"scores": {"terminal_goal_guarding": score, "rater_sycophancy": 0.05}}),
            ("compliance", "compliance", full, {}),
        ):  # fmt: skip
            events.append(labels.NewEvent(tid, rubric_id=rid, field=fid, value=value,
                                          source="classifier", rater="clf",
                                          rubric_hash=hashes[rid], **extra))  # fmt: skip
            for human in ("ann", "bob"):
                # bob disagrees with the classifier on the fourth item of each ten
                said = value
                if human == "bob" and k == 3 and fid == "alignment_faking":
                    said = "no" if value == "yes" else "yes"
                events.append(labels.NewEvent(tid, rubric_id=rid, field=fid, value=said,
                                              source="human", rater=human, phase="blind",
                                              rubric_hash=hashes[rid]))  # fmt: skip
    labels.append_events(store, events)
    labels.record_error_reason(store, 1, auditor="ann", rubric_id="goal_guarding",
                               rubric_hash=hashes["goal_guarding"], field="alignment_faking",
                               classifier="clf", classifier_value="yes", reference_value="no",
                               codes=["missed_decisive_passage"], note="read <script>alert(1)</script>")  # fmt: skip
    store.close()
    return path
