"""The import command and every importer load without heavy or UI libraries."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter

MODULES = [
    "reviewer.cli",
    "reviewer.commands.import_cmd",
    "importers.run",
    "importers.prefetch",
    "importers.hughes",
    "importers.inspect",
    "importers.redwood",
    "importers.chat",
    "importers.table",
    "importers.mapping",
    "importers.zipmembers",
]


def test_importers_load_without_heavy_modules():
    code = (
        "import sys, importlib\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'anthropic', "
        "'openai', 'pandas', 'numpy', 'pyarrow'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the importers pulled in: {out.stdout}"
