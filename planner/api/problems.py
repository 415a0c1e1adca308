"""RFC 9457 problem details for every error response, with Kubernetes-style field errors."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError, OperationalError

from planner.db.errors import (
    DocumentInUse,
    DocumentNotFound,
    InvalidContinueToken,
    JobNotFound,
    PreconditionFailed,
    ResultNotFound,
    StorageError,
    WriteConflict,
)
from planner.domain.errors import DomainError, InvalidDocument, UnknownReference
from planner.domain.selectors import SelectorError

PROBLEM_JSON = "application/problem+json"
_PROBLEM_BASE = "urn:trafficplanner:problem:"

log = logging.getLogger(__name__)


class FieldProblem(msgspec.Struct, kw_only=True):
    """One violation, with its field path in Kubernetes notation (``spec.nodes[0].allocatable.cpu``)."""

    field: str
    type: str
    """Invalid, Required, Forbidden, NotSupported, Duplicate, TypeInvalid or NotFound."""
    message: str
    value: Any = None


class ReferrerInfo(msgspec.Struct, kw_only=True):
    kind: str
    name: str
    field: str


class ProblemDetails(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem]
    """Field errors; empty when the problem is not about fields."""
    current_revision: int | None = None
    """412 only: the stored revision, when the document exists."""
    referrers: list[ReferrerInfo] | None = None
    """409 on delete: the documents that still reference the one being deleted."""


class ApiProblem(Exception):  # noqa: N818 - it is the problem, not an error condition name
    """Raised by handlers to answer with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problem: str | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem = problem
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    problem: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[ProblemDetails]:
    body = ProblemDetails(
        type=_PROBLEM_BASE + problem if problem else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors or [],
        **extensions,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# --- msgspec validation errors -> field problems --------------------------------------------------------------

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]*)\]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _lookup(raw: Any, path: str) -> Any:
    """The value at a msgspec-style path (``spec.nodes[0].name``) in the raw decoded body, or None."""
    node = raw
    for match in _TOKEN.finditer("." + path if path and not path.startswith("[") else path):
        key, index, other = match.groups()
        if isinstance(node, dict):
            node = node.get(key if key is not None else (index if index is not None else other))
        elif isinstance(node, list) and index is not None and int(index) < len(node):
            node = node[int(index)]
        else:
            return None
    return node if not isinstance(node, dict | list) else None


def field_problem_from_msgspec(error: msgspec.ValidationError, raw: Any) -> FieldProblem:
    """Convert ``Object contains unknown field `bogus` - at `$.spec.nodes[0]``` to field ``spec.nodes[0].bogus``."""
    match = _AT.match(str(error))
    assert match is not None  # the pattern matches any text
    message = match.group("message")
    path = (match.group("path") or "").removeprefix(".")
    if unknown := _UNKNOWN.match(message):
        field = _join(path, unknown.group("name"))
        return FieldProblem(field=field, type="Forbidden", message="unknown field", value=_lookup(raw, field))
    if missing := _MISSING.match(message):
        return FieldProblem(field=_join(path, missing.group("name")), type="Required", message="required field")
    kind = "TypeInvalid" if message.startswith("Expected `") else "Invalid"
    return FieldProblem(field=path, type=kind, message=message, value=_lookup(raw, path))


# --- exception handlers --------------------------------------------------------------------------------------


def _field_errors(errors: list[Any]) -> list[FieldProblem]:
    return [FieldProblem(field=e.field, type=e.type, message=e.message, value=e.value) for e in errors]


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[ProblemDetails]:
    if isinstance(exc, UnknownReference):
        return problem_response(
            request,
            422,
            str(exc),
            problem="unknown-reference",
            errors=[
                FieldProblem(
                    field=exc.field, type="NotFound", message=f"{exc.kind} {exc.name!r} not found", value=exc.name
                )
            ],
        )
    if isinstance(exc, InvalidDocument):
        return problem_response(request, 422, exc.summary, problem="invalid-document", errors=_field_errors(exc.errors))
    return problem_response(request, 422, str(exc), problem="invalid-document")


def handle_storage_error(request: Request[Any, Any, Any], exc: StorageError) -> Response[ProblemDetails]:
    if isinstance(exc, DocumentNotFound | JobNotFound | ResultNotFound):
        return problem_response(request, 404, str(exc), problem="not-found")
    if isinstance(exc, PreconditionFailed):
        return problem_response(
            request, 412, str(exc), problem="precondition-failed", current_revision=exc.current_revision
        )
    if isinstance(exc, DocumentInUse):
        referrers = [ReferrerInfo(kind=r.kind, name=r.name, field=r.field) for r in exc.referrers]
        return problem_response(request, 409, str(exc), problem="document-in-use", referrers=referrers)
    if isinstance(exc, WriteConflict):
        return problem_response(request, 409, str(exc), problem="write-conflict")
    if isinstance(exc, InvalidContinueToken):
        errors = [FieldProblem(field="continue", type="Invalid", message=str(exc))]
        return problem_response(request, 400, str(exc), problem="invalid-query", errors=errors)
    return problem_response(request, 500, "storage error")


def handle_selector_error(request: Request[Any, Any, Any], exc: SelectorError) -> Response[ProblemDetails]:
    errors = [FieldProblem(field="labelSelector", type="Invalid", message=str(exc))]
    return problem_response(request, 400, f"invalid labelSelector: {exc}", problem="invalid-query", errors=errors)


def handle_api_problem(request: Request[Any, Any, Any], exc: ApiProblem) -> Response[ProblemDetails]:
    return problem_response(
        request, exc.status, exc.detail, problem=exc.problem, errors=exc.errors, headers=exc.headers
    )


def _validation_problem(request: Request[Any, Any, Any], item: dict[str, Any]) -> FieldProblem:
    """One entry of litestar's ``ValidationException.extra`` (``{"key", "message", "source"}``)."""
    key = str(item.get("key") or "")
    source = item.get("source")
    value: Any = None
    if source == "query":
        value = request.query_params.get(key)
    elif source == "header":
        # litestar reports the parameter's Python name (if_match); report the header (If-Match)
        key = "-".join(part.capitalize() for part in key.split("_")) if "_" in key else key
        value = request.headers.get(key)
    elif source == "path":
        value = request.path_params.get(key)
    return FieldProblem(field=key, type="Invalid", message=str(item.get("message") or "invalid value"), value=value)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ProblemDetails]:
    errors: list[FieldProblem] = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors.extend(_validation_problem(request, item) for item in exc.extra if isinstance(item, dict))
    if isinstance(exc, ValidationException) and (missing := _MISSING_PARAMETER.search(exc.detail or "")):
        errors.append(FieldProblem(field=missing.group(1), type="Required", message="required parameter"))
    status = exc.status_code
    detail = exc.detail or HTTPStatus(status).phrase
    if status >= 500:
        log.error("internal error answering %s %s: %s", request.method, request.url.path, exc)
        detail = HTTPStatus(status).phrase
    return problem_response(request, status, detail, errors=errors, headers=dict(exc.headers or {}))


def handle_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[ProblemDetails]:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", exc)
        return problem_response(
            request, 503, "the database is unavailable", problem="database-unavailable", headers={"Retry-After": "1"}
        )
    log.exception("database error", exc_info=exc)
    return problem_response(request, 500, "Internal Server Error")


def handle_os_error(request: Request[Any, Any, Any], exc: OSError) -> Response[ProblemDetails]:
    """Connection refused, timeouts, name resolution: the database (or the disk) is not reachable."""
    log.warning("I/O failure answering %s %s: %r", request.method, request.url.path, exc)
    return problem_response(
        request, 503, "the database is unavailable", problem="database-unavailable", headers={"Retry-After": "1"}
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ProblemDetails]:
    log.exception("unhandled error answering %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "Internal Server Error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiProblem: handle_api_problem,
    DomainError: handle_domain_error,
    StorageError: handle_storage_error,
    SelectorError: handle_selector_error,
    HTTPException: handle_http_exception,
    DBAPIError: handle_database_error,
    OSError: handle_os_error,
    Exception: handle_unexpected,
}

PROBLEM_MEDIA_TYPE: MediaType | str = PROBLEM_JSON
