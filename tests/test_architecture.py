"""Imports point one way: web -> serving and jobs -> training -> data -> nn (README); the
model store stands apart from the service; tests share helpers through tests/support only, and
the benchmarks under scripts/bench take from the tests nothing but tests/support."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "service"
TESTS = ROOT / "tests"
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


def _modules(path: Path, root: Path = ROOT) -> Iterator[str]:
    """Yield the dotted name of every module `path` imports, relative imports resolved."""
    package = list(path.relative_to(root).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            yield module
            if not node.module:  # `from . import x`: x may be a module
                yield from (f"{module}.{a.name}" for a in node.names)


def _wrong_imports(paths: list[Path], refuse) -> list[str]:
    """Return "<file> imports <module>" for each import `refuse(module)` is true of."""
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in paths
        for module in _modules(path)
        if refuse(module)
    ]


def _top(module: str) -> str:
    return module.split(".")[0]


def _is_test_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def _is_support(module: str) -> bool:
    return module == "tests.support" or module.startswith("tests.support.")


def test_the_model_store_uses_no_service_code_no_web_framework_and_no_tests():
    paths = sorted((ROOT / "model_store").rglob("*.py"))
    refused = {"service", "flask", "werkzeug", "tests", "scripts"}
    wrong = _wrong_imports(paths, lambda m: _top(m) in refused)
    assert paths and not wrong, "\n".join(wrong)


def test_the_product_imports_no_tests_and_no_scripts():
    paths = [*SERVICE.rglob("*.py"), *(ROOT / "model_store").rglob("*.py")]
    wrong = _wrong_imports(paths, lambda m: _top(m) in {"tests", "scripts"})
    assert not wrong, "\n".join(wrong)


# tests/model_store keeps its helpers (FsRaw, S3Raw, sample_meta...) in its conftest.py and its
# tests import them from there: the one exception, until they move to a module of their own.
CONFTEST_HELPERS = "tests.model_store.conftest"


def test_no_test_module_imports_another_test_module_or_scripts():
    """Shared helpers live in tests/support, or in a helpers module beside their only users."""

    def refuse(module: str) -> bool:
        return _top(module) == "scripts" or (_is_test_module(module) and module != CONFTEST_HELPERS)

    paths = sorted(TESTS.rglob("*.py"))
    wrong = _wrong_imports(paths, refuse)
    others = [p for p in paths if p.parent != TESTS / "model_store"]
    wrong += _wrong_imports(others, lambda m: m == CONFTEST_HELPERS)
    assert not wrong, "\n".join(wrong)


def test_support_and_benchmarks_take_only_tests_support_from_the_tests():
    support = sorted((TESTS / "support").rglob("*.py"))
    scripts = sorted((ROOT / "scripts").rglob("*.py"))
    wrong = _wrong_imports(support + scripts, lambda m: _top(m) == "tests" and not _is_support(m))
    # Entry points and smoke checks (scripts/*.py) run without the tests beside them.
    entry_points = [p for p in scripts if p.parent == ROOT / "scripts"]
    wrong += _wrong_imports(entry_points, lambda m: _top(m) == "tests")
    assert support and entry_points and not wrong, "\n".join(wrong)


def test_the_import_rules_find_what_they_refuse(tmp_path):
    """Each kind of import refused above is found and resolved (absolute, relative, package)."""
    probe = tmp_path / "tests" / "web" / "test_probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from tests.process.test_fuzz import AUTH\n"
        "from ..conftest import train\n"
        "from . import test_app\n"
        "from scripts.bench import tabular_data\n"
        "import scripts.bench.bench_serve\n"
        "from tests.support.api import TOKEN\n"
        "from .helpers import rows\n"
    )
    found = list(_modules(probe, root=tmp_path))
    refused = [m for m in found if _top(m) == "scripts" or _is_test_module(m)]
    assert refused == [
        "tests.process.test_fuzz",
        "tests.conftest",
        "tests.web.test_app",
        "scripts.bench",
        "scripts.bench.bench_serve",
    ]
    assert {"tests.support.api", "tests.web.helpers"} <= set(found) and _is_support(found[-2])
