"""The committed OpenAPI document matches the code, and the UI at /schema loads only from the service."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

from litestar.testing import AsyncTestClient

from planner.api.app import create_app
from planner.config import Settings

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
REGENERATE = "planner openapi --output openapi/openapi.json"


def test_committed_openapi_matches_the_app(tmp_path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    running = json.loads(json.dumps(app.openapi_schema.to_schema()))
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == running, f"openapi/openapi.json is stale; regenerate it with `{REGENERATE}`"


def test_every_operation_has_id_summary_tag_and_problem_responses():
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    seen_ids = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), (method, path)
            assert operation["operationId"] not in seen_ids
            seen_ids.add(operation["operationId"])
            assert operation.get("summary"), (method, path)
            assert operation.get("tags"), (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert set(response["content"]) == {"application/problem+json"}, (method, path, status)
            if "{name}" in path or "parameters" in operation:
                # anything with a parameter can be rejected
                assert "400" in operation["responses"] or "404" in operation["responses"], (method, path)
    assert {"applyCluster", "readCluster", "listClusters", "deleteServicePlan", "importCluster", "ready"} <= seen_ids


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


async def test_swagger_ui_is_served_offline(tmp_path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    async with AsyncTestClient(app=app) as client:
        await _check_ui(client)


async def _check_ui(client: AsyncTestClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _Links()
    parser.feed(page.text)
    # any URL a script would fetch (the OpenAPI document is embedded in the page)
    script_urls = re.findall(r"url:\s*['\"]([^'\"]+)['\"]", page.text)
    urls = parser.urls + script_urls
    assert '"operationId":"applyCluster"' in page.text
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    assert any(u.endswith("swagger-ui-standalone-preset.js") for u in urls)
    assert any("favicon" in u for u in urls)
    for url in urls:
        base = str(client.base_url)
        parsed = urlparse(urljoin(f"{base}/schema", url))
        assert parsed.netloc == urlparse(base).netloc, f"{url} is not served by the service"
        asset = await client.get(parsed.path)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert (await client.get("/schema/openapi.json")).status_code == 200
