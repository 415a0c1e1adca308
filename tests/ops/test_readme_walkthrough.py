"""The README walkthrough, pasted as a user would: the shell block runs against a live service.

The block between ``<!-- walkthrough:start -->`` and ``<!-- walkthrough:end -->`` is executed with bash
from the repository root, with ``PLANNER`` pointing at a freshly migrated service on a free loopback port.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import environment_without_planner_settings, free_port, wait_for_ok

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def walkthrough_script() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->", text, re.S)
    assert block is not None, "README.md has no walkthrough block"
    return block.group(1)


@pytest.fixture
def service(tmp_path):
    port = free_port()
    env = environment_without_planner_settings()
    env["PLANNER_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'walkthrough.db'}"
    process = subprocess.Popen(
        [str(VENV_BIN / "planner"), "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ok(process, f"{url}/ready", seconds=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_walkthrough_runs_as_written(service):
    env = environment_without_planner_settings()
    env["PLANNER"] = service
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", walkthrough_script()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    # Step 1-3: stored and read back (YAML on request, as kubectl prints it).
    assert '"kind":"Cluster"' in out
    assert "kind: ServicePlan" in out
    # Step 4: the If-Match apply wins revision 2; revision 1 stays readable.
    assert '200 "2"' in out
    assert '"revision":2' in out
    # Step 5: the field path of the out-of-range timeout (1..86400, validation.go validateAffinityTimeout).
    assert "spec.service.spec.sessionAffinityConfig.clientIP.timeoutSeconds" in out
    # Step 6: 2 + 1 Pods, ETP Local, equal per node: Pods get 1/4, 1/4, 1/2 -> hottest 0.5 / (1/3) = 1.50x.
    assert "hottest Pod 1.50x mean" in out
    assert "Verdict: fail" in out
    # Step 7: three replicas, three nodes: one Pod per node, every Pod 1/3.
    assert "optimal {'web': {'node-b1': 1, 'node-b2': 1, 'node-c1': 1}}" in out
    # Step 8: the offline CLI fails the same requirement with exit code 1.
    assert "exit code 1" in out
