import pytest
from click.testing import CliRunner

from reviewer.cli import cli
from rubrics import RubricError, builtin_rubric_paths, load_rubric, resolve_rubric
from rubrics.loader import parse_rubric
from tests.factory import transcript

MINIMAL = """
id = "tiny"
version = "1"
description = "A tiny rubric."
[[fields]]
id = "ok"
kind = "binary"
question = "Is it ok?"
  [[fields.categories]]
  id = "yes"
  key = "y"
  definition = "It is."
  [[fields.categories]]
  id = "no"
  key = "n"
  definition = "It is not."
"""


def test_builtins_load_with_the_fields_the_labeler_needs():
    assert set(builtin_rubric_paths()) >= {"goal_guarding", "compliance"}
    gg = resolve_rubric("goal_guarding")
    af = gg.field("alignment_faking")
    assert af.kind == "binary" and af.category_ids == ("yes", "no")
    assert [c.key for c in af.categories] == ["y", "n"]
    motivation = gg.field("motivation")
    assert motivation.kind == "multi" and not motivation.required
    assert motivation.category_ids == (
        "terminal_goal_guarding",
        "instrumental_goal_guarding",
        "rater_sycophancy",
        "low_coherence",
        "other",
    )
    assert [c.key for c in motivation.categories] == ["1", "2", "3", "4", "5"]
    assert motivation.is_valid([]) and motivation.is_valid(["other", "low_coherence"])
    assert not motivation.is_valid(["other", "other"]) and not motivation.is_valid("other")
    assert resolve_rubric("compliance").field("compliance").category_ids == (
        "refused",
        "partial",
        "full",
    )
    for rubric in (gg, resolve_rubric("compliance")):
        assert all(c.definition.strip() and c.examples for f in rubric.fields for c in f.categories)
        assert rubric.classifier is not None


def test_text_change_is_a_new_version_whitespace_is_not():
    base = parse_rubric(MINIMAL)
    assert parse_rubric(MINIMAL + "\n\n").content_hash == base.content_hash
    changed = parse_rubric(MINIMAL.replace("It is not.", "It is not ok."))
    assert changed.content_hash != base.content_hash


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda t: t.replace('kind = "binary"', 'kind = "scale"'), "kind must be one of"),
        (lambda t: t.replace('key = "n"', 'key = "y"'), "already used"),
        (lambda t: t.replace('key = "n"', 'key = "q"'), "reserved"),
        (lambda t: t.replace('id = "tiny"', 'id = "Tiny Rubric"'), "lower_snake_case"),
        (lambda t: t.replace('definition = "It is."', ""), "'definition'"),
        (lambda t: t + "\n[classifier]\nsystem='s'\ntemplate='no placeholder'\n", "{scratchpad}"),
        (lambda t: t.replace("[[fields]]", "[[fieldz]]"), "at least one [[fields]]"),
        (lambda t: t + "\n= broken", "not valid TOML"),
    ],
)
def test_validation_names_the_problem(tmp_path, mutation, message):
    path = tmp_path / "bad.toml"
    path.write_text(mutation(MINIMAL))
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_unknown_rubric_lists_builtins():
    with pytest.raises(RubricError, match="goal_guarding"):
        resolve_rubric("nope")


def test_rubrics_cli(tmp_path):
    runner = CliRunner()
    listing = runner.invoke(cli, ["rubrics", "list"])
    assert listing.exit_code == 0 and "goal_guarding" in listing.output
    shown = runner.invoke(cli, ["rubrics", "show", "goal_guarding"])
    assert "[y] yes" in shown.output and "instrumental_goal_guarding" in shown.output
    good = tmp_path / "tiny.toml"
    good.write_text(MINIMAL)
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('kind = "binary"', 'kind = "x"'))
    ok = runner.invoke(cli, ["rubrics", "validate", str(good)])
    assert ok.exit_code == 0 and "ok (tiny v1" in ok.output
    failed = runner.invoke(cli, ["rubrics", "validate", str(good), str(bad)])
    assert failed.exit_code == 1 and "kind must be one of" in failed.output


def test_labels_keep_the_rubric_version_they_were_made_under(store):

    store.insert_transcripts([transcript(turns=[])])
    v1 = parse_rubric(MINIMAL)
    v2 = parse_rubric(MINIMAL.replace("It is not.", "It is not ok.").replace('"1"', '"2"'))
    for r in (v1, v2):
        store.register_rubric(r.id, r.version, r.source_text, r.content_hash)
    store.append_label(
        1,
        rubric_id="tiny",
        rubric_hash=v1.content_hash,
        field="ok",
        value="yes",
        source="human",
        rater="a",
        phase="blind",
    )
    assert [v["version"] for v in store.rubric_versions("tiny")] == ["1", "2"]
    assert store.current_labels()[0].rubric_hash == v1.content_hash


def test_rubrics_list_and_show_know_rubrics_stored_in_the_database(store):
    old = parse_rubric(MINIMAL, origin="my.toml")
    new = parse_rubric(
        MINIMAL.replace('version = "1"', 'version = "2"').replace("Is it ok?", "Is it fine?"),
        origin="my.toml",
    )
    for r in (old, new):
        store.register_rubric(r.id, r.version, r.source_text, r.content_hash, r.origin)
    runner = CliRunner()
    listing = runner.invoke(cli, ["--db", str(store.path), "rubrics", "list"])
    assert listing.exit_code == 0, listing.output
    assert "goal_guarding" in listing.output
    stored = listing.output.split("stored in")[1]
    assert f"tiny  v1  {old.content_hash[:12]}" in stored
    assert f"tiny  v2  {new.content_hash[:12]}" in stored
    shown = runner.invoke(cli, ["--db", str(store.path), "rubrics", "show", "tiny"])
    assert shown.exit_code == 0, shown.output
    assert f"tiny v2 ({new.content_hash[:12]})" in shown.output
    assert "Is it fine?" in shown.output and "[y] yes: It is." in shown.output
    missing = runner.invoke(cli, ["--db", str(store.path), "rubrics", "show", "nosuch"])
    assert missing.exit_code == 1 and "no rubric 'nosuch'" in missing.output


def test_a_text_is_parsed_once_per_origin_and_errors_are_never_kept():
    first = parse_rubric(MINIMAL, origin="team/a.toml")
    assert parse_rubric(MINIMAL, origin="team/a.toml") is first  # an import asks many times
    other = parse_rubric(MINIMAL, origin="team/b.toml")
    assert other.origin == "team/b.toml" and other == first
    assert other.content_hash == first.content_hash
    for _ in range(2):
        with pytest.raises(RubricError, match="bad.toml"):
            parse_rubric(MINIMAL + "\n[[fields]]\n", origin="bad.toml")
