"""The Rich consoles that commands print through."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text

PIPED_WIDTH = 160


def make_console(*, stderr: bool = False) -> Console:
    """A console that does not interpret markup-like text by accident, and that is wide
    enough for the tables when output goes to a file or pipe (Rich would assume 80 columns
    there and crop the numbers). $COLUMNS still wins when set."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = PIPED_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def literal(value: object) -> Text:
    """Text from data (model names, conditions, paths), shown as is: no Rich markup, and
    control characters as visible escapes, so a transcript cannot restyle the terminal."""
    text = str(value)
    return Text("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))
