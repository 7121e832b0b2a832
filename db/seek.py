"""The distinct keys of an index, found by seeking from each to the next.

SQLite reads ``SELECT ... GROUP BY a, b, c`` by walking the whole index and comparing every
grouped column at each entry. When the keys are few and the rows many (three million labels
in a few dozen groups), it is cheaper to find the keys first, a few seeks each
(``MIN(column)`` past the previous value, which SQLite answers from the index), and then to
read each key's rows as one range of the index. Table and column names here are the
caller's constants, never text from the data: values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def distinct_keys(
    conn,
    table: str,
    columns: Sequence[str],
    *,
    nullable: Sequence[str] = (),
    fixed: dict[str, Any] | None = None,
    skip: Callable[[str, Any], bool] | None = None,
) -> list[tuple]:
    """Every distinct combination of ``columns`` in ``table``, in index order (NULL first,
    then SQLite's order of types and values), when an index begins with ``columns`` in this
    order. ``nullable``: the columns that may hold NULL. ``fixed``: columns held to one value
    (a value no row has finds nothing). ``skip(column, value)``: values not to descend into."""
    fixed = fixed or {}
    keys: list[tuple] = []

    def walk(prefix: list[Any]) -> None:
        depth = len(prefix)
        if depth == len(columns):
            keys.append(tuple(prefix))
            return
        column = columns[depth]
        if fixed.get(column) is not None:
            values = [fixed[column]]
        else:
            values = distinct_values(conn, table, columns, prefix, nullable=column in nullable)
        for value in values:
            if skip is None or not skip(column, value):
                walk([*prefix, value])

    walk([])
    return keys


def distinct_values(
    conn, table: str, columns: Sequence[str], prefix: Sequence[Any], *, nullable: bool
) -> list[Any]:
    """The distinct values of the column after ``prefix`` among the rows whose first columns
    are ``prefix``: NULL first (if ``nullable``), then ascending."""
    column = columns[len(prefix)]
    held = " AND ".join(f"{c} IS ?" for c in columns[: len(prefix)])
    where = f"{held} AND " if held else ""
    prefix = list(prefix)
    values: list[Any] = []
    if (
        nullable
        and conn.execute(
            f"SELECT 1 FROM {table} WHERE {where}{column} IS NULL LIMIT 1", prefix
        ).fetchone()
    ):
        values.append(None)
    value = conn.execute(
        f"SELECT MIN({column}) FROM {table} WHERE {held or 'TRUE'}", prefix
    ).fetchone()[0]
    while value is not None:
        values.append(value)
        value = conn.execute(
            f"SELECT MIN({column}) FROM {table} WHERE {where}{column} > ?", [*prefix, value]
        ).fetchone()[0]
    return values


def in_key(columns: Sequence[str]) -> str:
    """``a IS ? AND b IS ? ...``: the rows of one key (NULLs matched), as an index range."""
    return " AND ".join(f"{c} IS ?" for c in columns)
