"""The benchmark scripts under ``bench/`` as modules, for the tests that keep them from rotting."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


@cache
def bench_script(name: str) -> ModuleType:
    """``bench/<name>.py`` loaded once (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
