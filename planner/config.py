"""Runtime settings, read once from the environment.

``PLANNER_DATABASE_URL``
    SQLAlchemy URL of the database. Default: an SQLite file ``var/planner.db`` under the current directory.
    ``postgresql://`` and ``postgres://`` URLs are served by asyncpg, ``sqlite://`` URLs by aiosqlite.
``PLANNER_MAX_BODY_BYTES``
    Largest accepted request body (default 32 MiB); larger bodies get ``413``.
``PLANNER_DB_BUSY_TIMEOUT``
    Seconds an SQLite writer waits for the write lock before failing (default 30).
``PLANNER_AUTH``
    ``required`` (bearer tokens, see ``planner token``) or ``disabled`` (default; loopback development only).
``PLANNER_INSECURE``
    ``1`` lets ``planner serve`` listen beyond loopback with authentication disabled.
``PLANNER_METRICS_PUBLIC``
    ``1`` (default) serves ``/metrics`` without a token; ``0`` requires an ``admin`` token when auth is on.
``PLANNER_MAX_SOLVE_SECONDS``
    Largest solver budget (``timeLimitSeconds``) and wall-clock limit (``wallClockLimitSeconds``) a request may ask
    for, in seconds (default 120).
``PLANNER_HEAP_PAD_MIB``
    MiB of freed heap the ``planner`` process keeps mapped instead of returning it to the system (default 64;
    ``0`` leaves glibc's allocator alone); see :mod:`planner.allocator`.
``PLANNER_QUEUE``
    Where 202 jobs run: ``inprocess`` (default: in the service process) or ``procrastinate`` (PostgreSQL only:
    the service defers them to the task queue and ``planner worker`` processes run them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

import msgspec

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_SQLITE_PATH = Path("var") / "planner.db"


AuthMode = Literal["required", "disabled"]
QueueMode = Literal["inprocess", "procrastinate"]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    db_busy_timeout: float = 30.0
    auth: AuthMode = "disabled"
    insecure: bool = False
    metrics_public: bool = True
    max_solve_seconds: float = 120.0
    queue: QueueMode = "inprocess"


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
        auth=_choice(source, "PLANNER_AUTH", ("disabled", "required")),  # type: ignore[arg-type]
        insecure=_flag(source, "PLANNER_INSECURE", default=False),
        metrics_public=_flag(source, "PLANNER_METRICS_PUBLIC", default=True),
        max_solve_seconds=float(source.get("PLANNER_MAX_SOLVE_SECONDS", "120")),
        queue=_choice(source, "PLANNER_QUEUE", ("inprocess", "procrastinate")),  # type: ignore[arg-type]
    )


def _flag(source: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = source.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    msg = f"{name} must be 1 or 0, not {value!r}"
    raise ValueError(msg)


def _choice(source: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The value of ``name`` (the first choice when unset); raises ValueError for anything else."""
    value = source.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        msg = f"{name} must be one of {', '.join(choices)}, not {value!r}"
        raise ValueError(msg)
    return value


@cache
def get_settings() -> Settings:
    """Settings of this process, read from the environment on first use."""
    return settings_from_env()
