"""The SQLite store: connections, schema migrations and the store API.

This package is the only code in the project that writes SQL.
"""

from db.connection import SchemaTooNewError, connect, default_db_path
from db.store import Store

__all__ = ["SchemaTooNewError", "Store", "connect", "default_db_path"]
