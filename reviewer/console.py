"""The Rich consoles that commands print through, and literal text for data.

Rich is imported when first needed, so that importing this module (every command does)
costs nothing at start-up.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

PIPED_WIDTH = 160


def make_console(*, stderr: bool = False) -> Console:
    """A console that does not interpret markup-like text by accident, and that is wide
    enough for the tables when output goes to a file or pipe (Rich would assume 80 columns
    there and crop the numbers). $COLUMNS still wins when set."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = PIPED_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def printable(value: object) -> str:
    """The text of a value with control characters (terminal escapes, newlines) and lone
    surrogates shown as visible escapes, for plain ``click.echo`` output."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def literal(value: object, style: str = "") -> Text:
    """Text from data (model names, conditions, paths), shown as is: no Rich markup, and
    control characters as visible escapes, so a transcript cannot restyle the terminal."""
    from rich.text import Text

    return Text(printable(value), style=style)


def echo_literal(text: object, *, err: bool = False) -> None:
    """``click.echo`` for lines that carry data: line breaks kept, every other control
    character (a terminal escape in a rater's name, say) shown as a visible escape."""
    import click

    for line in str(text).split("\n"):
        click.echo(printable(line), err=err)
