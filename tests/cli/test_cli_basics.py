from click.testing import CliRunner

from reviewer.cli import cli
from tests.factory import transcript


def test_a_file_that_is_not_sqlite_gets_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not a database at all" * 200)
    result = CliRunner().invoke(cli, ["--db", str(bogus), "info"])
    assert result.exit_code == 1
    assert "is not a reviewer database" in result.output and str(bogus) in result.output
    assert "Traceback" not in result.output


def test_info_shows_markup_and_escapes_from_the_data_literally(tmp_path, store):
    store.insert_transcripts(
        [transcript(turns=[], model="[bold red]evil\x1b[31m[/]", condition="free")]
    )
    result = CliRunner().invoke(cli, ["--db", str(store.path), "info"])
    assert result.exit_code == 0
    assert "[bold red]evil\\x1b[31m[/]" in result.output
    assert "\x1b" not in result.output


def test_info_without_a_database_says_what_to_do(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "info"])
    assert result.exit_code == 1 and "reviewer demo" in result.output
    assert not (tmp_path / "none.db").exists()


def test_validating_a_folder_is_an_error_not_a_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["rubrics", "validate", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder" in result.output
