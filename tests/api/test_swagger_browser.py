"""The OpenAPI UI at /schema in a real headless Chromium: it renders the operations, and every request the page
makes goes to the service itself (no CDN, no fonts from elsewhere), as it must on a machine without internet."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.report.test_browser import _chromium, _page_requests, chromium  # noqa: F401 - chromium is a fixture
from tests.support.processes import environment_without_planner_settings, free_port, logged_process, wait_for_ok

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swagger")
    port = free_port()
    env = environment_without_planner_settings()
    env["PLANNER_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'ui.db'}"
    log = tmp / "server.log"
    command = [sys.executable, "-m", "planner", "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)]
    with logged_process(command, cwd=ROOT, env=env, log_path=log) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_ok(process, f"{url}/ready", seconds=60, output=log.read_text)
        yield url
        process.terminate()
        process.wait(timeout=30)


def test_swagger_ui_renders_the_operations(chromium, service, tmp_path):  # noqa: F811
    # Swagger UI builds the page with JavaScript after fetching /schema/openapi.json: give it virtual time.
    result = _chromium(chromium, tmp_path, "--virtual-time-budget=15000", "--dump-dom", f"{service}/schema")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "swagger-ui" in dom
    assert "/v1/evaluate" in dom
    assert "/v1/namespaces/{namespace}/clusters/{name}" in dom


def test_every_request_of_the_page_goes_to_the_service(chromium, service, tmp_path):  # noqa: F811
    requests = _page_requests(chromium, tmp_path, f"{service}/schema", "--virtual-time-budget=15000")
    assert requests, "the page made no request at all"
    origin = urlsplit(service).netloc
    outside = sorted(url for url in requests if urlsplit(url).netloc != origin)
    assert outside == []
    # the UI's own assets really came from the service (the OpenAPI document is embedded in the page)
    assert any(url.endswith("swagger-ui-bundle.js") for url in requests)
    assert any(url.endswith("swagger-ui.css") for url in requests)
