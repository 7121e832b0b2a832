"""Import sqlite-utils without letting it import pandas and numpy.

sqlite-utils imports pandas and numpy at module load, when they are installed, only to map
their types on insert, which this project never asks of it. That costs about half a second at
every start of the CLI and the TUI. We hide them during the import; code that needs pandas
imports it later as usual, and sqlite-utils works the same on the plain Python values we give it.
"""

from __future__ import annotations

import sys

_HIDDEN = ("pandas", "numpy")


def _load():
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


sqlite_utils = _load()
Database = sqlite_utils.Database
