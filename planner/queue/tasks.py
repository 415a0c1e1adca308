"""procrastinate tasks. The worker passes its database and job handlers in the job context."""

from __future__ import annotations

import procrastinate

from planner.db.engine import Database
from planner.queue.runner import JOBS_QUEUE, RUN_JOB_TASK, execute_job

blueprint = procrastinate.Blueprint()


@blueprint.task(name="run_job", queue=JOBS_QUEUE, pass_context=True)
async def run_job(context: procrastinate.JobContext, job_uid: str) -> None:
    """Run the stored job ``job_uid`` (a no-op if it already finished); queue it again after a failed attempt."""
    extra = context.additional_context or {}
    database = extra.get("db")
    assert isinstance(database, Database), "the worker passes its database in additional_context"
    job = await execute_job(database, job_uid, extra["handlers"], heartbeat_seconds=extra.get("heartbeat", 20.0))
    if job is not None and job.status == "queued":
        await context.app.configure_task(RUN_JOB_TASK, queue=JOBS_QUEUE).defer_async(job_uid=job_uid)
