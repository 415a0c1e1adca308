"""The HTML report in a real headless Chromium (Debian's package): it renders the key numbers, makes no request
outside the file, logs no console error, and a screenshot of sensible size comes out.

The test installs ``chromium`` with apt when it is missing; without apt it fails with a clear message.
"""

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from planner.cli.run import recommend_inputs
from planner.cli.sources import build_inputs, read_inputs
from planner.report.html import render_html
from tests.cli.clihelpers import SHOP

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.fail("chromium is not installed and apt-get is unavailable: install the Debian package 'chromium'")
    if _apt("install", "-y", "chromium").returncode != 0:
        _apt("update")
        result = _apt("install", "-y", "chromium")
        if result.returncode != 0:
            pytest.fail(f"apt-get install -y chromium failed:\n{result.stderr[-2000:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but no chromium binary is on PATH")
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    inputs = build_inputs(read_inputs([str(SHOP)]), cluster_name="cluster")
    _, report = recommend_inputs(inputs, time_limit_seconds=5, seed=0)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def _chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [binary, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_dom_has_the_key_numbers(chromium, page, tmp_path):
    result = _chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # Current: 2/1/0 Pods behind an equal-per-node LB -> hottest 450/s over a 300/s mean = 1.50x;
    # recommended 1/1/1 -> 1.00x; node-a dies: 450/s lost for 10 s = 4500 connections.
    assert 'Hottest Pod <strong class="figure">1.50x</strong>' in dom
    assert 'Hottest Pod <strong class="figure">1.00x</strong>' in dom
    assert "about 4500 connections are lost" in dom
    assert "450/s, 2 Pods" in dom
    assert "300/s, 1 Pod" in dom
    assert "<svg" in dom


def _page_requests(binary: str, tmp_path: Path, url: str, *extra: str) -> set[str]:
    """URLs the page itself requested (the net log also lists the browser's own service requests, whose
    initiator is "not an origin"; the host-resolver rules keep those from leaving the machine)."""
    log = tmp_path / "net.json"
    result = _chromium(binary, tmp_path, *extra, f"--log-net-log={log}", "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    netlog = json.loads(log.read_text())
    start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {
        event["params"]["url"]
        for event in netlog["events"]
        if event["type"] == start_job
        and event.get("params", {}).get("url")
        and event["params"].get("initiator") != "not an origin"
    }


def test_no_request_outside_the_file(chromium, page, tmp_path):
    # file:// loads do not go through the network stack: the report itself is not in the net log either
    assert _page_requests(chromium, tmp_path, page.as_uri()) <= {page.as_uri()}


def test_request_check_sees_external_assets(chromium, tmp_path):
    external = tmp_path / "external.html"
    external.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example.org/a.css"></head>'
        '<body><img src="http://example.com/x.png" alt=""></body></html>'
    )
    requested = _page_requests(chromium, tmp_path, external.as_uri())
    assert requested == {"https://cdn.example.org/a.css", "http://example.com/x.png"}


def _console(binary: str, tmp_path: Path, url: str) -> list[str]:
    result = _chromium(binary, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_no_console_errors(chromium, page, tmp_path):
    assert _console(chromium, tmp_path, page.as_uri()) == []


def test_console_check_sees_a_script_error(chromium, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><script>throw new Error("boom")</script></body></html>')
    (line,) = _console(chromium, tmp_path, broken.as_uri())
    assert "Uncaught Error: boom" in line


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_screenshot(chromium, page, tmp_path):
    shot = tmp_path / "report.png"
    result = _chromium(chromium, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (1280, 2400)
    assert len(data) > 50_000  # a blank page compresses to a few kB; charts and tables do not
    # decode the first IDAT chunk enough to see that it is not one flat colour
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    raw = zlib.decompressobj().decompress(data[start : start + length])
    assert len(set(raw[: 1280 * 4 * 40])) > 8
