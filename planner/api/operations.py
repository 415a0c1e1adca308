"""What makes the API a service a platform team can run, wired into the app factory: authentication, metrics,
request IDs with JSON access logs."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from planner.api import logging as access_logging
from planner.api.auth import auth_middleware, document_security
from planner.api.metrics import metrics
from planner.config import Settings


def operations_routes() -> list[Any]:
    return [metrics]


def operations_middleware(settings: Settings) -> list[Any]:
    return [auth_middleware(settings)]


def with_operations(app: Litestar, settings: Settings) -> Litestar:
    """Wrap request handling with request IDs, access logs and latency metrics; document the bearer scheme.
    ``app.state.settings`` keeps the settings for the lifespan hooks (the job runner)."""
    app.state.settings = settings
    access_logging.install(app)
    document_security(app.openapi_schema)
    return app
