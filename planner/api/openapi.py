"""OpenAPI document and its UI at ``/schema``, served entirely by the service (no CDN)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Tag
from litestar.router import Router
from litestar.static_files import create_static_files_router

import planner

ASSETS_PATH = "/schema-assets/swagger-ui"
SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)

DESCRIPTION = """Stores Kubernetes cluster topologies (`Cluster`), Service definitions with their traffic
(`ServicePlan`) and what-if scenarios (`Scenario`) as declarative, revisioned documents.

Bodies are JSON or YAML (`Content-Type: application/json` or `application/yaml`), at most the configured body
limit (32 MiB by default, `PLANNER_MAX_BODY_BYTES`). Every response carries the document's revision in
`metadata.revision` and as `ETag`; send it back in `If-Match` to update safely. Errors are RFC 9457 problem
details (`application/problem+json`) with an `errors` list of `{field, type, message, value}`."""


def swagger_assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS_PATH, directories=[SWAGGER_UI_DIR], include_in_schema=False, name="swagger-ui-assets"
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Traffic Planner",
        version=planner.__version__,
        description=DESCRIPTION,
        path="/schema",
        create_examples=False,
        use_handler_docstrings=False,
        tags=[
            Tag(name="Cluster", description="Cluster topologies: nodes, zones, allocatable resources, running Pods"),
            Tag(name="ServicePlan", description="A Service, its workload, placement and traffic profile"),
            Tag(name="Scenario", description="What-if changes over one cluster and some ServicePlans"),
            Tag(name="Import", description="Turn raw kubectl output into a Cluster"),
            Tag(name="Health", description="Probes"),
        ],
        render_plugins=[
            SwaggerRenderPlugin(
                js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
                path="/swagger",
            )
        ],
    )
