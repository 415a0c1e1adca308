"""``planner worker``: a procrastinate worker for the ``jobs`` queue, plus the stalled-job reaper.

procrastinate does not retry a job whose worker died (SIGKILL, lost machine): the job stays ``doing``. Every
worker therefore runs a reaper loop that asks for the jobs of workers whose heartbeat is older than
``stalled_after`` seconds (``job_manager.get_stalled_jobs``) and puts them back in the queue (``retry_job``).
Two reapers racing for the same job are harmless: the second retry finds the job no longer ``doing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate
from procrastinate import exceptions as procrastinate_exceptions

from planner.db.engine import Database
from planner.queue.app import JOBS_QUEUE, create_queue_app
from planner.queue.runner import worker_handlers

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_STALLED_AFTER_SECONDS = 30.0


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Put the jobs of workers silent for ``stalled_after`` seconds back in the queue; return how many."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await app.job_manager.retry_job(job)
        except procrastinate_exceptions.ConnectorException:
            continue  # another reaper retried it first
        log.warning("retried job %s (%s) of a stalled worker", job.id, job.task_name)
        retried += 1
    return retried


async def _reap_forever(app: procrastinate.App, stalled_after: float, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await retry_stalled_jobs(app, stalled_after)
        except Exception:
            log.exception("stalled-job check failed")


async def run_worker(
    database_url: str,
    *,
    concurrency: int = 1,
    heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
    stalled_after: float = DEFAULT_STALLED_AFTER_SECONDS,
    one_shot: bool = False,
    name: str | None = None,
) -> None:
    """Run jobs until SIGINT/SIGTERM (a running job finishes first), or, with ``one_shot``, until the queue is
    empty."""
    database = Database.from_url(database_url)
    # connections: the LISTEN connection, job fetching and completion, the heartbeat, the stalled-job check
    app = create_queue_app(database_url, min_size=1, max_size=concurrency + 4)
    try:
        async with app.open_async():
            reaper = asyncio.create_task(_reap_forever(app, stalled_after, max(heartbeat, 0.5)))
            try:
                await retry_stalled_jobs(app, stalled_after)
                await app.run_worker_async(
                    queues=[JOBS_QUEUE],
                    name=name or "planner-worker",
                    concurrency=concurrency,
                    wait=not one_shot,
                    additional_context={"db": database, "handlers": worker_handlers(), "heartbeat": heartbeat},
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    install_signal_handlers=True,
                )
            finally:
                reaper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reaper
    finally:
        await database.dispose()
