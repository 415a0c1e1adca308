"""Runtime settings, read once from the environment.

``PLANNER_DATABASE_URL``
    SQLAlchemy URL of the database. Default: an SQLite file ``var/planner.db`` under the current directory.
    ``postgresql://`` and ``postgres://`` URLs are served by asyncpg, ``sqlite://`` URLs by aiosqlite.
``PLANNER_MAX_BODY_BYTES``
    Largest accepted request body (default 32 MiB); larger bodies get ``413``.
``PLANNER_DB_BUSY_TIMEOUT``
    Seconds an SQLite writer waits for the write lock before failing (default 30).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import msgspec

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_SQLITE_PATH = Path("var") / "planner.db"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    db_busy_timeout: float = 30.0


def default_database_url(cwd: Path | None = None) -> str:
    """The SQLite file ``var/planner.db`` under ``cwd`` (default: the current directory), as an absolute URL."""
    path = (cwd or Path.cwd()) / DEFAULT_SQLITE_PATH
    return f"sqlite+aiosqlite:///{path.resolve()}"


def normalize_database_url(url: str) -> str:
    """Pick the async driver for plain URLs: asyncpg for PostgreSQL, aiosqlite for SQLite."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Build settings from environment variables (``os.environ`` by default)."""
    source = os.environ if env is None else env
    url = source.get("PLANNER_DATABASE_URL") or default_database_url()
    return Settings(
        database_url=normalize_database_url(url),
        max_body_bytes=int(source.get("PLANNER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        db_busy_timeout=float(source.get("PLANNER_DB_BUSY_TIMEOUT", "30")),
    )


@cache
def get_settings() -> Settings:
    """Settings of this process, read from the environment on first use."""
    return settings_from_env()
