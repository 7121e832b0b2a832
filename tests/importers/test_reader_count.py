"""A second reader process parses the whole file again: it is started only when a core is free
for it, and only for formats whose records it can share."""

from __future__ import annotations

import importers.prefetch as prefetch


def test_two_readers_only_with_two_free_cores(monkeypatch) -> None:
    monkeypatch.setattr(prefetch, "spare_cores", lambda: 2.0)
    assert prefetch.reader_count("hughes") == prefetch.READERS == 2
    assert prefetch.reader_count("inspect") == 1  # one item per record is not promised
    monkeypatch.setattr(prefetch, "spare_cores", lambda: 1.2)  # another job on one core
    assert prefetch.reader_count("hughes") == 1


def test_spare_cores_is_the_usable_cores_less_the_load(monkeypatch) -> None:
    monkeypatch.setattr(prefetch.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(prefetch.os, "getloadavg", lambda: (0.7, 0.5, 0.4))
    assert abs(prefetch.spare_cores() - 1.3) < 1e-9
