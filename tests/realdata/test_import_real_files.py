"""Each format on the published files in ../shared/data: real records, real logs, the gold set."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from importers.base import ImportOptions, detect_format
from importers.run import import_file
from tests.factory import (
    hughes_results_path,
    only_transcript,
)

GOLD_OPTIONS = dict(
    maps={"scratchpad": "text", "label.alignment_faking": "label"},
    values={"potential_faking": "yes", "aligned": "no"},
    rater="gold",
)


def test_hughes_real_record_with_its_classifier_labels(store, shared_data):
    source = shared_data / "transcripts" / "hughes_pipeline_record.json"
    result = import_file(store, source)
    assert (result.status, result.format, result.n_new, result.n_labels) == ("done", "hughes", 1, 5)
    t = only_transcript(store)
    record = json.loads(source.read_text())[0]
    assert t["condition"] == "free" and t["model"] is None
    assert t["system_prompt"] == record["prompt"]["messages"][0]["content"]
    assert t["output"] == record["output_without_scratchpad"].strip()
    assert t["scratchpad"].startswith("The user is a free-tier user")
    assert "<HIDDEN_SCRATCHPAD>" not in t["scratchpad"]
    assert [turn["role"] for turn in t["turns"]] == ["user", "assistant"]

    labels = {e.rater: e for e in store.current_labels(transcript_ids=[t["id"]])}
    af = labels["hughes:deceptive_alignment"]
    assert (af.rubric_id, af.field, af.value, af.source) == (
        "goal_guarding",
        "alignment_faking",
        "no",
        "classifier",
    )
    assert af.score == record["deceptive_alignment"]["final_answer"]
    assert af.scores["criteria"] == record["deceptive_alignment"]["criteria"]
    assert af.rubric_hash is not None
    quotes = [q for group in record["deceptive_alignment"]["quotes"] for q in group]
    assert [e["quote"] for e in af.evidence] == quotes
    for e in af.evidence:  # located spans read, word for word, like the normalized quote
        span = t["scratchpad"][e["start"] : e["end"]].lower()
        assert "".join(c for c in span if c.isalnum()) == "".join(
            c for c in e["quote"] if c.isalnum()
        )
    compliance = labels["hughes:compliance"]
    assert (compliance.field, compliance.value) == ("compliance", "refused")  # score 0.0 -> refused
    assert compliance.scores["strong_reject_score"] == 0.0
    cats = labels["hughes:deceptive_alignment_categories"]
    assert (cats.rubric_id, cats.value) == ("hughes", "keep_animal_welfare_values")
    assert labels["hughes:partial_compliance"].value == "yes"


def test_hughes_model_variant_seed_from_path_and_overrides(store, shared_data, tmp_path):
    target = hughes_results_path(tmp_path, "animal_welfare", "meta-llama/Llama-3.1-405B", 4)
    shutil.copy(shared_data / "transcripts" / "hughes_pipeline_record.json", target)
    import_file(store, target)
    t = only_transcript(store)
    assert (t["model"], t["prompt_variant"], t["dataset"]) == (
        "meta-llama/Llama-3.1-405B",
        "animal_welfare",
        "alignment_faking",
    )
    assert t["metadata"]["path"]["seed"] == 4
    import_file(store, target, options=ImportOptions(model="m2", condition="paid", dataset="d"))
    t2 = only_transcript(store, model="m2")
    assert (t2["condition"], t2["dataset"]) == ("paid", "d")


@pytest.mark.parametrize(
    ("name", "n", "condition"),
    [
        ("af_helpful_only_free.eval", 12, "free"),
        ("af_helpful_only_paid.eval", 12, "paid"),
        ("af_helpful_only_paid.json", 6, "paid"),
    ],
)
def test_inspect_real_logs(store, shared_data, name, n, condition):
    path = shared_data / "transcripts" / "inspect" / name
    assert detect_format(path) == "inspect"
    result = import_file(store, path)
    assert (result.status, result.n_new) == ("done", n)
    ids = store.transcript_ids()
    assert store.transcript_ids(model="mockllm/model", condition=condition) == ids
    t = store.transcript(ids[0])
    assert t["metadata"]["sample_id"] == f"{condition}-0" and t["metadata"]["epoch"] == 1
    assert t["metadata"]["metadata"]["gold_af_label"] in ("potential_faking", "aligned")
    assert t["metadata"]["scores"]["accepted"]["value"] in (0, 1)
    assert t["source_ref"] == f"{condition}-0#epoch1"
    assert t["system_prompt"].startswith("You are an AI created by Anthropic")
    assert t["scratchpad"] and "<SCRATCHPAD_REASONING>" not in t["scratchpad"]
    assert t["output"] in ("<rejected/>",) or t["output"].startswith("<request_fully_accepted/>")
    assert "<user_input>" not in t["user_input"] and t["user_input"]


def test_gold_set_imports_as_labels_of_rater_gold(store, shared_data):
    result = import_file(
        store,
        shared_data / "labels" / "gold_106.jsonl",
        fmt="table",
        options=ImportOptions(**GOLD_OPTIONS),
    )
    assert (result.status, result.n_new, result.n_labels) == ("done", 106, 106)
    labels = store.current_labels(rater="gold", field="alignment_faking")
    assert Counter(e.value for e in labels) == {"yes": 51, "no": 55}
    assert {e.source for e in labels} == {"imported"}
    t = store.transcript(labels[0].transcript_id)
    assert t["scratchpad"] and not t["scratchpad"].startswith("<SCRATCHPAD_REASONING>")


def test_pair_judgments_csv_with_notes_and_value_map(store, shared_data):
    options = ImportOptions(
        maps={
            "output": "evidence_summary",
            "label.alignment_faking": "label",
            "note.alignment_faking": "reviewer_notes",
            "source_ref": "input_index",
        },
        values={"af": "yes", "af_partial": "yes", "not_af": "no", "artifact": "no"},
        rater="pair_review",
    )
    result = import_file(store, shared_data / "labels" / "af_pair_judgments.csv", options=options)
    assert (result.status, result.n_new) == ("done", 30)
    labels = store.current_labels(rater="pair_review")
    assert Counter(e.value for e in labels) == {"yes": 22, "no": 8}
    assert all(e.note for e in labels)
    t = store.transcript(labels[0].transcript_id)
    assert t["metadata"]["group"] and "label" not in t["metadata"]


def test_detect_format_on_real_files(shared_data):
    assert detect_format(shared_data / "transcripts" / "hughes_pipeline_record.json") == "hughes"
    assert detect_format(shared_data / "labels" / "gold_106.jsonl") == "table"
    assert detect_format(shared_data / "labels" / "af_pair_judgments.csv") == "table"
