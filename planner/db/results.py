"""Repository of persisted evaluations and recommendations.

A result names its subject document (kind, namespace, name) and the revisions of every input it was computed
from (``{"Cluster/prod": 3, "ServicePlan/web": 7}``), so a reader can tell whether it is still current.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select

from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.errors import ResultNotFound
from planner.db.models import ResultRecord


class StoredResult(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    namespace: str
    subject_kind: str
    subject_name: str
    kind: str
    """What was computed, e.g. ``evaluation`` or ``recommendation``."""
    status: str
    input_revisions: dict[str, Any]
    payload: dict[str, Any]
    created_at: datetime


def stored_result(row: ResultRecord) -> StoredResult:
    """The stored row as the repository hands it out."""
    return StoredResult(
        uid=row.uid,
        namespace=row.namespace,
        subject_kind=row.subject_kind,
        subject_name=row.subject_name,
        kind=row.kind,
        status=row.status,
        input_revisions=row.input_revisions,
        payload=row.payload,
        created_at=row.created_at,
    )


async def save_result(
    db: Database,
    *,
    namespace: str,
    subject_kind: str,
    subject_name: str,
    kind: str,
    status: str,
    input_revisions: dict[str, Any],
    payload: dict[str, Any],
) -> StoredResult:
    """Persist one result; ``payload`` must be JSON-compatible builtins (use ``msgspec.to_builtins``)."""
    row = ResultRecord(
        uid=str(uuid.uuid4()),
        namespace=namespace,
        subject_kind=subject_kind,
        subject_name=subject_name,
        kind=kind,
        status=status,
        input_revisions=input_revisions,
        payload=payload,
        created_at=utcnow(),
    )
    async with db.write() as session:
        session.add(row)
        await session.flush()
    return stored_result(row)


async def get_result(db: Database, uid: str) -> StoredResult:
    """Raises ResultNotFound."""
    async with db.read() as session:
        row = (await session.execute(select(ResultRecord).where(ResultRecord.uid == uid))).scalar_one_or_none()
    if row is None:
        raise ResultNotFound(uid)
    return stored_result(row)


async def list_results(
    db: Database,
    *,
    namespace: str,
    subject_kind: str,
    subject_name: str,
    kind: str | None = None,
    limit: int = 50,
) -> list[StoredResult]:
    """Results about one document, newest first."""
    stmt = select(ResultRecord).where(
        ResultRecord.namespace == namespace,
        ResultRecord.subject_kind == subject_kind,
        ResultRecord.subject_name == subject_name,
    )
    if kind is not None:
        stmt = stmt.where(ResultRecord.kind == kind)
    stmt = stmt.order_by(ResultRecord.created_at.desc(), ResultRecord.id.desc()).limit(limit)
    async with db.read() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return [stored_result(r) for r in rows]


async def latest_result(
    db: Database, *, namespace: str, subject_kind: str, subject_name: str, kind: str
) -> StoredResult | None:
    """The newest result of ``kind`` about one document, if any."""
    found = await list_results(
        db, namespace=namespace, subject_kind=subject_kind, subject_name=subject_name, kind=kind, limit=1
    )
    return found[0] if found else None
