"""How command modules get the reviewer.cli.Context without importing reviewer.cli."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reviewer.cli import Context
else:
    Context = Any

# ctx.obj is the reviewer.cli.Context; taking it with pass_obj (rather than importing
# reviewer.cli's decorator) lets a command module be imported before reviewer.cli.
pass_context = click.pass_obj

__all__ = ["Context", "pass_context"]
