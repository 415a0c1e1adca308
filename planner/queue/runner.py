"""Running stored jobs from the procrastinate queue, and the runner the API uses when a queue is configured.

A procrastinate task carries only the job id. The worker moves the job to ``running`` (also when it was left
``running`` by a worker that died: the queue hands a job out again only after its worker stopped), renews its
heartbeat while the handler runs, and stores the outcome. A failure with attempts left queues the job again and
defers a new task for it.

The built-in ``probe`` job waits ``request.seconds`` and returns who ran it: it checks a deployment's queue end to
end (the API stores it, ``planner worker`` runs it, any replica reads it back) without solving anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import procrastinate
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.errors import StorageError
from planner.db.job_queue import heartbeat
from planner.db.jobs import Job, complete_job, fail_job, get_job
from planner.db.models import JobRecord
from planner.worker.runner import InProcessRunner, JobHandler, JobInputError
from planner.worker.settings import SolveSettings

log = logging.getLogger(__name__)

PROBE = "probe"
PROBE_MAX_SECONDS = 60.0
RUN_JOB_TASK = "planner:run_job"
JOBS_QUEUE = "jobs"


async def probe(_db: Database, job: Job) -> dict[str, Any]:
    """The ``probe`` job: sleep ``seconds`` (``retrySeconds`` on a retried attempt, when given), then say which
    process ran it."""
    wanted = job.request.get("seconds", 0)
    if job.attempts > 1 and "retrySeconds" in job.request:
        wanted = job.request["retrySeconds"]
    seconds = min(max(float(wanted), 0.0), PROBE_MAX_SECONDS)
    await asyncio.sleep(seconds)
    return {"pid": os.getpid(), "host": socket.gethostname(), "slept": seconds}


def worker_handlers() -> dict[str, JobHandler]:
    """Every job kind a worker runs."""
    from planner.worker.recommend_job import RECOMMEND_JOB, run_recommend_job  # noqa: PLC0415 - heavy imports

    return {RECOMMEND_JOB: run_recommend_job, PROBE: probe}


async def start_job(db: Database, uid: str) -> Job | None:
    """Mark the job running and count the attempt; ``None`` if it already finished (nothing to do)."""
    now = utcnow()
    async with db.write() as session:
        result = cast(
            "CursorResult[Any]",
            await session.execute(
                update(JobRecord)
                .where(JobRecord.uid == uid, JobRecord.status.in_(("queued", "running")))
                .values(status="running", attempts=JobRecord.attempts + 1, started_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            exists = (await session.execute(select(JobRecord.id).where(JobRecord.uid == uid))).first()
            if exists is None:
                msg = f"job {uid} does not exist"
                raise LookupError(msg)
            return None
    return await get_job(db, uid)


async def _beat(db: Database, uid: str, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if not await heartbeat(db, uid):
                return
        except Exception:
            log.exception("heartbeat of job %s failed", uid)


async def execute_job(
    db: Database, uid: str, handlers: Mapping[str, JobHandler], *, heartbeat_seconds: float = 20.0
) -> Job | None:
    """Run the job ``uid`` once; return it as stored afterwards (``None`` if it had finished before)."""
    job = await start_job(db, uid)
    if job is None:
        return None
    handler = handlers.get(job.kind)
    beat = asyncio.create_task(_beat(db, uid, heartbeat_seconds))
    try:
        if handler is None:
            msg = f"no handler for jobs of kind {job.kind!r}"
            raise JobInputError(msg)
        result = await handler(db, job)
    except JobInputError as exc:
        return await fail_job(db, uid, {"message": str(exc)}, retry=False)
    except Exception as exc:
        log.exception("job %s failed", uid)
        return await fail_job(db, uid, {"message": f"{type(exc).__name__}: {exc}"})
    finally:
        beat.cancel()
    try:
        return await complete_job(db, uid, result)
    except StorageError as exc:
        log.warning("job outcome not recorded: %s", exc)
        return await get_job(db, uid)


class QueueRunner(InProcessRunner):
    """The API side with a task queue: jobs are stored as before and handed to procrastinate; separate
    ``planner worker`` processes run them. Inline solves still use this process's solve slots."""

    def __init__(
        self, db: Database, settings: SolveSettings, handlers: Mapping[str, JobHandler], queue: procrastinate.App
    ) -> None:
        super().__init__(db, settings, handlers)
        self.queue = queue

    @property
    def runs_jobs(self) -> bool:
        return False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[InProcessRunner]:
        async with self.queue.open_async(), super().running() as runner:
            yield runner

    async def submit(self, job: Job) -> None:
        await self.queue.configure_task(RUN_JOB_TASK, queue=JOBS_QUEUE).defer_async(job_uid=job.uid)

    async def run_pending(self) -> int:
        return 0


def make_runner(
    db: Database, settings: SolveSettings, handlers: Mapping[str, JobHandler], *, database_url: str, queue_mode: str
) -> InProcessRunner:
    """The API's job runner: in-process (``PLANNER_QUEUE=inprocess``, the default) or the procrastinate queue on
    PostgreSQL (``PLANNER_QUEUE=procrastinate``)."""
    from planner.queue.app import create_queue_app  # noqa: PLC0415 - app imports the tasks, which import us

    if queue_mode == "inprocess":
        return InProcessRunner(db, settings, handlers)
    if db.sqlite:
        msg = "PLANNER_QUEUE=procrastinate needs a PostgreSQL database"
        raise ValueError(msg)
    return QueueRunner(db, settings, handlers, create_queue_app(database_url, min_size=0, max_size=4))


def runner_for_app(app: Any, handlers: Mapping[str, JobHandler]) -> InProcessRunner:
    """:func:`make_runner` for a started application (``app.state.db``, ``app.state.settings``)."""
    from planner.config import Settings, get_settings  # noqa: PLC0415
    from planner.worker.settings import solve_settings_from_env  # noqa: PLC0415

    database = app.state.db
    assert isinstance(database, Database)
    settings = getattr(app.state, "settings", None)
    if not isinstance(settings, Settings):
        settings = get_settings()
    return make_runner(
        database, solve_settings_from_env(), handlers, database_url=settings.database_url, queue_mode=settings.queue
    )
