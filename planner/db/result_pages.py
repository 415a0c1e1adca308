"""Paginated listing of persisted results, newest first, with an opaque continue token (keyset on insertion order)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import msgspec
from sqlalchemy import select

from planner.db.engine import Database
from planner.db.errors import InvalidContinueToken
from planner.db.models import ResultRecord
from planner.db.results import StoredResult, stored_result


class ResultPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[StoredResult]
    continue_token: str | None
    """Pass back to get the next page; ``None`` on the last page."""


class _Position(msgspec.Struct, frozen=True):
    before: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    """A row id (an INTEGER key): anything out of that range was not produced here."""


def _encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(_Position(before=row_id))).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return msgspec.json.decode(raw, type=_Position).before
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidContinueToken from exc


async def list_result_page(
    db: Database,
    *,
    namespace: str,
    subject_kind: str,
    subject_name: str,
    kind: str,
    limit: int = 50,
    continue_token: str | None = None,
) -> ResultPage:
    """One page of the results of ``kind`` about one document, newest first.

    Raises:
        InvalidContinueToken: the token was not produced by this function.
    """
    stmt = select(ResultRecord).where(
        ResultRecord.namespace == namespace,
        ResultRecord.subject_kind == subject_kind,
        ResultRecord.subject_name == subject_name,
        ResultRecord.kind == kind,
    )
    if continue_token is not None:
        stmt = stmt.where(ResultRecord.id < _decode(continue_token))
    stmt = stmt.order_by(ResultRecord.id.desc()).limit(limit + 1)
    async with db.read() as session:
        rows = list((await session.execute(stmt)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return ResultPage(items=[stored_result(r) for r in rows], continue_token=_encode(rows[-1].id) if more else None)
