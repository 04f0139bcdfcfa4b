"""The inference path (library, CLI, app module) never imports torch."""

import subprocess
import sys

from helpers import ROOT

CODE = """
import sys, numpy as np
sys.path.insert(0, {root!r})
import colorizer, colorizer.__main__
colorizer.load("gan").colorize(np.zeros((40, 30), np.uint8))
sys.argv = ["app"]
import runpy; runpy.run_path({app!r}, run_name="not_main")
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("TORCH" if bad else "CLEAN", bad[:3])
"""


def test_inference_path_imports_no_torch():
    code = CODE.format(root=str(ROOT), app=str(ROOT / "demo" / "app.py"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().startswith("CLEAN"), p.stdout
