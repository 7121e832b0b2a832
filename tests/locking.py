"""Another process that holds a database's write lock, for the busy-database tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLDER = Path(__file__).parent / "lock_holder.py"


def hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Start a process that takes ``db``'s write lock and keeps it ``seconds``; returns once
    it holds the lock."""
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc
