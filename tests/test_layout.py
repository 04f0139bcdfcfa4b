"""The code's structure: no module of the project is part of an import cycle, and no module imports another
product's entry point (a module that runs as a command), counting imports inside functions in both."""

import ast
from pathlib import Path

from helpers import ROOT

PACKAGES = ("colorizer", "demo", "bench", "export", "train")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages (subpackages included)."""
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    return files


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


def product(module: str) -> str:
    """What a module serves: "colorize" (the colorizers' training and export), "restore" (the restorer's and the
    crack filler's), or else its top package (the library, the app, the benchmark, train's shared modules)."""
    if module in ("train.__main__", "export.__main__") or module.startswith("train.colorize"):
        return "colorize"
    if module == "export.restorer" or module.startswith("train.restore"):
        return "restore"
    return module.split(".")[0]


FILES = project_modules()
GRAPH = {name: imports(path, set(FILES)) - {name} for name, path in FILES.items()}


def test_no_import_cycles():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in GRAPH[start])

    assert {"colorizer.session", "train.trainer", "export.restorer"} <= set(GRAPH)  # the walk sees subpackages
    cycles = sorted(name for name in GRAPH if reaches(name, name, set()))
    assert cycles == [], f"modules in an import cycle: {cycles}"


def test_no_module_imports_another_products_entry_point():
    entry = {name for name, path in FILES.items() if 'if __name__ == "__main__":' in path.read_text()}
    assert {"train.__main__", "train.restore.crack", "export.__main__", "colorizer.__main__"} <= entry
    bad = sorted(f"{m} -> {e}" for m, deps in GRAPH.items() for e in deps & entry if product(e) != product(m))
    assert bad == [], f"modules importing another product's entry point: {bad}"
