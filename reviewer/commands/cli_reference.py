"""docs/cli.md, the command-line reference, written from the commands' own ``--help``.

A reference copied by hand goes stale the day an option changes; this one is regenerated
(``make docs``, or ``python -m reviewer.commands.cli_reference``) and a test fails when the
committed page differs from what the commands say now. The help is rendered at a fixed width
from the click tree itself, without running any command, so the page is the same on every
machine, whoever runs it and whatever their terminal or environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

WIDTH = 98
"""What `reviewer ... --help` prints in any terminal 100 columns wide or wider (click caps the
help at max_content_width 100, less its margin of 2)."""
PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
REGENERATE = "make docs"

HEADER = f"""\
# Command-line reference

Every command and subcommand of `reviewer`, with its `--help` exactly as the command prints
it. This page is generated: do not edit it by hand. After changing a command's options or
help text, run `{REGENERATE}` (or `.venv/bin/python -m reviewer.commands.cli_reference`) and
commit the result; `make test` fails while this page and the commands disagree.

The task pages say what the commands are for, with real output: see the [index](index.md).
"""


def walk(
    command: click.Command, parent: click.Context | None = None, name: str = "reviewer"
) -> Iterator[tuple[str, click.Context]]:
    """Every command of the tree, depth first in name order, each with the context its help
    is rendered in (fixed width, so wrapping never depends on the terminal)."""
    # make_context applies the command's own context_settings (`-h` as well as `--help`), as
    # a real invocation does; resilient parsing runs no callback and needs no argument.
    ctx = command.make_context(
        name,
        [],
        parent=parent,
        resilient_parsing=True,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                yield from walk(child, ctx, sub)


def render() -> str:
    """The whole page, as committed."""
    from reviewer.cli import cli

    commands = list(walk(cli))
    lines = [HEADER, "## Commands", ""]
    for path, _ctx in commands:
        anchor = path.replace(" ", "-")
        lines.append(f"- [`{path}`](#{anchor})")
    for path, ctx in commands:
        help_text = ctx.command.get_help(ctx).rstrip()
        lines += ["", f"## {path}", "", "```text", help_text, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reviewer.commands.cli_reference",
        description="Write docs/cli.md from the commands' --help, or check that it is current.",
    )
    parser.add_argument(
        "--check", action="store_true", help="Write nothing; exit 1 if the page is stale."
    )
    parser.add_argument("--out", type=Path, default=PAGE, help=f"Default: {PAGE}.")
    args = parser.parse_args(argv)
    page = render()
    current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
    if args.check:
        if current == page:
            print(f"{args.out} is current")
            return 0
        print(f"{args.out} is stale: run `{REGENERATE}` and commit it", file=sys.stderr)
        return 1
    if current == page:
        print(f"{args.out} was already current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
