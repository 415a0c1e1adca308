"""Limits of the solve runner, read from the environment when the application starts.

``PLANNER_SOLVE_CONCURRENCY``
    Solves running at the same time in this process (default 1; keep concurrency x ``numWorkers`` <= cores).
    ``0`` makes an API-only replica: it queues jobs but runs none (separate workers run them).
``PLANNER_SOLVE_QUEUE_LIMIT``
    Jobs that may wait in the queue (default 16); beyond it ``429 Too Many Requests``.
``PLANNER_SOLVE_INLINE_SECONDS``
    Solves whose time limit is at most this many seconds answer inline (default 2); longer ones become jobs.
``PLANNER_SOLVES_PER_TOKEN``
    Inline solves one caller (bearer token; all unauthenticated callers together) may run at the same time in this
    process (default 2); beyond it ``429 Too Many Requests``, while other callers still get slots.
``PLANNER_JOBS_PER_TOKEN``
    Jobs one caller (bearer token; all unauthenticated callers together) may have queued or running at once, over
    every replica (default 8); beyond it ``429 Too Many Requests``, while other callers can still queue jobs.
``PLANNER_SOLVE_MAX_WORKERS``
    Largest ``solver.numWorkers`` a request may ask for (default 2).
``PLANNER_JOB_LEASE_SECONDS``
    A running job whose heartbeat is older than this is taken to have lost its worker and is queued again
    (default 60; the heartbeat is renewed every third of it).
``PLANNER_JOB_POLL_SECONDS``
    How often the runner looks for jobs queued by other processes and for expired leases (default 2).
"""

from __future__ import annotations

import os
from typing import Annotated

import msgspec


class SolveSettings(msgspec.Struct, frozen=True, kw_only=True):
    concurrency: Annotated[int, msgspec.Meta(ge=0, le=64)] = 1
    queue_limit: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 16
    inline_seconds: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    max_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    per_caller: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    jobs_per_caller: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 8
    lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=1)] = 5
    """Sent as ``Retry-After`` with a 429."""

    @property
    def heartbeat_seconds(self) -> float:
        return self.lease_seconds / 3


_ENV = {
    "concurrency": "PLANNER_SOLVE_CONCURRENCY",
    "queue_limit": "PLANNER_SOLVE_QUEUE_LIMIT",
    "inline_seconds": "PLANNER_SOLVE_INLINE_SECONDS",
    "max_workers": "PLANNER_SOLVE_MAX_WORKERS",
    "per_caller": "PLANNER_SOLVES_PER_TOKEN",
    "jobs_per_caller": "PLANNER_JOBS_PER_TOKEN",
    "lease_seconds": "PLANNER_JOB_LEASE_SECONDS",
    "poll_seconds": "PLANNER_JOB_POLL_SECONDS",
    "retry_after_seconds": "PLANNER_SOLVE_RETRY_AFTER",
}


def solve_settings_from_env(env: dict[str, str] | None = None) -> SolveSettings:
    """Read the settings (``os.environ`` by default); unset variables keep their defaults.

    Raises:
        msgspec.ValidationError: a value of the wrong type or out of range.
    """
    source = os.environ if env is None else env
    raw = {field: source[name] for field, name in _ENV.items() if source.get(name)}
    return msgspec.convert(raw, SolveSettings, strict=False)
