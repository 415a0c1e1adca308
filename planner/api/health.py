"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from planner.api.deps import DatabaseDep
from planner.api.documents import problem, success
from planner.api.problems import problem_response
from planner.api.schemas import HealthStatus


@get(
    "/health",
    operation_id="health",
    summary="Liveness: the process is up",
    tags=["Health"],
    responses={200: success(HealthStatus, "The process answers")},
)
async def health() -> HealthStatus:
    return HealthStatus(status="ok")


@get(
    "/ready",
    operation_id="ready",
    summary="Readiness: the database answers",
    tags=["Health"],
    responses={200: success(HealthStatus, "Ready to serve"), 503: problem("The database cannot be reached")},
)
async def ready(request: Request[Any, Any, Any], db: DatabaseDep) -> Response[Any]:
    try:
        await db.ping()
    except Exception as exc:
        return problem_response(
            request,
            503,
            f"the database cannot be reached: {type(exc).__name__}",
            problem="database-unavailable",
            headers={"Retry-After": "5"},
        )
    return Response(HealthStatus(status="ready"))
