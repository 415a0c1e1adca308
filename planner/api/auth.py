"""Bearer-token authentication and namespace authorization, as one route middleware.

Rules (``PLANNER_AUTH=required``):

- ``/health``, ``/ready``, ``/schema...`` are open; ``/metrics`` is open unless ``PLANNER_METRICS_PUBLIC=0``
  (then it needs an ``admin`` token).
- Everything else needs ``Authorization: Bearer <token>``: a missing, unknown, expired or revoked token gets 401.
- Reads (``GET``/``HEAD``) need the ``read`` scope; changes under a namespace (``PUT``/``POST``/``DELETE`` on
  ``/v1/namespaces/{namespace}/...``, and ``POST /v1/import?namespace=...``) need ``write``. The stateless
  computations (``POST /v1/evaluate``, ``POST /v1/recommend``) store nothing and need ``read``.
- A route naming a namespace (path or ``namespace`` query parameter) the token does not hold gets 403, whether or
  not the document exists. Cross-namespace lists are filtered to the token's namespaces
  (:func:`visible_namespaces`), and records read by id are checked with :func:`require_visible`.

With ``PLANNER_AUTH=disabled`` every request acts as an anonymous admin of every namespace.
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from typing import Any

from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, Reference, SecurityScheme
from litestar.types import ASGIApp, Receive, Scope, Send

from planner.api.problems import PROBLEM_JSON, ApiProblem
from planner.auth.tokens import ANONYMOUS, Principal
from planner.auth.tokens import Scope as TokenScope
from planner.config import Settings
from planner.db.engine import Database
from planner.db.tokens import authenticate

OPEN_PREFIXES = ("/health", "/ready", "/schema")
METRICS_PATH = "/metrics"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL_KEY = "planner.principal"

_principal: ContextVar[Principal] = ContextVar("planner_principal", default=ANONYMOUS)


def current_principal() -> Principal:
    """The caller of the request being handled (the anonymous admin when auth is disabled)."""
    return _principal.get()


def visible_namespaces() -> frozenset[str] | None:
    """The namespaces the caller may see, or ``None`` for all of them."""
    principal = current_principal()
    return None if principal.all_namespaces else principal.namespaces


def require_visible(namespace: str | None, not_found: Exception) -> None:
    """Raise ``not_found`` when the caller may not see a record of ``namespace`` read by id, so that another
    team's record looks exactly like a missing one. Records of no namespace (jobs of the stateless
    ``POST /v1/recommend``) are readable by any token that knows their random id."""
    principal = current_principal()
    if namespace is not None and not principal.sees(namespace):
        raise not_found


def _is_open(path: str, settings: Settings) -> bool:
    if path == METRICS_PATH:
        return settings.metrics_public
    return any(path == prefix or path.startswith((prefix + "/", prefix + "-")) for prefix in OPEN_PREFIXES)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else ""
    return None


def _unauthorized(detail: str, error: str | None) -> ApiProblem:
    challenge = 'Bearer realm="traffic-planner"' + (f', error="{error}"' if error else "")
    return ApiProblem(401, detail, problem="unauthorized", headers={"WWW-Authenticate": challenge})


def _namespace_default(handler: HTTPRouteHandler) -> str | None:
    parameter = inspect.signature(handler.fn).parameters.get("namespace")
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default if isinstance(parameter.default, str) else None


def _namespace_of(scope: Scope) -> str | None:
    """The namespace a request addresses: the ``namespace`` path parameter, else the ``namespace`` query
    parameter (or its default) of a handler that takes one."""
    path_params = scope.get("path_params") or {}
    if isinstance(path_params.get("namespace"), str):
        return str(path_params["namespace"])
    handler = scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler) or "namespace" not in inspect.signature(handler.fn).parameters:
        return None
    for pair in scope.get("query_string", b"").decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == "namespace":
            from urllib.parse import unquote_plus  # noqa: PLC0415

            return unquote_plus(value)
    return _namespace_default(handler)


def required_scope(method: str, namespace: str | None) -> TokenScope:
    """``read`` for reads and for stateless computations, ``write`` for changes in a namespace."""
    if method in READ_METHODS or namespace is None:
        return "read"
    return "write"


def auth_middleware(settings: Settings) -> Any:
    """A litestar middleware factory enforcing the rules above (a no-op setter of the anonymous principal when
    authentication is disabled)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            principal = await _authorize(scope, settings)
            scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
            token = _principal.set(principal)
            try:
                await app(scope, receive, send)
            finally:
                _principal.reset(token)

        return middleware

    return factory


async def _authorize(scope: Scope, settings: Settings) -> Principal:
    path = scope["path"]
    if settings.auth == "disabled" or _is_open(path, settings):
        return ANONYMOUS
    secret = _bearer(scope)
    if secret is None:
        raise _unauthorized("this endpoint needs a bearer token (Authorization: Bearer <token>)", None)
    database = scope["app"].state.db
    assert isinstance(database, Database)
    principal = await authenticate(database, secret) if secret else None
    if principal is None:
        raise _unauthorized("the token is unknown, expired or revoked", "invalid_token")
    if path == METRICS_PATH:
        needed: TokenScope = "admin"
        namespace = None
    else:
        namespace = _namespace_of(scope)
        needed = required_scope(str(scope.get("method", "GET")), namespace)
    if not principal.may(needed):
        msg = f"token {principal.name!r} has scope {principal.scope!r}; this request needs {needed!r}"
        raise ApiProblem(403, msg, problem="insufficient-scope")
    if namespace is not None and not principal.sees(namespace):
        msg = f"token {principal.name!r} has no access to namespace {namespace!r}"
        raise ApiProblem(403, msg, problem="namespace-forbidden")
    return principal


# --- OpenAPI ----------------------------------------------------------------------------------------------------

SECURITY_SCHEME = "bearerToken"


def document_security(openapi: OpenAPI) -> None:
    """Declare the bearer scheme, and the token requirement with its 401/403 answers on every protected operation
    (all but the open probes). ``/metrics`` is not part of the API document."""
    components = openapi.components
    schemes = dict(components.security_schemes or {})
    schemes[SECURITY_SCHEME] = SecurityScheme(
        type="http",
        scheme="bearer",
        description=(
            "A token from `planner token create`, sent as `Authorization: Bearer <token>` when the service runs "
            "with `PLANNER_AUTH=required`. Scopes: `read` (GET, and the stateless POST /v1/evaluate and "
            "/v1/recommend), `write` (changes under its namespaces), `admin`."
        ),
    )
    components.security_schemes = schemes
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ProblemDetails"))
    for path, item in (openapi.paths or {}).items():
        if _is_open(path, _DOCUMENTED):
            continue
        for method in ("get", "put", "post", "delete", "patch", "head"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            operation.security = [{SECURITY_SCHEME: []}]
            responses = operation.responses if operation.responses is not None else {}
            responses.setdefault(
                "401",
                OpenAPIResponse(
                    description="Missing, unknown, expired or revoked bearer token",
                    content={PROBLEM_JSON: problem},
                ),
            )
            responses.setdefault(
                "403",
                OpenAPIResponse(
                    description="The token's scope or namespaces do not allow this request",
                    content={PROBLEM_JSON: problem},
                ),
            )
            operation.responses = responses


_DOCUMENTED = Settings(database_url="sqlite://", metrics_public=True)
