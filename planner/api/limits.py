"""Limits on solves: how long a solve may be asked to run, and how many one caller may run at once.

A caller is its token (or, with authentication disabled, its client address). Solve routes are the handlers whose
``opt`` has ``solve=True`` or whose operation id is in :data:`SOLVE_OPERATIONS`. Beyond
``PLANNER_MAX_CONCURRENT_SOLVES`` running solves of the same caller in this process, a request gets 429 with
``Retry-After``; the count is per service replica.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from planner.api.metrics import SOLVES_REJECTED
from planner.api.problems import ApiProblem, FieldProblem
from planner.auth.tokens import Principal
from planner.config import Settings

SOLVE_OPERATIONS = frozenset({"recommend", "recommendServicePlan", "recommendScenario", "createRecommendation"})
RETRY_AFTER_SECONDS = 5


def is_solve(handler: Any) -> bool:
    if not isinstance(handler, HTTPRouteHandler):
        return False
    return bool(handler.opt.get("solve")) or handler.operation_id in SOLVE_OPERATIONS


def check_time_limit(seconds: float, settings: Settings, field: str = "timeLimitSeconds") -> float:
    """Return ``seconds`` if a request may ask for it, else raise a 422 problem naming ``field``."""
    if not 0 < seconds <= settings.max_solve_seconds:
        msg = f"the solver time limit must be more than 0 and at most {settings.max_solve_seconds:g} seconds"
        raise ApiProblem(
            422,
            msg,
            problem="limit-exceeded",
            errors=[FieldProblem(field=field, type="Invalid", message=msg, value=seconds)],
        )
    return seconds


def caller_key(scope: Scope) -> str:
    principal = (scope.get("state") or {}).get("planner.principal")
    if isinstance(principal, Principal) and principal.token_id:
        return "token:" + principal.token_id
    client = scope.get("client")
    return "client:" + (client[0] if client else "unknown")


class SolveSlots:
    """In-flight solves per caller."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running: Counter[str] = Counter()

    def acquire(self, key: str) -> bool:
        if self.running[key] >= self.limit:
            return False
        self.running[key] += 1
        return True

    def release(self, key: str) -> None:
        self.running[key] -= 1
        if self.running[key] <= 0:
            del self.running[key]


def solve_limiter(settings: Settings) -> Any:
    """A litestar middleware factory (after authentication) that caps concurrent solves per caller."""
    slots = SolveSlots(settings.max_concurrent_solves)

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or not is_solve(scope.get("route_handler")):
                await app(scope, receive, send)
                return
            key = caller_key(scope)
            if not slots.acquire(key):
                SOLVES_REJECTED.inc()
                msg = f"at most {slots.limit} solves may run at once per caller; retry later"
                raise ApiProblem(429, msg, problem="too-many-solves", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            try:
                await app(scope, receive, send)
            finally:
                slots.release(key)

        return middleware

    return factory
