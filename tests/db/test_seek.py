"""Finding an index's distinct keys by seeking gives what GROUP BY gives, in the same order."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from db.seek import distinct_keys, distinct_values, in_key

COLUMNS = ("a", "b", "c")
cell = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["", "x", "X", "x y", "é", "10", "'; DROP TABLE t; --"]),
    st.binary(max_size=2),
)


def _table(rows) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, c)")
    conn.execute("CREATE INDEX t_abc ON t(a, b, c)")
    conn.executemany("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", rows)
    return conn


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell), max_size=40))
def test_the_keys_are_those_of_group_by_in_index_order(rows):
    conn = _table(rows)
    grouped = conn.execute("SELECT a, b, c FROM t GROUP BY a, b, c ORDER BY a, b, c").fetchall()
    assert distinct_keys(conn, "t", COLUMNS, nullable=COLUMNS) == grouped
    # Each key's rows are found by the key itself, NULLs and types included.
    for key in grouped:
        n = conn.execute(f"SELECT COUNT(*) FROM t WHERE {in_key(COLUMNS)}", key).fetchone()[0]
        assert n == sum(1 for r in rows if _same(r, key))


def _same(row, key) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and type(x) is type(y) and x == y)
        or (isinstance(x, int | float) and isinstance(y, int | float) and x == y)
        for x, y in zip(row, key, strict=True)
    )


def test_held_columns_and_skipped_values():
    conn = _table([("r1", "_meta", 1), ("r1", "f", None), ("r1", "f", 2), ("r2", "f", 3)])
    assert distinct_keys(conn, "t", COLUMNS, nullable=("c",), fixed={"a": "r1"}) == [
        ("r1", "_meta", 1),
        ("r1", "f", None),
        ("r1", "f", 2),
    ]
    assert distinct_keys(
        conn, "t", COLUMNS, nullable=("c",), skip=lambda col, v: col == "b" and v[0] == "_"
    ) == [("r1", "f", None), ("r1", "f", 2), ("r2", "f", 3)]
    assert distinct_keys(conn, "t", COLUMNS, fixed={"a": "nobody"}) == []
    # Without ``nullable`` a NULL is not looked for: the caller says a column has none.
    assert distinct_values(conn, "t", COLUMNS, ["r1", "f"], nullable=False) == [2]


def test_every_statement_seeks_the_index():
    conn = _table([(k % 3, k % 5, k) for k in range(200)])
    conn.execute("ANALYZE")
    plans = []
    conn.set_trace_callback(plans.append)
    distinct_keys(conn, "t", COLUMNS, nullable=COLUMNS)
    conn.set_trace_callback(None)
    assert len(plans) > 10
    for sql in plans:
        steps = [r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert all("USING COVERING INDEX t_abc" in s for s in steps), (sql, steps)
        assert not any(s.startswith("SCAN") for s in steps), (sql, steps)
