"""Problems a new user met in a trial of ``reviewer import``, each pinned by a test."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from db import Store
from importers.run import expand_paths, import_files
from reviewer.cli import cli
from tests.factory import hughes_results_path, openai_record, write_jsonl


def _run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), "import", *map(str, args)])


def _hughes_tree(root, shared_data):
    """Two pipeline results files under a folder, plus files the importer must leave alone."""
    record = shared_data / "transcripts" / "hughes_pipeline_record.json"
    first = hughes_results_path(root, model="claude-3-opus")
    second = hughes_results_path(root, model="claude-3-5-sonnet")
    shutil.copy(record, first)
    shutil.copy(record, second)
    (root / "notes.txt").write_text("not a transcript file")
    (root / ".hidden.json").write_text("[]")
    return first, second


# -- 1. a folder -----------------------------------------------------------------------


def test_a_folder_imports_the_files_inside_it_sorted(tmp_path, shared_data):
    root = tmp_path / "adir"
    first, second = _hughes_tree(root, shared_data)
    db = tmp_path / "r.db"
    result = _run(db, root, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [f["path"] for f in payload["files"]] == sorted([str(first), str(second)])
    assert [f["status"] for f in payload["files"]] == ["done", "done"]
    assert Store(db).transcript_count() == 2  # one per model


def test_a_folder_says_what_it_did(tmp_path, shared_data):
    root = tmp_path / "adir"
    _hughes_tree(root, shared_data)
    result = _run(tmp_path / "r.db", root)
    assert result.exit_code == 0, result.output
    assert "no such file" not in result.output
    assert f"{root}: a folder: importing 2 files" in result.output
    assert "skipping 1 file of another type (notes.txt)" in result.output
    assert "claude-3-5-sonnet" in result.output  # rows name the file below the folder


def test_a_folder_with_nothing_importable_fails_and_says_so(tmp_path):
    root = tmp_path / "adir"
    root.mkdir()
    (root / "readme.txt").write_text("hello")
    result = _run(tmp_path / "r.db", root)
    assert result.exit_code == 1
    assert f"{root} is a folder with no file of a known type" in result.output


def test_a_folder_skips_the_databases_own_files(tmp_path):
    db = tmp_path / "r.db"
    good = write_jsonl(tmp_path / "chats.jsonl", [openai_record()])
    (tmp_path / "r.db.rejected.jsonl").write_text('{"reason": "x"}\n')
    expanded = expand_paths([tmp_path], db)
    assert [e.path for e in expanded.files] == [good]
    assert import_files(Store(db), [tmp_path])[0].status == "done"


# -- 2. a truncated hughes file --------------------------------------------------------


def _hughes_text(shared_data, copies: int = 1) -> str:
    records = json.loads((shared_data / "transcripts" / "hughes_pipeline_record.json").read_text())
    return json.dumps(records * copies, indent=4)


def test_a_hughes_file_cut_inside_its_first_record_is_still_hughes(tmp_path, shared_data):
    from importers.base import detect_format

    text = _hughes_text(shared_data)
    for cut in (100, 400, len(text) // 3):  # inside user_input, inside prompt, further on
        path = tmp_path / f"cut{cut}.json"
        path.write_text(text[:cut])
        assert detect_format(path) == "hughes", cut


def test_a_truncated_hughes_file_says_the_json_ends_early(tmp_path, shared_data):
    text = _hughes_text(shared_data, copies=3)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])  # inside the second record
    db = tmp_path / "r.db"
    result = _run(db, path, "--model", "claude-3-opus")
    assert result.exit_code == 1
    assert f"{path}: record 1" in result.output
    assert "the JSON ends early, inside record 1" in result.output
    assert "right here" not in result.output and "------^" not in result.output
    assert "│ hughes" in result.output
    assert Store(db).transcript_count() == 0


# -- 3. a truncated JSONL line ---------------------------------------------------------


def test_a_truncated_jsonl_line_gets_a_whole_message(tmp_path):
    path = tmp_path / "chats.jsonl"
    line = json.dumps(openai_record())
    path.write_text(line + "\n" + line[:40] + "\n")
    start = line[:40].rindex('"') + 1  # the string the cut leaves open, 1-based column
    result = _run(tmp_path / "r.db", path)
    assert result.exit_code == 1
    expected = (
        f"{path}: line 2, record 1: invalid JSON: unterminated string starting at column "
        f"{start} (the line ends before the JSON does: cut off?)"
    )
    assert expected in result.output, result.output


def test_other_json_errors_in_a_line_say_what_and_where(tmp_path):
    from importers.base import ImportOptions
    from importers.jsonstream import iter_lines

    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1,, "b": 2}\n{"a": tru}\n')
    reasons = [r.reason for r in iter_lines(path, ImportOptions())]
    assert reasons == [
        "invalid JSON: expecting property name enclosed in double quotes at column 9",
        "invalid JSON: expecting value at column 7",
    ]


# -- 4. errors about the mapping name the file and list the fields --------------------


def test_an_unknown_label_field_names_the_file_and_lists_the_fields(tmp_path, shared_data):
    gold = shared_data / "labels" / "gold_106.jsonl"
    result = _run(
        tmp_path / "r.db",
        gold,
        "--format",
        "table",
        "--map",
        "scratchpad=text",
        "--map",
        "label.nosuch=label",
    )
    assert result.exit_code == 1
    assert f"{gold}: --map label.nosuch=label: no built-in rubric has a field 'nosuch'" in (
        result.output
    )
    for listed in ("goal_guarding: alignment_faking, motivation", "compliance: compliance"):
        assert listed in result.output, result.output


def test_a_field_missing_from_the_given_rubric_names_the_file(tmp_path, shared_data):
    gold = shared_data / "labels" / "gold_106.jsonl"
    result = _run(
        tmp_path / "r.db",
        gold,
        "--format",
        "table",
        "--map",
        "scratchpad=text",
        "--map",
        "label.nosuch=label",
        "--rubric",
        "compliance",
    )
    assert result.exit_code == 1
    assert f"{gold}: --map label.nosuch=label: rubric 'compliance' has no field 'nosuch'" in (
        result.output
    )
    assert "its fields are compliance" in result.output


def test_every_request_error_names_the_file(tmp_path, shared_data):
    gold = shared_data / "labels" / "gold_106.jsonl"
    cases = [
        ["--map", "nosuch=text"],
        ["--map", "scratchpad=text", "--value", "a=b"],
        ["--map", "scratchpad=text", "--map", "score.alignment_faking=x"],
        ["--map", "scratchpad=text", "--map", "label.alignment_faking=label", "--rubric", "nope"],
    ]
    for extra in cases:
        result = _run(tmp_path / "r.db", gold, "--format", "table", *extra)
        assert result.exit_code == 1, extra
        assert result.output.startswith(f"{gold}: "), (extra, result.output)


# -- 5. a hughes file whose path carries no model --------------------------------------


def test_a_hughes_file_without_a_model_in_its_path_is_refused(tmp_path, shared_data):
    path = tmp_path / "record.json"
    shutil.copy(shared_data / "transcripts" / "hughes_pipeline_record.json", path)
    db = tmp_path / "r.db"
    result = _run(db, path)
    assert result.exit_code == 1
    assert f"{path}: no model in the path" in result.output
    assert "pass --model NAME, since the model is part of each transcript's identity" in (
        result.output
    )
    assert "--allow-unknown-model" in result.output
    assert Store(db).transcript_count() == 0
    # With the model the file goes in once; running it again with the same model adds nothing.
    assert _run(db, path, "--model", "claude-3-opus").exit_code == 0
    assert _run(db, path, "--model", "claude-3-opus").exit_code == 0
    assert Store(db).transcript_count() == 1


def test_allow_unknown_model_imports_with_a_warning_printed_first(tmp_path, shared_data):
    path = tmp_path / "record.json"
    shutil.copy(shared_data / "transcripts" / "hughes_pipeline_record.json", path)
    db = tmp_path / "r.db"
    result = _run(db, path, "--allow-unknown-model")
    assert result.exit_code == 0, result.output
    warning = f"{path}: warning: no model in the path"
    assert warning in result.output
    assert result.output.index(warning) < result.output.index("Imported into")
    [row] = Store(db).execute("SELECT model FROM transcripts")
    assert row[0] is None
    payload = json.loads(_run(db, path, "--allow-unknown-model", "--json").output)
    assert payload["files"][0]["warnings"][0].startswith("no model in the path")


def test_a_model_from_the_pipeline_layout_needs_no_option(tmp_path, shared_data):
    path = hughes_results_path(tmp_path, model="claude-3-opus")
    shutil.copy(shared_data / "transcripts" / "hughes_pipeline_record.json", path)
    db = tmp_path / "r.db"
    result = _run(db, path)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    [row] = Store(db).execute("SELECT model FROM transcripts")
    assert row[0] == "claude-3-opus"
