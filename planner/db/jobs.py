"""Repository of long-running jobs (e.g. solves): enqueue, claim, finish, fail, requeue.

States: ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` (a failed attempt below ``max_attempts`` goes back
to ``queued``). Claiming is a compare-and-swap on the status, so two workers never run the same attempt.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

import msgspec
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.errors import JobNotFound, PreconditionFailed
from planner.db.models import JobRecord

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Job(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    kind: str
    namespace: str | None
    status: JobStatus
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    max_attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_from_record(row: JobRecord) -> Job:
    return Job(
        uid=row.uid,
        kind=row.kind,
        namespace=row.namespace,
        status=cast("JobStatus", row.status),
        request=row.request,
        result=row.result,
        error=row.error,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def queued_record(
    *,
    kind: str,
    request: dict[str, Any],
    namespace: str | None,
    max_attempts: int,
    now: datetime,
    owner: str | None = None,
) -> JobRecord:
    """A new job row, queued and never attempted."""
    return JobRecord(
        uid=str(uuid.uuid4()),
        kind=kind,
        namespace=namespace,
        owner=owner,
        status="queued",
        request=request,
        result=None,
        error=None,
        attempts=0,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
        started_at=None,
        finished_at=None,
    )


async def enqueue_job(
    db: Database, *, kind: str, request: dict[str, Any], namespace: str | None = None, max_attempts: int = 3
) -> Job:
    """Store a new queued job; ``request`` must be JSON-compatible builtins."""
    row = queued_record(kind=kind, request=request, namespace=namespace, max_attempts=max_attempts, now=utcnow())
    async with db.write() as session:
        session.add(row)
        await session.flush()
    return job_from_record(row)


async def get_job(db: Database, uid: str) -> Job:
    """Raises JobNotFound."""
    async with db.read() as session:
        row = (await session.execute(select(JobRecord).where(JobRecord.uid == uid))).scalar_one_or_none()
    if row is None:
        raise JobNotFound(uid)
    return job_from_record(row)


async def claim_job(db: Database, kind: str | None = None) -> Job | None:
    """Move the oldest queued job (of ``kind``, if given) to ``running`` and return it; ``None`` if none is queued.

    Safe with many workers: the status change is a compare-and-swap, and a worker that loses it tries the next job.
    """
    for _ in range(16):
        async with db.write() as session:
            stmt = select(JobRecord).where(JobRecord.status == "queued")
            if kind is not None:
                stmt = stmt.where(JobRecord.kind == kind)
            stmt = stmt.order_by(JobRecord.created_at, JobRecord.id).limit(1)
            if not db.sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            row = (await session.execute(stmt)).scalar_one_or_none()
            if row is None:
                return None
            now = utcnow()
            swap = cast(
                "CursorResult[Any]",
                await session.execute(
                    update(JobRecord)
                    .where(JobRecord.id == row.id, JobRecord.status == "queued")
                    .values(status="running", attempts=JobRecord.attempts + 1, started_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                ),
            )
            if swap.rowcount == 1:
                await session.refresh(row)
                return job_from_record(row)
    return None


async def update_running(session: AsyncSession, uid: str, values: dict[str, Any]) -> bool:
    """Set ``values`` (and a new ``updated_at``) on job ``uid`` if it is running; whether it was."""
    swap = cast(
        "CursorResult[Any]",
        await session.execute(
            update(JobRecord)
            .where(JobRecord.uid == uid, JobRecord.status == "running")
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return int(swap.rowcount) == 1


async def _finish(db: Database, uid: str, values: dict[str, Any]) -> Job:
    async with db.write() as session:
        swapped = await update_running(session, uid, values)
        row = (await session.execute(select(JobRecord).where(JobRecord.uid == uid))).scalar_one_or_none()
        if row is None:
            raise JobNotFound(uid)
        if not swapped:
            msg = f"job {uid} is {row.status}, not running"
            raise PreconditionFailed(msg, None)
        await session.refresh(row)
        return job_from_record(row)


async def complete_job(db: Database, uid: str, result: dict[str, Any]) -> Job:
    """Mark a running job succeeded with ``result``. Raises JobNotFound, or PreconditionFailed if not running."""
    return await _finish(db, uid, {"status": "succeeded", "result": result, "finished_at": utcnow()})


async def fail_job(db: Database, uid: str, error: dict[str, Any], *, retry: bool = True) -> Job:
    """Record a failed attempt: back to ``queued`` while attempts remain and ``retry`` is set, else ``failed``."""
    job = await get_job(db, uid)
    if retry and job.attempts < job.max_attempts:
        return await _finish(db, uid, {"status": "queued", "error": error})
    return await _finish(db, uid, {"status": "failed", "error": error, "finished_at": utcnow()})
