"""The inference path (library, CLI, the app started) never imports torch; no module of the library, the app or the
benchmark is part of an import cycle, counting imports inside functions."""

import ast
import subprocess
import sys
from pathlib import Path

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


def imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules a file imports anywhere in it (inside functions too): `from a import b` counts as
    a.b where that is a module, else as a."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names]
            names = names if all(n in modules for n in names) else [node.module, *names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def test_no_import_cycles():
    files = {}
    for package in ("colorizer", "demo", "bench"):
        for path in (ROOT / package).glob("*.py"):
            name = f"{package}.{path.stem}".removesuffix(".__init__")
            files[name] = path
    graph = {name: imports(path, set(files)) - {name} for name, path in files.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in graph[start])

    cycles = sorted(name for name in graph if reaches(name, name, set()))
    assert cycles == [], f"modules in an import cycle: {cycles}"
