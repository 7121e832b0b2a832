"""Holds a database's write lock for a while, in a process of its own.

    python tests/lock_holder.py DB SECONDS

Prints ``locked`` once it holds the lock, then commits after SECONDS. The busy-database tests
start it to be the other process that an annotator or a classifier run must wait for.
"""

import sqlite3
import sys
import time

conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
