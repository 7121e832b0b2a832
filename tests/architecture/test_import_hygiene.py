"""The headless packages must never pull in Textual (the TUI must stay optional and fast)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter per check

HEADLESS = ["db", "db.store", "importers", "importers.reasoning", "rubrics", "reviewer.cli"]


def test_headless_packages_do_not_import_textual():
    code = (
        "import sys, importlib\n"
        f"for name in {HEADLESS!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'anthropic', 'openai', 'pandas', 'matplotlib'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"headless import pulled in: {out.stdout}"


def test_no_module_outside_the_tui_imports_textual():
    """Every module of db, importers, rubrics and reviewer (but reviewer.tui), statistics and
    the classifier runner included, imports without Textual or an LLM SDK, and without
    matplotlib (the report imports it when it draws)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "names = []\n"
        "for top in ('db', 'importers', 'rubrics', 'reviewer'):\n"
        "    pkg = importlib.import_module(top)\n"
        "    names.append(top)\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, top + '.'):\n"
        "        if not m.name.startswith('reviewer.tui'):\n"
        "            names.append(m.name)\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'anthropic', 'openai', 'matplotlib'))\n"
        "print(len(names), ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, _, bad = out.stdout.strip().partition(" ")
    assert int(count) > 40
    assert bad == "", f"imported outside reviewer.tui: {bad}"


def test_the_app_starts_without_matplotlib():
    """The analysis screen and the report's charts leave matplotlib unimported until a
    report is drawn, so the labeler starts as fast as before."""
    code = (
        "import sys, importlib\n"
        "for name in ('reviewer.cli', 'reviewer.tui.app', 'reviewer.tui.screens.analysis'):\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the app pulled in: {out.stdout}"
