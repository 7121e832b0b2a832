"""Progress off a terminal: a line now and then on stderr, nothing for short or small work."""

from __future__ import annotations

from reviewer.commands._progress import progress


def test_a_line_now_and_then_off_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setenv("REVIEWER_PROGRESS_SECONDS", "0")
    with progress("reading labels", quiet_seconds=0.0, unit="events") as update:
        update(250_000, 1_000_000)
        update(500_000, 1_000_000)
        update(1_000_000, 1_000_000)
    lines = [line.rsplit(", ", 1)[0] for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "reading labels: 250,000 of 1,000,000 events (25%)",
        "reading labels: 500,000 of 1,000,000 events (50%)",
        "reading labels: 1,000,000 of 1,000,000 events (100%)",
    ]


def test_short_or_small_work_shows_nothing(capsys, monkeypatch) -> None:
    monkeypatch.setenv("REVIEWER_PROGRESS_SECONDS", "0")
    with progress("reading labels") as update:  # over within a second
        update(1, 2)
    with progress("copying", quiet_seconds=0.0, minimum_total=100) as update:
        update(1, 50)
    with progress("off", enabled=False) as update:
        assert update is None
    assert capsys.readouterr().err == ""
