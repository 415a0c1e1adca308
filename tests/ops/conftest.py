"""Fixtures for the tests of the developer script, the CI entry point and the container image."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@dataclass
class Stage:
    """One ``FROM`` stage of a Dockerfile: its name and instructions (keyword, argument text)."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every instruction with this keyword, in order."""
        return [arg for kw, arg in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        """Arguments of the last instruction with this keyword."""
        found = self.all(keyword)
        assert found, f"stage {self.name!r} has no {keyword} instruction"
        return found[-1]

    def command(self) -> list[str]:
        """The exec-form ``CMD``."""
        return exec_form(self.last("CMD"))

    def healthcheck(self) -> tuple[str, list[str]]:
        """The ``HEALTHCHECK`` options and its exec-form command."""
        options, sep, cmd = self.last("HEALTHCHECK").partition("CMD ")
        assert sep, "HEALTHCHECK has no CMD"
        return options.strip(), exec_form(cmd)

    def pairs(self, keyword: str) -> dict[str, str]:
        """All ``key=value`` pairs set by this stage's ENV or LABEL instructions."""
        merged: dict[str, str] = {}
        for arg in self.all(keyword):
            merged.update(key_values(arg))
        return merged


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages, joining continuation lines and dropping comments."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arg.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif stages:
            stages[-1].instructions.append((keyword, arg.strip()))
    return stages


def exec_form(arg: str) -> list[str]:
    """Decode an exec-form (JSON array) instruction argument."""
    value = json.loads(arg)
    assert isinstance(value, list), f"not an exec-form argument: {arg}"
    assert all(isinstance(item, str) for item in value)
    return value


def key_values(arg: str) -> dict[str, str]:
    """Decode the ``key=value`` pairs of an ENV or LABEL instruction (shell quoting)."""
    pairs = {}
    for word in shlex.split(arg):
        key, sep, value = word.partition("=")
        assert sep, f"expected key=value, got {word!r}"
        pairs[key] = value
    return pairs


@pytest.fixture(scope="session")
def dockerfile() -> list[Stage]:
    """The repository's Dockerfile, parsed into stages."""
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="session")
def runtime_stage(dockerfile: list[Stage]) -> Stage:
    """The final stage: what the image runs."""
    return dockerfile[-1]


@pytest.fixture(scope="session")
def dev_module() -> ModuleType:
    """The ``dev`` script, imported as a module (its ``main`` runs only as a script)."""
    loader = SourceFileLoader("planner_dev_script", str(ROOT / "dev"))
    spec = spec_from_loader(loader.name, loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module
