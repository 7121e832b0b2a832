"""Every `reviewer ...` command line and option that README.md and docs/*.md type exists.

Command lines are read from code blocks (`$ reviewer ...` prompts, and synopsis lines that
start with `reviewer`) and from inline code spans that start with `reviewer `; each is resolved
against the click command tree: every subcommand must exist and every option must belong to
the command it is typed after. An inline span that is only an option (`--skip-bad`) must be an
option of some command. docs/cli.md is left out: it is generated from the tree itself.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from reviewer.cli import cli
from tests.conftest import ROOT

FENCE = re.compile(r"^\s*```")
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LONE_OPTION = re.compile(r"^--[a-z][a-z0-9-]*(?:[ =][^\s`]+)?$")
SEPARATORS = re.compile(r"\s*(?:;|&&|\|\||\s\|\s)\s*")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_.]*$")


@dataclass(frozen=True)
class Typed:
    """A command line as a page types it."""

    where: str
    text: str


def documented_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [page for page in pages if page.name != "cli.md"]


def _join_continuations(lines: list[str]) -> list[tuple[int, str]]:
    """Lines ending in a backslash, and indented synopsis lines (`    [--x] [--y]`), belong to
    the command line above them."""
    joined: list[tuple[int, str]] = []
    for number, line in lines:
        stripped = line.strip()
        continues = joined and (
            joined[-1][1].endswith("\\")
            or (line[:1].isspace() and stripped.startswith(("[", "--")) and joined[-1][2])
        )
        if continues:
            first, text, synopsis = joined[-1]
            joined[-1] = (first, text.rstrip("\\").rstrip() + " " + stripped, synopsis)
        else:
            joined.append((number, line, False))
            if stripped.startswith("reviewer "):
                joined[-1] = (number, line, True)
    return [(number, text) for number, text, _synopsis in joined]


def typed_commands(page: Path) -> list[Typed]:
    """Every command line on a page, in order."""
    found: list[Typed] = []
    name = page.relative_to(ROOT).as_posix()
    in_block = False
    block: list[tuple[int, str]] = []
    paragraph: list[tuple[int, str]] = []

    def inline_spans() -> None:
        # An inline span may break across lines: read the paragraph as one line.
        if paragraph:
            text = " ".join(line.strip() for _number, line in paragraph)
            for span in INLINE.findall(text):
                if span.startswith("reviewer ") or LONE_OPTION.match(span):
                    found.append(Typed(f"{name}:{paragraph[0][0]}", span))
            paragraph.clear()

    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            inline_spans()
            if in_block:
                for first, text in _join_continuations(block):
                    stripped = text.strip()
                    if stripped.startswith("$ "):
                        found.append(Typed(f"{name}:{first}", stripped[2:]))
                    elif text.startswith("reviewer "):
                        found.append(Typed(f"{name}:{first}", stripped))
                block = []
            in_block = not in_block
            continue
        if in_block:
            block.append((number, line))
        elif line.strip():
            paragraph.append((number, line))
        else:
            inline_spans()
    inline_spans()
    return found


def _tokens(segment: str) -> list[str]:
    try:
        tokens = shlex.split(segment, comments=True)
    except ValueError:
        tokens = segment.split()
    cleaned: list[str] = []
    for token in tokens:
        if token.startswith((">", "<", "2>")):
            break
        for part in token.replace("[", " ").replace("]", " ").split():
            part = part.rstrip(".").rstrip(",")
            if part in {"|", "...", ""}:
                continue
            # `--phase blind|revealed`: alternatives of a value, not a pipe.
            cleaned.append(part)
    return cleaned


def _options(command: click.Command, ctx: click.Context) -> dict[str, click.Parameter]:
    names: dict[str, click.Parameter] = {}
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                names[opt] = param
    return names


def _takes(param: click.Parameter) -> int:
    """How many value tokens follow the option."""
    if isinstance(param, click.Option) and (param.is_flag or param.count):
        return 0
    return max(param.nargs, 1)


def problems_in(typed: Typed) -> list[str]:
    """What in one typed command line does not exist ([] when all of it does)."""
    text = typed.text
    if LONE_OPTION.match(text):
        option = re.split(r"[ =]", text, maxsplit=1)[0]
        return (
            []
            if option in every_option()
            else [f"{typed.where}: `{option}` is no option of any reviewer command"]
        )
    problems: list[str] = []
    for segment in SEPARATORS.split(text):
        tokens = _tokens(segment)
        starts = [i for i, t in enumerate(tokens) if t == "reviewer" or t.endswith("/reviewer")]
        if not starts:
            continue
        tokens = tokens[starts[0] + 1 :]
        command: click.Command = cli
        ctx = click.Context(cli, info_name="reviewer", **cli.context_settings)
        path = "reviewer"
        positional_seen = False
        skip = 0
        for token in tokens:
            if skip:
                skip -= 1
                continue
            if token.startswith("-") and len(token) > 1 and not token.lstrip("-")[:1].isdigit():
                option = token.split("=", 1)[0]
                options = _options(command, ctx)
                if option not in options:
                    problems.append(f"{typed.where}: `{path}` has no option {option} (in: {text})")
                    continue
                if "=" not in token:
                    skip = _takes(options[option])
                continue
            if isinstance(command, click.Group) and not positional_seen:
                if PLACEHOLDER.match(token):
                    break  # `reviewer COMMAND --help`: nothing more to resolve
                sub = command.get_command(ctx, token)
                if sub is None:
                    problems.append(
                        f"{typed.where}: `{path}` has no subcommand {token!r} (in: {text})"
                    )
                    break
                ctx = click.Context(sub, info_name=token, parent=ctx)
                command, path = sub, f"{path} {token}"
                continue
            positional_seen = True
    return problems


_ALL_OPTIONS: set[str] = set()


def every_option() -> set[str]:
    if not _ALL_OPTIONS:
        stack = [(cli, click.Context(cli, info_name="reviewer", **cli.context_settings))]
        while stack:
            command, ctx = stack.pop()
            _ALL_OPTIONS.update(_options(command, ctx))
            if isinstance(command, click.Group):
                for name in command.list_commands(ctx):
                    sub = command.get_command(ctx, name)
                    stack.append((sub, click.Context(sub, info_name=name, parent=ctx)))
    return _ALL_OPTIONS


@pytest.mark.parametrize("page", documented_pages(), ids=lambda p: p.name)
def test_every_command_and_option_a_page_types_exists(page: Path) -> None:
    typed = typed_commands(page)
    problems = [problem for line in typed for problem in problems_in(line)]
    assert not problems, "\n".join(problems)


def test_the_pages_type_commands_at_all() -> None:
    """The parser finds the commands the pages show (else the test above checks nothing)."""
    readme = typed_commands(ROOT / "README.md")
    assert any(t.text.startswith("reviewer --db") for t in readme)
    assert sum(len(typed_commands(page)) for page in documented_pages()) > 100


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("reviewer import x.jsonl --no-such-flag", "has no option --no-such-flag"),
        ("reviewer --db x.db labell --annotator ann", "has no subcommand 'labell'"),
        ("reviewer queue make q --kind random", "has no subcommand 'make'"),
        (
            "reviewer stats --ratings f.csv --annotator ann",
            "`reviewer stats` has no option --annotator",
        ),
        ("reviewer export --format csv --out x.csv --json-lines", "has no option --json-lines"),
        ("--skip-badly", "is no option of any reviewer command"),
        ("mkdir b; reviewer --db l.db backup b/x.db --force", "has no option --force"),
    ],
)
def test_a_mistyped_command_or_option_is_caught(text: str, wrong: str) -> None:
    [problem] = problems_in(Typed("page.md:1", text))
    assert wrong in problem


@pytest.mark.parametrize(
    "text",
    [
        "reviewer --db tour.db import gold.jsonl --format table --map scratchpad=text --rater gold",
        "reviewer analyze [--design QUEUE | --assume-random] [--phase blind|revealed]",
        "reviewer stats --ratings f.csv --resamples 0 --seed 3 --json",
        "env -u OPENAI_API_KEY reviewer classify --rubric compliance --model openai:gpt-4o-mini",
        "reviewer export --no-text --format csv --out x.csv",
        "reviewer analyze --compare-variants a b --json",
        "--skip-bad",
    ],
)
def test_a_correct_command_passes(text: str) -> None:
    assert problems_in(Typed("page.md:1", text)) == []
