"""The inference path (library, CLI, the app started) never imports torch."""

import subprocess
import sys

import pytest

from helpers import ROOT

LIBRARY = """
import sys, numpy as np
import colorizer, colorizer.__main__
colorizer.load("gan").colorize(np.zeros((40, 30), np.uint8), restore="cracks")
"""
APP = """
import runpy
app = runpy.run_path("demo/app.py", run_name="not_main")
app["build"](app["start"]())  # the models loaded, the interface built: all but serving
"""
REPORT = """
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("TORCH" if bad else "CLEAN", bad[:3])
"""


def torch_modules_after(code: str) -> str:
    """The last line `code` prints after running in a fresh interpreter from the repository: CLEAN or TORCH."""
    p = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.strip().splitlines()[-1]


def test_the_library_and_the_cli_import_no_torch():
    assert torch_modules_after(LIBRARY).startswith("CLEAN")


@pytest.mark.slow
def test_the_app_started_imports_no_torch():
    assert torch_modules_after(LIBRARY + APP).startswith("CLEAN")
