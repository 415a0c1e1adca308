"""The ``planner`` command lines of docs/ci-examples run against fixture inputs, so the examples never go stale.

``deploy/`` in the examples is replaced by tests/fixtures/cli/shop (hottest Pod 1.50x, limit 2.0x: pass), and
with the strict profile added (limit 1.2x) the same lines must exit 1, which is what the jobs gate on.
"""

import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.cli.clihelpers import SHOP, STRICT, run

EXAMPLES = Path(__file__).parents[2] / "docs" / "ci-examples"
COMMAND = re.compile(r"(?:^|[\s:-])(planner evaluate [^|;\n]*?)(?:\s*\|\||\s*$)")


def commands(name: str) -> list[str]:
    found = []
    for line in (EXAMPLES / name).read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = COMMAND.search(line)
        if match:
            found.append(match.group(1).strip())
    return found


def test_examples_are_valid_yaml_with_commands():
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        yaml.safe_load((EXAMPLES / name).read_text())
        assert commands(name), name
    assert any("--format sarif" in c for c in commands("github-actions.yml"))
    assert any("--format junit" in c for c in commands("gitlab-ci.yml"))


def _deploy(tmp_path: Path, *, strict: bool) -> Path:
    deploy = tmp_path / "deploy"
    shutil.copytree(SHOP, deploy)
    if strict:
        (deploy / "profile.yaml").write_text(STRICT.read_text())
    return deploy


def _check_output(fmt: str, path: Path) -> None:
    text = path.read_text()
    if fmt == "sarif":
        assert json.loads(text)["version"] == "2.1.0"
    elif fmt == "junit":
        assert ET.fromstring(text).tag == "testsuites"
    elif fmt == "markdown":
        assert text.startswith("## Traffic Planner")
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>")


ALL = [(name, c) for name in ("github-actions.yml", "gitlab-ci.yml") for c in commands(name)]


CASES = [(name, command, strict) for name, command in ALL for strict in (False, True)]


@pytest.mark.parametrize(
    ("name", "command", "strict"), CASES, ids=[f"{n}:{c}:{'strict' if s else 'lenient'}" for n, c, s in CASES]
)
def test_example_command_runs(tmp_path, monkeypatch, name, command, strict):
    code = 1 if strict else 0
    _deploy(tmp_path, strict=strict)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    args = shlex.split(command.replace('"$GITHUB_STEP_SUMMARY"', str(tmp_path / "summary.md")))
    assert args[0] == "planner"
    result = run(*args[1:])
    assert result.exit_code == code, (name, command, result.output)
    fmt = args[args.index("--format") + 1]
    output = Path(args[args.index("--output") + 1])
    _check_output(fmt, output if output.is_absolute() else tmp_path / output)
