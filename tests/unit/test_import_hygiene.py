"""The headless packages must never pull in Textual (the TUI must stay optional and fast)."""

import subprocess
import sys

HEADLESS = ["db", "db.store", "importers", "importers.reasoning", "rubrics", "reviewer.cli"]


def test_headless_packages_do_not_import_textual():
    code = (
        "import sys, importlib\n"
        f"for name in {HEADLESS!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'anthropic', 'openai', 'pandas'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"headless import pulled in: {out.stdout}"
