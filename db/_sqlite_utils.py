"""The connection wrapper every store hands out, with sqlite-utils loaded only when needed.

Most of the project talks to SQLite through ``Database.conn`` (a plain ``sqlite3``
connection). sqlite-utils is needed only to apply migrations and for the odd helper a test
uses (``db["table"].insert``, ``db.table_names()``), yet importing it cost 42 of the 75 ms
of ``import reviewer.cli``. So :class:`Database` holds the connection and builds the
sqlite-utils object the first time something other than ``conn`` is asked of it.

sqlite-utils imports pandas and numpy at module load, when they are installed, only to map
their types on insert, which this project never asks of it (about half a second). We hide
them during the import; code that needs pandas imports it later as usual, and sqlite-utils
works the same on the plain Python values we give it.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

_HIDDEN = ("pandas", "numpy")


def load_sqlite_utils():
    """The sqlite_utils module, imported without pandas and numpy."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils


class Database:
    """A ``sqlite3`` connection (``conn``); any other attribute or ``db[name]`` is that of
    a ``sqlite_utils.Database`` over the same connection, created on first use."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._full = None

    def full(self):
        """The ``sqlite_utils.Database`` over this connection."""
        if self._full is None:
            self._full = load_sqlite_utils().Database(self.conn, execute_plugins=False)
        return self._full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_full":
            raise AttributeError(name)
        return getattr(self.full(), name)

    def __getitem__(self, table: str):
        return self.full()[table]
