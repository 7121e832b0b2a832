"""``reviewer stats``: JSON shape, CSV errors, and the database path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from db import Store
from reviewer.cli import cli
from tests.factory import label, register_rubric, transcript

METRIC_KEYS = {"value", "ci", "ci_method"}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def scored_csv(tmp_path: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(11)
    truth = rng.random(60) < 0.4
    lines = ["item,rater,value,field,score"]
    scores = []
    for i, t in enumerate(truth):
        for rater in ("ann", "bob"):
            value = t if rng.random() < 0.85 else not t
            lines.append(f"t{i},{rater},{'yes' if value else 'no'},af,")
        score = round(float(np.clip(0.6 * t + rng.random() * 0.5, 0, 1)), 2)
        scores.append(score)
        lines.append(f"t{i},gpt,{'yes' if score >= 0.4 else 'no'},af,{score}")
        lines.append(f"t{i},gold,{'yes' if t else 'no'},af,")
    return write(tmp_path / "scored.csv", "\n".join(lines) + "\n"), {
        "truth": truth,
        "scores": np.array(scores),
    }


def test_json_shape_matches_the_documented_one(scored_csv):
    path, _ = scored_csv
    code, out = run("stats", "--ratings", str(path), "--resamples", "50", "--json")
    assert code == 0, out
    report = json.loads(out)
    (field,) = report["fields"]
    assert {
        "field",
        "level",
        "n_items",
        "n_raters",
        "categories",
        "overall",
        "pairs",
        "versus_reference",
    } <= set(field)
    assert field["field"] == "af" and field["n_items"] == 60 and field["n_raters"] == 4
    assert field["categories"] == ["no", "yes"]
    # without --reference the unscored raters (ann, bob, gold) are the panel
    assert field["panel"] == ["ann", "bob", "gold"]
    assert "cohen_kappa" not in field["overall"]  # a two-rater coefficient; see pairs
    for metric in (
        "percent_agreement",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "conger_kappa",
    ):
        assert set(field["overall"][metric]) >= METRIC_KEYS
        low, high = field["overall"][metric]["ci"]
        assert low <= field["overall"][metric]["value"] <= high
    pair = field["pairs"][0]
    assert pair["raters"] == ["ann", "bob"] and pair["n_items"] == 60
    assert set(pair["cohen_kappa"]) >= METRIC_KEYS
    vs = field["versus_reference"][0]
    assert {
        "rater",
        "reference",
        "n_items",
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "f1",
        "auroc",
        "average_precision",
        "confusion",
    } <= set(vs)


def test_scored_rater_is_judged_against_humans_and_reference(scored_csv):
    path, truth = scored_csv
    code, out = run(
        "stats", "--ratings", str(path), "--reference", "gold", "--resamples", "100", "--json"
    )
    assert code == 0, out
    (field,) = json.loads(out)["fields"]
    assert field["panel"] == ["ann", "bob"]
    by_rater = {v["rater"]: v for v in field["versus_reference"]}
    assert set(by_rater) == {"ann", "bob", "gpt"}
    gpt = by_rater["gpt"]
    assert gpt["reference"] == "gold" and gpt["positive"] == "yes"
    assert gpt["auroc"] == pytest.approx(roc_auc_score(truth["truth"], truth["scores"]))
    matrix = np.array(gpt["confusion"]["matrix"])
    assert matrix.sum() == 60 and matrix[1].sum() == truth["truth"].sum()
    tp, fn, fp = matrix[1, 1], matrix[1, 0], matrix[0, 1]
    assert gpt["recall"] == pytest.approx(tp / (tp + fn))
    assert gpt["precision"] == pytest.approx(tp / (tp + fp))
    assert by_rater["ann"]["auroc"] is None
    for name in ("accuracy", "precision", "recall", "specificity", "f1"):
        low, high = gpt["intervals"][name]
        assert low <= gpt[name] <= high
    assert gpt["intervals_method"].startswith("item bootstrap")
    (gap,) = field["classifier_vs_humans"]
    assert gap["rater"] == "gpt" and gap["humans"] == ["ann", "bob"]
    diff = gap["difference"]
    assert diff["value"] == pytest.approx(
        gap["rater_vs_humans"]["value"] - gap["humans_vs_humans"]["value"]
    )
    assert gap["verdict"] in ("non-inferior", "non-inferior, and above", "inferior", "inconclusive")
    assert gap["margin"] == 0.1 and gap["test"].startswith("non-inferiority")
    low, high = gpt["auroc_ci"]
    assert low <= gpt["auroc"] <= high and high - low > 0


def test_rich_output_names_bands_and_warnings(tmp_path):
    rows = ["item,rater,value"] + [f"i{i},a,no" for i in range(40)]
    rows += [f"i{i},b,{'yes' if i in (3, 9) else 'no'}" for i in range(40)]
    rows += ["i40,a,yes", "i40,b,yes"]
    path = write(tmp_path / "skewed.csv", "\n".join(rows) + "\n")
    code, out = run("stats", "--ratings", str(path), "--resamples", "50")
    assert code == 0, out
    assert "Landis & Koch (1977)" in out
    assert "skewed prevalence" in out and "Gwet's AC1 =" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "ratings.csv:1: the file is empty"),
        ("item,value\n1,a\n", "ratings.csv:1: missing column(s) rater"),
        ("item,rater,value\n1,a,x\n2,a\n", "ratings.csv:3: 2 columns, but the header has 3"),
        ("item,rater,value\n1,a,x\n1,a,y\n", "ratings.csv:3: rater 'a' already gave item '1'"),
        ("item,rater,value,score\n1,a,x,high\n", "ratings.csv:2: score 'high' is not a number"),
        ("item,rater,value\n1,,x\n", "ratings.csv:2: the rater column is empty"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "ratings.csv", text)
    code, out = run("stats", "--ratings", str(path))
    assert code == 1
    assert message in out


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"item,rater,value\n1,a,ok\n2,a,caf\xe9\n")
    code, out = run("stats", "--ratings", str(path))
    assert code == 1 and "latin.csv:3: not UTF-8 text (byte 0xe9)" in out


def test_interval_level_needs_numbers(tmp_path):
    path = write(tmp_path / "r.csv", "item,rater,value\n1,a,3\n1,b,high\n")
    code, out = run("stats", "--ratings", str(path), "--level", "interval")
    assert code == 1 and "r.csv:3: value 'high' is not a number" in out


def test_unknown_reference_and_missing_file(tmp_path):
    path = write(tmp_path / "r.csv", "item,rater,value\n1,a,x\n1,b,y\n")
    code, out = run("stats", "--ratings", str(path), "--reference", "gold")
    assert code == 1 and "--reference 'gold' is not a rater" in out
    code, out = run("stats", "--ratings", str(tmp_path / "nope.csv"))
    assert code == 1 and "nope.csv: cannot read ratings file" in out


# -- the database path -----------------------------------------------------------------


def _fill(store: Store, n: int = 30) -> list[int]:
    register_rubric(store, "goal_guarding")
    records = [
        transcript(
            f"q{i}", scratchpad=f"reasoning {i}", output=f"answer {i}", model="m", condition="free"
        )
        for i in range(n)
    ]
    store.insert_transcripts(records)
    ids = store.transcript_ids()
    rng = np.random.default_rng(5)
    for tid in ids:
        truth = rng.random() < 0.5
        for rater in ("ann", "bob"):
            value = "yes" if (truth if rng.random() < 0.85 else not truth) else "no"
            label(store, tid, value, source="human", rater=rater, phase="blind")
            motives = ["other"] if truth else []
            store.append_label(
                tid,
                rubric_id="goal_guarding",
                field="motivation",
                value=motives,
                source="human",
                rater=rater,
                phase="blind",
            )
        score = float(np.clip(0.5 * truth + rng.random() * 0.6, 0, 1))
        label(
            store,
            tid,
            "yes" if score >= 0.4 else "no",
            source="classifier",
            rater="gpt",
            score=score,
            scores={"yes": score, "no": 1 - score},
        )
        label(store, tid, "yes" if truth else "no", source="imported", rater="gold")
    return ids


def _db_report(db: Path, *extra: str) -> dict:
    code, out = run(
        "--db", str(db), "stats", "--rubric", "goal_guarding", "--resamples", "50", "--json", *extra
    )
    assert code == 0, out
    return json.loads(out)


def test_database_fields_roles_and_multi_label(store):
    _fill(store)
    report = _db_report(store.path)
    assert report["phase"] == "blind"
    fields = {f["field"]: f for f in report["fields"]}
    af = fields["alignment_faking"]
    assert af["panel"] == ["ann", "bob"] and af["raters"] == ["ann", "bob", "gpt", "gold"]
    assert af["categories"] == ["yes", "no"] and af["n_items"] == 30
    pairs = {(v["rater"], v["reference"]) for v in af["versus_reference"]}
    assert pairs == {
        ("gpt", "ann"),
        ("gpt", "bob"),
        ("ann", "gold"),
        ("bob", "gold"),
        ("gpt", "gold"),
    }
    gpt_gold = next(
        v for v in af["versus_reference"] if v["rater"] == "gpt" and v["reference"] == "gold"
    )
    assert gpt_gold["auroc"] is not None and 0.5 < gpt_gold["auroc"] <= 1
    # multi-label: one binary field per category, judged one-vs-rest
    other = fields["motivation:other"]
    assert other["categories"] == ["no", "yes"] and other["raters"] == ["ann", "bob"]
    assert other["overall"]["cohen_kappa"]["value"] == pytest.approx(1.0)
    assert fields["motivation:rater_sycophancy"]["overall"]["cohen_kappa"]["value"] is None


def test_database_blind_by_default_revealed_on_request_and_retractions(store):
    ids = _fill(store, n=12)
    first = ids[0]
    bob_label = next(
        e
        for e in store.current_labels(transcript_ids=[first], rater="bob", field="alignment_faking")
    )
    ann_label = next(
        e
        for e in store.current_labels(transcript_ids=[first], rater="ann", field="alignment_faking")
    )
    # bob revises after the reveal to ann's value; blind stats must not see it
    flipped = "no" if ann_label.value == "yes" else "yes"
    label(
        store,
        first,
        ann_label.value if bob_label.value != ann_label.value else flipped,
        source="human",
        rater="bob",
        phase="revealed",
    )
    blind = _db_report(store.path, "--field", "alignment_faking")["fields"][0]
    revealed = _db_report(store.path, "--field", "alignment_faking", "--phase", "revealed")
    revealed = revealed["fields"][0]
    b_pa = blind["pairs"][0]["percent_agreement"]["value"]
    r_pa = revealed["pairs"][0]["percent_agreement"]["value"]
    assert abs(b_pa - r_pa) == pytest.approx(1 / 12)
    # a retracted label no longer counts
    store.retract(ann_label.id, rater="ann")
    after = _db_report(store.path, "--field", "alignment_faking")["fields"][0]
    assert after["pairs"][0]["n_items"] == 11


def test_database_errors_name_the_problem(tmp_path, store):
    code, out = run("--db", str(tmp_path / "missing.db"), "stats")
    assert code == 1 and "no database at" in out
    code, out = run("--db", str(store.path), "stats")
    assert code == 1 and "no labels yet" in out
    _fill(store, n=3)
    code, out = run("--db", str(store.path), "stats", "--rubric", "compliance")
    assert code == 1 and "no labels for rubric 'compliance'" in out and "goal_guarding" in out
    code, out = run("--db", str(store.path), "stats", "--field", "nope")
    assert code == 1 and "no labels for field 'nope' in any rubric" in out
    code, out = run(
        "--db",
        str(store.path),
        "stats",
        "--field",
        "alignment_faking",
        "--json",
        "--resamples",
        "0",
    )
    assert code == 0 and [f["field"] for f in json.loads(out)["fields"]] == [
        "goal_guarding.alignment_faking"
    ]


def test_categories_give_ordinal_words_their_order(tmp_path):
    rows = [
        "item,rater,value",
        "1,a,refused",
        "1,b,partial",
        "2,a,full",
        "2,b,full",
        "3,a,partial",
        "3,b,refused",
        "4,a,refused",
        "4,b,refused",
    ]
    path = write(tmp_path / "c.csv", "\n".join(rows) + "\n")
    code, out = run(
        "stats",
        "--ratings",
        str(path),
        "--level",
        "ordinal",
        "--categories",
        "refused,partial,full",
        "--resamples",
        "0",
        "--json",
    )
    assert code == 0, out
    (field,) = json.loads(out)["fields"]
    assert field["categories"] == ["refused", "partial", "full"]
    # neighbours disagree by one step only, so the linear-weighted kappa beats the plain one
    overall = field["overall"]
    assert overall["cohen_kappa_linear"]["value"] > overall["cohen_kappa"]["value"]
    code, out = run("stats", "--ratings", str(path), "--categories", "refused,full")
    assert code == 1 and "c.csv:3: value 'partial' is not one of --categories" in out


def test_positive_that_is_no_category_is_an_error(scored_csv, store):
    path, _ = scored_csv
    code, out = run("stats", "--ratings", str(path), "--positive", "maybe", "--resamples", "0")
    assert code == 1
    assert "--positive 'maybe' is not a category" in out and "yes" in out and "no" in out
    code, out = run(
        "stats", "--ratings", str(path), "--positive", "no", "--resamples", "0", "--json"
    )
    assert code == 0, out
    (v, *_) = json.loads(out)["fields"][0]["versus_reference"]
    assert v["positive"] == "no" and v["precision"] is not None
    _fill(store, n=4)
    code, out = run(
        "--db",
        str(store.path),
        "stats",
        "--field",
        "alignment_faking",
        "--positive",
        "maybe",
        "--resamples",
        "0",
    )
    assert code == 1 and "'maybe' is not a category" in out and "yes, no" in out


def test_raters_sharing_no_item_are_left_out_and_counted(store):
    ids = _fill(store, n=10)
    extra = [transcript(f"x{i}", model="m", condition="paid") for i in range(3)]
    store.insert_transcripts(extra)
    for tid in [t for t in store.transcript_ids() if t not in ids]:
        label(store, tid, "yes", source="classifier", rater="hughes", score=1.0)
    report = _db_report(store.path, "--field", "alignment_faking")
    (field,) = report["fields"]
    assert all(p["n_items"] > 0 for p in field["pairs"])
    assert all(v["n_items"] > 0 for v in field["versus_reference"])
    left = field["no_shared_items"]
    assert sorted(map(tuple, left["pairs"])) == [
        ("ann", "hughes"),
        ("bob", "hughes"),
        ("gpt", "hughes"),
        ("hughes", "gold"),
    ]
    assert sorted(map(tuple, left["versus_reference"])) == [
        ("hughes", "ann"),
        ("hughes", "bob"),
        ("hughes", "gold"),
    ]
    assert {tuple(p["raters"]) for p in field["pairs"]} == {
        ("ann", "bob"),
        ("ann", "gpt"),
        ("ann", "gold"),
        ("bob", "gpt"),
        ("bob", "gold"),
        ("gpt", "gold"),
    }
    code, out = run(
        "--db", str(store.path), "stats", "--field", "alignment_faking", "--resamples", "0"
    )
    assert code == 0, out
    assert "Left out 4 pairs and 3 comparisons with a reference of raters who share no item" in out
    assert not [line for line in out.splitlines() if "hughes" in line and line.startswith("│")]


def test_field_accepts_the_names_stats_prints(store):
    _fill(store, n=8)
    whole = _db_report(store.path)
    names = [f["field"] for f in whole["fields"]]
    assert "motivation:rater_sycophancy" in names
    for name in ("motivation:other", "alignment_faking"):
        (field,) = _db_report(store.path, "--field", name)["fields"]
        expected = next(f for f in whole["fields"] if f["field"] == name)
        assert field["field"] == name and field["overall"] == expected["overall"]
    # without --rubric stats prints rubric.field, and takes it back
    code, out = run("--db", str(store.path), "stats", "--resamples", "0", "--json")
    assert code == 0, out
    printed = [f["field"] for f in json.loads(out)["fields"]]
    assert "goal_guarding.motivation:other" in printed
    for name in ("goal_guarding.motivation:other", "goal_guarding.alignment_faking"):
        code, out = run(
            "--db", str(store.path), "stats", "--field", name, "--resamples", "0", "--json"
        )
        assert code == 0, out
        assert [f["field"] for f in json.loads(out)["fields"]] == [name]
    code, out = run(
        "--db",
        str(store.path),
        "stats",
        "--rubric",
        "goal_guarding",
        "--field",
        "motivation:nosuch",
    )
    assert code == 1 and "no category 'nosuch'" in out and "motivation:other" in out
