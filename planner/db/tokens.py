"""API tokens table and repository: create (the secret is returned once), list, revoke, look up by secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import JSON, Integer, String, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, mapped_column

from planner.auth.tokens import (
    ALL_NAMESPACES,
    DISPLAY_CHARS,
    Principal,
    Scope,
    digest,
    digests_equal,
    new_secret,
)
from planner.db.base import Base, UTCDateTime, utcnow
from planner.db.engine import Database


class ApiTokenRecord(Base):
    """A bearer token: only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))
    namespaces: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    name: str
    display_prefix: str
    scope: Scope
    namespaces: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())

    def principal(self) -> Principal:
        return Principal(token_id=self.uid, name=self.name, scope=self.scope, namespaces=frozenset(self.namespaces))


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    """The bearer token; not stored, shown once."""
    info: TokenInfo


def _info(row: ApiTokenRecord) -> TokenInfo:
    return TokenInfo(
        uid=row.uid,
        name=row.name,
        display_prefix=row.display_prefix,
        scope=cast("Scope", row.scope),
        namespaces=list(row.namespaces),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


async def create_token(
    db: Database, *, name: str, scope: Scope, namespaces: Iterable[str], expires_at: datetime | None = None
) -> IssuedToken:
    """Store a new token and return it with its secret (the only time the secret is available)."""
    spaces = sorted(set(namespaces))
    if not spaces:
        msg = f"a token needs at least one namespace (or {ALL_NAMESPACES!r})"
        raise ValueError(msg)
    secret = new_secret()
    row = ApiTokenRecord(
        uid=str(uuid.uuid4()),
        name=name,
        digest=digest(secret),
        display_prefix=secret[:DISPLAY_CHARS],
        scope=scope,
        namespaces=spaces,
        created_at=utcnow(),
        expires_at=expires_at,
        revoked_at=None,
    )
    async with db.write() as session:
        session.add(row)
        await session.flush()
    return IssuedToken(secret=secret, info=_info(row))


async def list_tokens(db: Database, *, include_revoked: bool = False) -> list[TokenInfo]:
    stmt = select(ApiTokenRecord).order_by(ApiTokenRecord.created_at, ApiTokenRecord.id)
    if not include_revoked:
        stmt = stmt.where(ApiTokenRecord.revoked_at.is_(None))
    async with db.read() as session:
        return [_info(row) for row in (await session.execute(stmt)).scalars()]


async def revoke_tokens(db: Database, ident: str) -> int:
    """Revoke the active token with this id, or every active token with this name; return how many."""
    now = utcnow()
    async with db.write() as session:
        result = cast(
            "CursorResult[Any]",
            await session.execute(
                update(ApiTokenRecord)
                .where(
                    ApiTokenRecord.revoked_at.is_(None), or_(ApiTokenRecord.uid == ident, ApiTokenRecord.name == ident)
                )
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        return int(result.rowcount)


async def authenticate(db: Database, secret: str) -> Principal | None:
    """The principal of an active token with this secret, else ``None``."""
    wanted = digest(secret)
    async with db.read() as session:
        row = (
            await session.execute(select(ApiTokenRecord).where(ApiTokenRecord.digest == wanted))
        ).scalar_one_or_none()
    if row is None or not digests_equal(row.digest, wanted):
        return None
    info = _info(row)
    return info.principal() if info.active else None
