"""How many jobs wait or run, for the ``planner_job_queue_depth`` gauge."""

from __future__ import annotations

from sqlalchemy import func, select, text

from planner.db.engine import Database
from planner.db.models import JobRecord


async def queue_depths(db: Database) -> dict[tuple[str, str], int]:
    """``{(queue, state): count}`` for planner jobs (queued/running) and, on PostgreSQL, procrastinate jobs
    (todo/doing)."""
    depths: dict[tuple[str, str], int] = {("jobs", "queued"): 0, ("jobs", "running"): 0}
    async with db.read() as session:
        rows = await session.execute(
            select(JobRecord.status, func.count())
            .where(JobRecord.status.in_(("queued", "running")))
            .group_by(JobRecord.status)
        )
        for row in rows.all():
            depths["jobs", str(row[0])] = int(row[1])
        if not db.sqlite:
            depths["procrastinate", "todo"] = 0
            depths["procrastinate", "doing"] = 0
            found = await session.execute(
                text(
                    "SELECT status::text, count(*) FROM procrastinate.procrastinate_jobs"
                    " WHERE status IN ('todo', 'doing') GROUP BY status"
                )
            )
            for row in found.all():
                depths["procrastinate", str(row[0])] = int(row[1])
    return depths
