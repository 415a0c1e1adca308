"""Request IDs, one structured JSON log line per request, and the request-latency metric.

The request ID is the caller's ``X-Request-ID`` when it is a sane token (1-128 visible ASCII characters), else a
new random one; it is returned in the ``X-Request-ID`` response header and logged. The wrapper sits outside the
router, so unmatched routes (404/405) are logged and measured too (under the route ``<unmatched>``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from planner.telemetry import observe_request

ACCESS_LOGGER = "planner.access"
REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_KEY = "planner.request_id"
_VALID_ID = re.compile(r"^[!-~]{1,128}$")

access_log = logging.getLogger(ACCESS_LOGGER)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``fields`` extra."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"), default=str)


def configure_access_log() -> None:
    """Send access lines to standard error as JSON, once per process (leave an existing configuration alone)."""
    if access_log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


def request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _principal_name(scope: Scope) -> str | None:
    principal = (scope.get("state") or {}).get("planner.principal")
    name = getattr(principal, "name", None)
    return name if isinstance(name, str) and getattr(principal, "token_id", None) else None


def observe(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app with request IDs, access logging and latency metrics."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        request_id = request_id_from(scope)
        scope.setdefault("state", {})[REQUEST_ID_KEY] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") if scope.get("route_handler") is not None else None
            observe_request(method, route, status, seconds)
            access_log.info(
                "%s %s %s",
                method,
                scope["path"],
                status,
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "token": _principal_name(scope),
                    }
                },
            )

    return wrapper


def install(app: Litestar) -> None:
    """Put :func:`observe` around the app's request handling (outside routing and exception handling)."""
    configure_access_log()
    app.asgi_handler = observe(app.asgi_handler)
