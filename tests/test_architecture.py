"""Imports point one way: web -> serving and jobs -> training -> data -> nn (README)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[1] / "service"
SHARED = {"settings", "errors", "logs"}  # anything may use these (and model_store)
ALLOWED = {
    "nn": set(),
    "data": set(),
    "training": {"data", "nn"},
    "serving": {"training", "data", "nn"},
    "jobs": {"training", "data", "nn"},
    "web": {"serving", "jobs", "training", "data", "nn"},
}


def _imports(path: Path) -> set[str]:
    """Return the top-level service packages a module imports (absolute or relative)."""
    package = path.relative_to(SERVICE).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts[0]] if parts else [a.name for a in node.names]
            elif node.module and node.module.startswith("service."):
                names = [node.module.split(".")[1]]
            else:
                continue
            found.update(names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("service."))
    return found


def test_every_package_imports_only_what_it_may():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in (SERVICE / package).rglob("*.py"):
            for target in _imports(path) - {package} - SHARED:
                if target not in allowed:
                    wrong.append(f"{path.relative_to(SERVICE.parent)} imports service.{target}")
    assert not wrong, "\n".join(wrong)


def test_the_engine_imports_numpy_only():
    for path in (SERVICE / "nn").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        modules |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        assert modules <= {"numpy", "__future__", "typing", "collections", "dataclasses", "math"}, (
            path,
            modules,
        )
