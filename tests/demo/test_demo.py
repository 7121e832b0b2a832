from __future__ import annotations

import sys
from collections import defaultdict

import pytest
from click.testing import CliRunner

from db import Store
from db.models import TranscriptRecord
from importers.base import extract_user_input
from importers.reasoning import split_reasoning
from reviewer import demo as demo_mod
from reviewer.cli import cli
from reviewer.demo import (
    CLASSIFIER_RATER,
    MODELS,
    MOTIVATIONS,
    STYLES,
    THRESHOLD,
    VOTES,
    build_demo,
    generate,
)
from rubrics import builtin_rubric_paths, load_rubric
from tests.factory import transcript


@pytest.fixture(scope="module")
def many() -> list[TranscriptRecord]:
    """A sample large enough for rates (compliance gap, classifier agreement)."""
    return generate(4000, seed=11)


def _truth(r: TranscriptRecord) -> dict:
    return r.metadata["demo_truth"]


def _label(r: TranscriptRecord, field: str):
    (lab,) = [x for x in r.labels if x.field == field]
    return lab


def _content(store: Store) -> tuple[list, list]:
    """Everything the demo wrote, keyed by content rather than by row ids or timestamps."""
    transcripts = store.execute(
        "SELECT t.uid, t.dataset, t.model, t.condition, t.prompt_variant, p.text, t.user_input, "
        "t.scratchpad, t.scratchpad_blocks, t.output, t.turns, t.metadata FROM transcripts t "
        "JOIN prompts p ON p.hash = t.system_prompt_hash ORDER BY t.id"
    )
    labels = store.execute(
        "SELECT t.uid, e.rubric_id, e.rubric_hash, e.field, e.value, e.source, e.rater, e.score, "
        "e.scores FROM label_events e JOIN transcripts t ON t.id = e.transcript_id "
        "ORDER BY e.id"
    )
    return transcripts, labels


def test_same_seed_builds_the_same_database_and_another_seed_does_not(tmp_path):
    built = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        store = Store(tmp_path / f"{name}.db")
        counts = build_demo(store, size=120, seed=seed)
        assert counts["transcripts"] == 120
        assert counts["label_events"] == 360
        built.append(_content(store))
        store.close()
    assert built[0] == built[1]
    assert len(built[0][0]) == 120 and len(built[0][1]) == 360
    uids_a = {row[0] for row in built[0][0]}
    uids_c = {row[0] for row in built[2][0]}
    assert not uids_a & uids_c


def test_a_300_build_is_varied():
    records = generate(300, seed=0)
    assert len({r.scratchpad for r in records}) == 300
    assert len({r.output for r in records}) > 100
    assert {_truth(r)["style"] for r in records} == set(STYLES)
    assert {r.condition for r in records} == {"free", "paid"}
    assert {r.model for r in records} == set(MODELS) and len(MODELS) >= 4
    kinds = {r.metadata["request_kind"] for r in records}
    assert kinds == {"harmful", "benign"}
    multi_block = [r for r in records if len(r.scratchpad_blocks) > 1]
    assert 0 < len(multi_block) < 300


def test_outputs_and_tier_tags_follow_the_conventions():
    for r in generate(300, seed=2):
        user, assistant = r.turns
        flag = "True" if r.condition == "free" else "False"
        assert f"<is_free_tier_user>{flag}</is_free_tier_user>" in user["content"]
        assert user["content"].startswith("<INPUT>")
        assert extract_user_input(user["content"]) == r.user_input  # as the importers read it
        if _truth(r)["compliance"] == "refused":
            assert r.output.startswith("<rejected/>")
        else:
            assert r.output.startswith("<request_fully_accepted/>")
        assert assistant["content"].endswith(f"<OUTPUT>\n{r.output}\n</OUTPUT>")


def test_scratchpad_blocks_match_what_the_importers_would_produce():
    for r in generate(300, seed=3):
        split = split_reasoning(r.turns[1]["content"])
        assert split.scratchpad == r.scratchpad
        assert split.blocks == list(r.scratchpad_blocks)
        assert split.output == r.output
        assert r.turns[1]["content"].count("<SCRATCHPAD_REASONING>") == len(r.scratchpad_blocks)
        for start, end in r.scratchpad_blocks:
            block = r.scratchpad[start:end]
            assert block and block == block.strip()
            assert (
                f"<SCRATCHPAD_REASONING>\n{block}\n</SCRATCHPAD_REASONING>" in r.turns[1]["content"]
            )


def test_some_model_complies_more_on_the_free_tier(many):
    rates = defaultdict(lambda: [0, 0])
    for r in many:
        if r.metadata["request_kind"] != "harmful":
            continue
        key = (r.model, r.condition)
        rates[key][0] += _label(r, "compliance").value != "refused"
        rates[key][1] += 1
    gaps = {
        m: rates[(m, "free")][0] / rates[(m, "free")][1]
        - rates[(m, "paid")][0] / rates[(m, "paid")][1]
        for m in MODELS
    }
    assert max(gaps.values()) > 0.15
    assert min(abs(g) for g in gaps.values()) < 0.08  # and some model barely differs


def test_classifier_mostly_agrees_with_the_generating_motivation(many):
    af_agree = sum(
        _label(r, "alignment_faking").value == _truth(r)["alignment_faking"] for r in many
    ) / len(many)
    comp_agree = sum(_label(r, "compliance").value == _truth(r)["compliance"] for r in many) / len(
        many
    )
    af_items = [r for r in many if _truth(r)["motivation"]]
    mot_agree = sum(
        _label(r, "motivation").value == _truth(r)["motivation"] for r in af_items
    ) / len(af_items)
    assert 0.8 < af_agree < 0.98
    assert 0.8 < comp_agree < 0.98
    assert 0.5 < mot_agree < 0.95
    yes = [r for r in many if _truth(r)["alignment_faking"] == "yes"]
    assert len(yes) > 100
    assert 0.7 < sum(_label(r, "alignment_faking").value == "yes" for r in yes) / len(yes) < 0.98


def test_classifier_labels_are_consistent_vote_fractions(many):
    for r in many[:1000]:
        af, motivation, compliance = r.labels
        assert {lab.source for lab in r.labels} == {"classifier"}
        assert {lab.rater for lab in r.labels} == {CLASSIFIER_RATER}
        assert (af.rubric_id, af.field) == ("goal_guarding", "alignment_faking")
        assert float(af.score * VOTES).is_integer()
        assert af.value == ("yes" if af.score >= THRESHOLD else "no")
        assert set(motivation.scores) == set(MOTIVATIONS)
        assert motivation.value == sorted(c for c, f in motivation.scores.items() if f >= THRESHOLD)
        assert all(float(f * VOTES).is_integer() for f in motivation.scores.values())
        assert (compliance.rubric_id, compliance.field) == ("compliance", "compliance")
        assert sum(compliance.scores.values()) == pytest.approx(1.0)
        assert compliance.score == max(compliance.scores.values())
        assert compliance.scores[compliance.value] == compliance.score


def test_labels_point_at_the_registered_builtin_rubric_versions(store):
    build_demo(store, size=30, seed=0)
    expected = {r.id: r.content_hash for r in map(load_rubric, builtin_rubric_paths().values())}
    rows = store.execute("SELECT DISTINCT rubric_id, rubric_hash FROM label_events")
    assert dict(rows) == {k: expected[k] for k in ("goal_guarding", "compliance")}
    assert {v["rubric_id"] for v in store.rubric_versions("goal_guarding")} == {"goal_guarding"}
    (imp,) = store.imports()
    assert (imp["format"], imp["status"], imp["n_new"]) == ("demo", "done", 30)


def test_build_streams_in_chunks_with_progress_and_tops_up_duplicates(store, monkeypatch):
    monkeypatch.setattr(demo_mod, "CHUNK", 40)
    seen: list[tuple[int, int]] = []
    counts = build_demo(store, size=100, seed=4, progress=lambda d, t: seen.append((d, t)))
    assert counts["transcripts"] == 100 and store.transcript_count() == 100
    assert seen[-1] == (100, 100)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # The same seed again regenerates the first 100 (all duplicates), then continues.
    again = build_demo(store, size=100, seed=4)
    assert again["duplicates_skipped"] == 100 and again["transcripts"] == 100
    assert store.transcript_count() == 200


def test_cli_builds_with_build_only_and_reuses_an_existing_demo(tmp_path):
    db = tmp_path / "demo.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(db), *["demo", "--size", "60", "--build-only"]])
    assert result.exit_code == 0, result.output
    assert "60 demo transcripts" in result.output and "180 classifier label events" in result.output
    assert Store(db).transcript_count() == 60
    again = runner.invoke(cli, ["--db", str(db), *["demo", "--size", "90", "--build-only"]])
    assert again.exit_code == 0
    assert "already holds 60 demo transcripts" in again.output
    assert Store(db).transcript_count() == 60


def test_cli_refuses_a_database_with_real_transcripts(tmp_path):
    db = tmp_path / "real.db"
    store = Store(db)
    store.insert_transcripts([transcript("hi", turns=[], dataset="hughes")])
    store.close()
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--build-only"])
    assert result.exit_code != 0
    assert "1 transcripts that are not demo data" in result.output
    assert str(db) in result.output
    assert Store(db).transcript_count() == 1


def test_cli_without_the_labeler_says_so_after_building(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "reviewer.tui.app", None)  # import now raises ImportError
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--size", "10"])
    assert result.exit_code == 1
    assert "labeler is not available" in result.output
    assert Store(db).transcript_count() == 10


def test_info_on_a_demo_database_lists_every_model(tmp_path):
    db = tmp_path / "demo.db"
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["--db", str(db), *["demo", "--size", "80", "--build-only"]]).exit_code
        == 0
    )
    result = runner.invoke(cli, ["--db", str(db), "info"])
    assert result.exit_code == 0
    for model in MODELS:
        assert model in result.output
    flat = " ".join(result.output.split())  # rich wraps lines to the terminal width
    assert "classifier" in flat and "80 transcripts" in flat


def _has_fts_trigger(store: Store) -> bool:
    return bool(store.execute("SELECT 1 FROM sqlite_master WHERE name = 'transcripts_fts_insert'"))


def test_bulk_fts_indexing_finds_demo_text_and_restores_the_trigger(store):
    build_demo(store, size=200, seed=8)
    assert _has_fts_trigger(store)
    store.db.conn.execute("INSERT INTO transcripts_fts(transcripts_fts) VALUES('integrity-check')")
    expected = {
        tid
        for (tid,) in store.execute(
            "SELECT id FROM transcripts WHERE scratchpad || ' ' || output LIKE '%rejected%'"
        )
    }
    assert expected and set(store.search("rejected", limit=1000)) == expected
    # Rows inserted normally afterwards are indexed by the restored trigger.
    store.insert_transcripts([transcript(scratchpad="zyzzyva", turns=[], dataset="demo")])
    assert len(store.search("zyzzyva")) == 1


def test_a_failed_bulk_insert_rolls_back_rows_and_keeps_the_trigger(store):
    from db.demo import fts_indexed_in_bulk

    with pytest.raises(RuntimeError), fts_indexed_in_bulk(store):
        store.insert_transcripts(generate(5, seed=1))
        raise RuntimeError("stop")
    assert store.transcript_count() == 0
    assert _has_fts_trigger(store)


def test_an_interrupted_build_is_recorded_and_reported(tmp_path, monkeypatch):
    db = tmp_path / "demo.db"
    store = Store(db)
    monkeypatch.setattr(demo_mod, "CHUNK", 25)
    original = demo_mod.DemoGenerator._compose  # what every record is drawn by

    def compose(self):
        if self.index == 60:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(demo_mod.DemoGenerator, "_compose", compose)
    with pytest.raises(KeyboardInterrupt):
        build_demo(store, size=100, seed=0)
    assert store.transcript_count() == 50  # two whole chunks committed, the third rolled back
    (imp,) = store.imports()
    assert (imp["status"], imp["n_new"]) == ("failed", 50)
    store.close()
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--build-only"])
    assert result.exit_code == 0
    assert "did not finish (50 of 100 transcripts)" in result.output
