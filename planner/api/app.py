"""Application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from planner.api.deps import provide_db
from planner.api.documents import KINDS, document_router
from planner.api.evaluations import evaluation_routes
from planner.api.health import health, ready
from planner.api.importing import import_cluster
from planner.api.jobs import job_routes
from planner.api.openapi import openapi_config, swagger_assets_router
from planner.api.operations import operations_middleware, operations_routes, with_operations
from planner.api.problems import EXCEPTION_HANDLERS
from planner.api.recommendations import recommendation_routes
from planner.api.solving import solve_lifespan
from planner.config import Settings, get_settings
from planner.db.engine import Database


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the ASGI app. The database engine is created at startup and disposed at shutdown."""
    config = settings or get_settings()

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
        database = Database.from_url(config.database_url, busy_timeout=config.db_busy_timeout)
        app.state.db = database
        try:
            yield
        finally:
            await database.dispose()

    app = Litestar(
        route_handlers=[
            health,
            ready,
            import_cluster,
            *(document_router(spec) for spec in KINDS),
            *evaluation_routes(),
            *recommendation_routes(),
            *job_routes(),
            swagger_assets_router(),
            *operations_routes(),
        ],
        middleware=operations_middleware(config),
        dependencies={"db": Provide(provide_db, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi_config(),
        lifespan=[database_lifespan, solve_lifespan],
        request_max_body_size=config.max_body_bytes,
        debug=False,
    )
    return with_operations(app, config)
