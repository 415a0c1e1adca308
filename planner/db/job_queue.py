"""Queue discipline on top of the jobs table: a bounded enqueue, heartbeats (leases) and releasing a job.

A running job's ``updated_at`` is its heartbeat. A worker renews it while the job runs; a job whose heartbeat is
older than the lease lost its worker (the process died) and goes back to the queue, or fails once it used all
its attempts. A worker that stops cleanly releases its job (back to ``queued``, the attempt not counted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update

from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.jobs import Job, job_from_record, queued_record, update_running
from planner.db.models import JobRecord

_QUEUE_LOCK = 0x706C616E  # PostgreSQL advisory lock key serialising bounded enqueues


class QueueFull(Exception):  # noqa: N818 - reads as the condition
    """The queue already holds ``limit`` queued jobs; nothing was stored."""

    def __init__(self, limit: int, message: str | None = None) -> None:
        self.limit = limit
        super().__init__(message or f"the job queue is full ({limit} jobs waiting)")


class OwnerQuotaFull(QueueFull):
    """The submitting token already has ``limit`` jobs queued or running; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit, f"this token already has {limit} jobs queued or running")


async def enqueue_bounded(
    db: Database,
    *,
    kind: str,
    request: dict[str, Any],
    limit: int,
    namespace: str | None = None,
    max_attempts: int = 3,
    owner: str | None = None,
    owner_limit: int | None = None,
) -> Job:
    """Store a new queued job unless ``limit`` jobs are already queued, or ``owner`` already has ``owner_limit``
    jobs queued or running (counting and inserting atomically: SQLite writers hold the write lock, PostgreSQL
    writers take a transaction-level advisory lock).

    Raises:
        OwnerQuotaFull: the owner is at its limit (checked first: it is the caller's own doing).
        QueueFull: the queue is at its limit.
    """
    now = utcnow()
    async with db.write() as session:
        if not db.sqlite:
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _QUEUE_LOCK})
        if owner is not None and owner_limit is not None:
            active = (
                await session.execute(
                    select(func.count())
                    .select_from(JobRecord)
                    .where(JobRecord.owner == owner, JobRecord.status.in_(("queued", "running")))
                )
            ).scalar_one()
            if active >= owner_limit:
                raise OwnerQuotaFull(owner_limit)
        waiting = (
            await session.execute(select(func.count()).select_from(JobRecord).where(JobRecord.status == "queued"))
        ).scalar_one()
        if waiting >= limit:
            raise QueueFull(limit)
        row = queued_record(
            kind=kind, request=request, namespace=namespace, max_attempts=max_attempts, now=now, owner=owner
        )
        session.add(row)
        await session.flush()
        # the job as accepted: read back later, a runner may already have claimed it
        return job_from_record(row)


async def heartbeat(db: Database, uid: str) -> bool:
    """Renew a running job's lease; ``False`` when it is no longer running (e.g. requeued by another process)."""
    async with db.write() as session:
        return await update_running(session, uid, {})


async def release(db: Database, uid: str) -> bool:
    """Give a running job back to the queue without counting the attempt (clean shutdown)."""
    async with db.write() as session:
        return await update_running(
            session, uid, {"status": "queued", "attempts": JobRecord.attempts - 1, "started_at": None}
        )


async def requeue_expired(db: Database, lease_seconds: float, now: datetime | None = None) -> list[str]:
    """Queue again the running jobs whose heartbeat is older than the lease; those out of attempts fail.
    Returns the uids of the jobs queued again."""
    now = now or utcnow()
    expired = (JobRecord.status == "running", JobRecord.updated_at < now - timedelta(seconds=lease_seconds))
    async with db.write() as session:
        await session.execute(
            update(JobRecord)
            .where(*expired, JobRecord.attempts >= JobRecord.max_attempts)
            .values(
                status="failed",
                error={"message": "the worker stopped responding on the last attempt"},
                finished_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        uids = list((await session.execute(select(JobRecord.uid).where(*expired))).scalars().all())
        if uids:
            await session.execute(
                update(JobRecord)
                .where(JobRecord.uid.in_(uids), JobRecord.status == "running")
                .values(status="queued", updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return uids


async def queue_position(db: Database, job: Job) -> int:
    """How many queued jobs were created before this one (0: next to run)."""
    async with db.read() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(JobRecord)
                    .where(JobRecord.status == "queued", JobRecord.created_at < job.created_at)
                )
            ).scalar_one()
        )
