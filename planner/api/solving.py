"""The job runner of the API process: started with the application, reachable from handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request

from planner.api.problems import ApiProblem
from planner.queue.runner import runner_for_app, worker_handlers
from planner.worker.runner import InProcessRunner


@asynccontextmanager
async def solve_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start the job runner after the database: in-process (SQLite, or ``PLANNER_QUEUE=inprocess``) it queues
    again the jobs whose worker died, then runs queued jobs; on shutdown it gives its running jobs back to the
    queue. With a task queue, jobs are deferred to ``planner worker`` processes."""
    runner = runner_for_app(app, worker_handlers())
    app.state.solve_runner = runner
    async with runner.running():
        yield


def runner_of(request: Request[Any, Any, Any]) -> InProcessRunner:
    runner = request.app.state.solve_runner
    assert isinstance(runner, InProcessRunner)
    return runner


def too_many_requests(runner: InProcessRunner, detail: str) -> ApiProblem:
    return ApiProblem(
        429,
        detail,
        problem="too-many-solves",
        headers={"Retry-After": str(runner.settings.retry_after_seconds)},
    )
