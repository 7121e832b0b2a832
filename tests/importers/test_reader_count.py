"""A second reader process parses the whole file again: it is started only when a core is free
for it, and only for formats whose records it can share."""

from __future__ import annotations

import os

import pytest

import importers.prefetch as prefetch


def test_two_readers_only_with_two_free_cores(monkeypatch) -> None:
    monkeypatch.setattr(prefetch, "spare_cores", lambda: 2.0)
    assert prefetch.reader_count("hughes") == prefetch.READERS == 2
    assert prefetch.reader_count("inspect") == 1  # one item per record is not promised
    monkeypatch.setattr(prefetch, "spare_cores", lambda: 1.2)  # another job on one core
    assert prefetch.reader_count("hughes") == 1


def test_without_the_kernels_cpu_times_spare_cores_are_the_cores_less_the_load(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(prefetch, "PROC_STAT", str(tmp_path / "no-such-file"))
    monkeypatch.setattr(prefetch.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(prefetch.os, "getloadavg", lambda: (0.7, 0.5, 0.4))
    assert abs(prefetch.spare_cores() - 1.3) < 1e-9


def _stat(*cpus: tuple[int, int]) -> str:
    """A /proc/stat with each CPU's (busy, idle) ticks (idle split into idle and iowait)."""
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    for n, (busy, idle) in enumerate(cpus):
        lines.append(f"cpu{n} {busy} 0 0 {idle - idle // 4} {idle // 4} 0 0 0 5 0")
    return "\n".join([*lines, "intr 1 2 3", "ctxt 9"]) + "\n"


def test_spare_cores_are_the_idle_time_of_this_process_cpus_now(monkeypatch, tmp_path) -> None:
    """Measured over a moment, not the last minute: CPU 0 busy throughout, CPU 1 idle but
    for a quarter, CPU 2 idle and not this process's to use."""
    stat = tmp_path / "stat"
    snapshots = iter([_stat((100, 100), (50, 50), (0, 10)), _stat((200, 100), (75, 125), (0, 110))])
    stat.write_text(next(snapshots))
    monkeypatch.setattr(prefetch, "PROC_STAT", str(stat))
    monkeypatch.setattr(prefetch.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(prefetch.os, "getloadavg", lambda: (2.0, 2.0, 2.0))  # a busy minute past
    monkeypatch.setattr(prefetch.time, "sleep", lambda s: stat.write_text(next(snapshots)))
    assert abs(prefetch.spare_cores() - 0.75) < 1e-9


def test_spare_cores_of_this_machine_are_within_its_cores() -> None:
    from db.connection import usable_cores

    if not os.path.exists(prefetch.PROC_STAT):
        pytest.skip("no /proc/stat here: spare cores come from the load average")
    assert 0.0 <= prefetch.spare_cores() <= usable_cores()
