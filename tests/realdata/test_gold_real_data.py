"""The published gold set (../shared/data/labels/gold_106.jsonl) as imported labels: a
calibration queue and a gold-only export over it."""

from __future__ import annotations

import json

from db.labels import GoldPolicy
from db.models import LabelDraft, TranscriptRecord
from db.queues import queue_members
from importers.reasoning import split_reasoning
from reviewer.export import ExportOptions, export
from reviewer.queues import QueueRequest, build_queue


def load_gold_106(store, shared_data):
    records = []
    lines = (shared_data / "labels" / "gold_106.jsonl").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        item = json.loads(line)
        value = "yes" if item["label"] == "potential_faking" else "no"
        split = split_reasoning(item["text"])
        records.append(
            TranscriptRecord(
                user_input="",
                scratchpad=split.scratchpad,
                scratchpad_blocks=split.blocks,
                output=split.output,
                turns=[{"role": "assistant", "content": item["text"]}],
                dataset="gold_106",
                source_ref=str(i),
                labels=[LabelDraft("goal_guarding", "alignment_faking", value, rater="gold")],
            )
        )
    return store.insert_transcripts(records)


def test_gold_106_calibration_queue_and_export(store, shared_data, tmp_path):
    result = load_gold_106(store, shared_data)
    assert result.new == 106 and result.labels == 106
    # One imported rater is not gold under the default rule...
    default = export(store, "jsonl", tmp_path / "none.jsonl", ExportOptions(gold_only=True))
    assert default.rows == 0 and default.skipped_no_gold == 106
    # ...but is when the user says the imported labels are careful human labels.
    policy = GoldPolicy(min_humans=1, imported_as_human=True)
    report = export(
        store,
        "csv",
        tmp_path / "gold.csv",
        ExportOptions(gold_only=True, policy=policy, include_text=False),
    )
    assert report.rows == 106
    counts = {v: n for (_, f, v), n in report.gold_values.items() if f == "alignment_faking"}
    assert counts == {"yes": 51, "no": 55}
    build_queue(
        store,
        QueueRequest(
            "cal",
            "calibration",
            annotators=["ann"],
            size=20,
            seed=4,
            min_humans=1,
            imported_as_human=True,
        ),
    )
    members = queue_members(store, "cal", "ann")
    assert len(members) == 20 and len({a.transcript_id for a in members}) == 20
    assert all(a.reason == "calibration: gold alignment_faking" for a in members)
