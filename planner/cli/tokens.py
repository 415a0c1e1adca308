"""``planner token create|list|revoke`` and ``planner worker``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click

from planner.auth.tokens import ALL_NAMESPACES, SCOPES
from planner.config import settings_from_env
from planner.db.engine import Database, is_sqlite

T = TypeVar("T")


def _with_db(action: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database.from_url(settings_from_env().database_url, pooled=False)
        try:
            return await action(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


@click.group("token")
def token() -> None:
    """API tokens for PLANNER_AUTH=required (stored hashed; the secret is shown once)."""


@token.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. ci or team-a-dashboard.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default="read",
    show_default=True,
    help="read: GET and the stateless evaluate/recommend; write: also change documents; admin: also /metrics.",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    required=True,
    help=f"A namespace the token may use (repeat for several; {ALL_NAMESPACES!r} for all).",
)
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None, help="Expire after this many days.")
def token_create(name: str, scope: str, namespaces: tuple[str, ...], expires_in_days: int | None) -> None:
    """Create a token and print it (only now: it is stored as a SHA-256 digest)."""
    from planner.db.tokens import create_token  # noqa: PLC0415

    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    issued = _with_db(
        lambda db: create_token(db, name=name, scope=scope, namespaces=namespaces, expires_at=expires)  # type: ignore[arg-type]
    )
    click.echo(issued.secret)
    click.echo(
        f"token {issued.info.uid} ({name}, scope {scope}, namespaces {', '.join(issued.info.namespaces)}) created; "
        "store it now, it cannot be shown again",
        err=True,
    )


@token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token.")
def token_list(include_revoked: bool, as_json: bool) -> None:
    """List tokens (id, name, scope, namespaces; never the secret)."""
    from planner.db.tokens import list_tokens  # noqa: PLC0415

    tokens = _with_db(lambda db: list_tokens(db, include_revoked=include_revoked))
    for info in tokens:
        state = "active" if info.active else ("revoked" if info.revoked_at else "expired")
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": info.uid,
                        "name": info.name,
                        "prefix": info.display_prefix,
                        "scope": info.scope,
                        "namespaces": info.namespaces,
                        "state": state,
                        "created": info.created_at.isoformat(),
                        "expires": info.expires_at.isoformat() if info.expires_at else None,
                    }
                )
            )
        else:
            click.echo(
                f"{info.uid}  {info.name:<20} {info.display_prefix}...  {info.scope:<5}  "
                f"{','.join(info.namespaces):<24} {state}"
            )


@token.command("revoke")
@click.argument("ident")
def token_revoke(ident: str) -> None:
    """Revoke the token with this id, or every active token with this name."""
    from planner.db.tokens import revoke_tokens  # noqa: PLC0415

    count = _with_db(lambda db: revoke_tokens(db, ident))
    if count == 0:
        raise click.ClickException(f"no active token with id or name {ident!r}")
    click.echo(f"revoked {count} token{'s' if count != 1 else ''}")


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="Jobs run at once.")
@click.option(
    "--heartbeat", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Heartbeat every N seconds."
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Retry the jobs of a worker whose heartbeat is older than this (it died mid-job).",
)
@click.option("--one-shot", is_flag=True, help="Exit when the queue is empty.")
@click.option("--name", default=None, help="Worker name shown in the queue tables.")
def worker(concurrency: int, heartbeat: float, stalled_after: float, one_shot: bool, name: str | None) -> None:
    """Run queued jobs (recommendations) from the PostgreSQL task queue; stops cleanly on SIGTERM."""
    from planner.queue.worker import run_worker  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = settings_from_env().database_url
    if is_sqlite(url):
        raise click.ClickException(
            "planner worker needs PostgreSQL (PLANNER_DATABASE_URL); with SQLite, `planner serve` runs jobs itself"
        )
    asyncio.run(
        run_worker(
            url, concurrency=concurrency, heartbeat=heartbeat, stalled_after=stalled_after, one_shot=one_shot, name=name
        )
    )
