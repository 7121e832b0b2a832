"""Fixtures shared by every test folder, built on tests/factory.py.

The folders mirror the code: db/ (the store, label events, migrations, locking, merge,
backup and doctor), importers/, rubrics/, queues/, agreement/ (statistics, estimates,
analysis), classify/, export/, report/, demo/, tui/ (Pilot and the headless session),
cli/ (commands as a user types them), realdata/ (the published files in ../shared/data) and
architecture/ (the design's walls). Records and databases come from tests/factory.py only.
Tests marked ``slow`` (real processes, concurrency, a browser, big or real data, many
generated cases) are left out by ``make test-fast``; ``make test`` runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from db import Store
from tests import factory

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real files in ../shared/data; tests that need them skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared/data is absent)")
    return SHARED_DATA


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty database in a fresh folder."""
    s = Store(tmp_path / "test.db")
    yield s
    s.close()


@pytest.fixture
def filled(store: Store) -> Store:
    """``store`` with twelve labeler transcripts and their classifier labels."""
    factory.fill(store, 12)
    return store


@pytest.fixture
def study_db(tmp_path: Path) -> Path:
    """The path of the constructed study database (``factory.build_study``)."""
    return factory.build_study(tmp_path / "study.db")
