"""Dependencies point inward: domain <- engine <- optimizer <- db, api, cli (and the workers beside the API).

Every ``import`` statement of every module under ``planner/`` is read with :mod:`ast` (also the ones inside
functions), so a lazy import cannot hide a dependency that points outward.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "planner"

# Which planner packages each package may import (itself included).
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "engine": {"domain", "engine"},
    "optimizer": {"domain", "engine", "optimizer"},
    "report": {"domain", "engine", "optimizer", "report"},
    "auth": {"auth"},
    "db": {"auth", "config", "db", "domain", "engine", "optimizer"},
    "worker": {"config", "db", "domain", "engine", "optimizer", "telemetry", "worker"},
    "queue": {"config", "db", "queue", "telemetry", "worker"},
}
# Third-party frameworks the pure layers never import.
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "domain": {"litestar", "sqlalchemy", "alembic", "procrastinate", "ortools"},
    "engine": {"litestar", "sqlalchemy", "alembic", "procrastinate", "ortools"},
    "optimizer": {"litestar", "sqlalchemy", "alembic", "procrastinate"},
    "report": {"litestar", "sqlalchemy", "alembic", "procrastinate"},
    "worker": {"litestar"},
    "queue": {"litestar"},
    "db": {"litestar"},
}


def _imports(path: Path) -> set[str]:
    """Top-level names imported by one module: ``planner.<package>`` as ``planner.<package>``, others by root."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        for module in modules:
            parts = module.split(".")
            names.add(".".join(parts[:2]) if parts[0] == "planner" and len(parts) > 1 else parts[0])
    return names


def _modules(package: str) -> list[Path]:
    root = PACKAGE / package
    return sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{package}.py"]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_inner_layers(package: str) -> None:
    modules = _modules(package)
    assert modules, f"planner/{package} has no modules"
    outward = {
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith("planner.") and name.removeprefix("planner.") not in ALLOWED[package]
    }
    assert not outward


@pytest.mark.parametrize("package", sorted(FORBIDDEN_THIRD_PARTY))
def test_pure_layers_do_not_import_frameworks(package: str) -> None:
    found = {
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name in FORBIDDEN_THIRD_PARTY[package]
    }
    assert not found


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    # A lazy import is still a dependency.
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from planner.api.app import create_app\n    import litestar\n")
    assert _imports(module) == {"planner.api", "litestar"}
