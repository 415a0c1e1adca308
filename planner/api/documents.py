"""Declarative document endpoints: apply, read, list, history and delete for each document kind.

Every kind gets the same routes (``{plural}`` is ``clusters``, ``serviceplans`` or ``scenarios``)::

    PUT    /v1/namespaces/{namespace}/{plural}/{name}            create or replace (JSON or YAML body)
    GET    /v1/namespaces/{namespace}/{plural}/{name}            latest, or ?revision=N
    DELETE /v1/namespaces/{namespace}/{plural}/{name}            refused with 409 while referenced
    GET    /v1/namespaces/{namespace}/{plural}/{name}/revisions  history
    GET    /v1/namespaces/{namespace}/{plural}                   list (limit, continue, labelSelector)
    GET    /v1/{plural}                                          list across namespaces
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import yaml
from litestar import HttpMethod, Response, Router, delete, get, put, route
from litestar.datastructures import ResponseHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
)
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.params import HeaderParameter, PathParameter, QueryParameter, RawBody

from planner.api.auth import visible_namespaces
from planner.api.body import decode_one
from planner.api.deps import DatabaseDep
from planner.api.preconditions import combine, etag, parse_if_match, parse_if_none_match
from planner.api.problems import PROBLEM_JSON, ApiProblem, FieldProblem, ProblemDetails
from planner.api.schemas import (
    ClusterList,
    ClusterResource,
    ListMetadata,
    Resource,
    RevisionList,
    RevisionSummary,
    ScenarioList,
    ScenarioResource,
    ServicePlanList,
    ServicePlanResource,
)
from planner.db.documents import (
    StoredDocument,
    apply_document,
    delete_document,
    get_document,
    list_documents,
    list_revisions,
)
from planner.db.engine import Database
from planner.db.errors import DocumentNotFound
from planner.domain.documents import API_VERSION, Cluster, ClusterSpec, Document, Metadata, Scenario, ServicePlan
from planner.domain.selectors import label_key_error, label_value_error, parse_selector
from planner.domain.types import DNS_LABEL_PATTERN
from planner.domain.validation import validate_document

NameParam = Annotated[
    str, PathParameter(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63, description="Document name")
]
NamespaceParam = Annotated[
    str, PathParameter(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63, description="Namespace")
]
RevisionQuery = Annotated[
    int | None, QueryParameter(ge=1, le=2**31 - 1, description="Read this revision instead of the latest")
]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=1000, description="Page size")]
ContinueQuery = Annotated[
    str | None, QueryParameter(name="continue", max_length=2048, description="Token from the previous page")
]
SelectorQuery = Annotated[
    str | None,
    QueryParameter(
        name="labelSelector",
        max_length=4096,
        description="Kubernetes label selector: a=b, a!=b, a in (x,y), a notin (x,y), a, !a (comma = and)",
    ),
]
IF_MATCH_PATTERN = r'^(\*|(W/)?"[!#-~]*"( ?, ?(W/)?"[!#-~]*")*)$'
IfMatchHeader = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=4096,
        pattern=IF_MATCH_PATTERN,
        description='Entity tags ("3") or *; the write fails with 412 otherwise',
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        max_length=16,
        pattern=r"^\*$",
        description="* to create only (412 if the name exists)",
    ),
]

ETAG_HEADER = ResponseHeader(
    name="ETag", description='The revision as a strong entity tag, e.g. "3"', documentation_only=True, required=True
)
LOCATION_HEADER = ResponseHeader(
    name="Location", description="URL of the created document", documentation_only=True, required=False
)


def problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails, description=description, media_type=PROBLEM_JSON, generate_examples=False
    )


def success(container: Any, description: str, media_type: str = "application/json") -> ResponseSpec:
    return ResponseSpec(
        data_container=container, description=description, media_type=media_type, generate_examples=False
    )


@dataclass(frozen=True)
class KindSpec:
    kind: str
    plural: str
    domain: type[Cluster] | type[ServicePlan] | type[Scenario]
    resource: type[ClusterResource] | type[ServicePlanResource] | type[ScenarioResource]
    list_type: type[ClusterList] | type[ServicePlanList] | type[ScenarioList]
    referenced_by: str
    """Which kinds may reference this one (for the delete documentation)."""


KINDS = (
    KindSpec("Cluster", "clusters", Cluster, ClusterResource, ClusterList, "ServicePlans and Scenarios"),
    KindSpec("ServicePlan", "serviceplans", ServicePlan, ServicePlanResource, ServicePlanList, "Scenarios"),
    KindSpec("Scenario", "scenarios", Scenario, ScenarioResource, ScenarioList, "nothing"),
)


def resource_body(stored: StoredDocument) -> dict[str, Any]:
    """The stored content with the server-managed metadata added."""
    content = stored.content
    metadata = {"name": stored.name, "namespace": stored.namespace, **content.get("metadata", {})}
    metadata.update(
        uid=stored.uid,
        revision=stored.revision,
        creationTimestamp=stored.created_at,
        updateTimestamp=stored.updated_at,
    )
    return {"apiVersion": content["apiVersion"], "kind": content["kind"], "metadata": metadata, "spec": content["spec"]}


def document_response(stored: StoredDocument, status: int = 200, **headers: str) -> Response[dict[str, Any]]:
    return Response(resource_body(stored), status_code=status, headers={"ETag": etag(stored.revision), **headers})


YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def prefers_yaml(accept: str | None) -> bool:
    """Whether the first media type the client lists in ``Accept`` is YAML."""
    first = (accept or "").split(",")[0].split(";")[0].strip().lower()
    return first in YAML_MEDIA_TYPES


def yaml_response(body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    """``body`` as ``kubectl get -o yaml`` prints it: block style, keys in the order given (apiVersion, kind,
    metadata, then the rest)."""
    data = msgspec.to_builtins(body)
    if isinstance(data, dict):
        data = {k: data[k] for k in ("apiVersion", "kind") if k in data} | data
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return Response(text, media_type="application/yaml", headers=headers)


def yaml_document_response(stored: StoredDocument) -> Response[str]:
    """One document as YAML, with its ETag."""
    return yaml_response(resource_body(stored), {"ETag": etag(stored.revision)})


AcceptHeader = Annotated[str | None, HeaderParameter(name="Accept", include_in_schema=False)]
YAML_ALSO = "JSON by default; `Accept: application/yaml` returns the same as YAML, the way kubectl prints it."


def _mismatch(field: str, given: str, expected: str) -> ApiProblem:
    msg = f"{field} is {given!r} but the URL says {expected!r}"
    return ApiProblem(
        422,
        msg,
        problem="invalid-document",
        errors=[FieldProblem(field=field, type="Invalid", message=f"must equal the URL ({expected!r})", value=given)],
    )


def to_document(spec: KindSpec, resource: Resource, namespace: str, name: str) -> Document:
    """Fill or check ``metadata.name``/``namespace`` against the URL and build the domain document."""
    meta = resource.metadata
    if meta.name is not None and meta.name != name:
        raise _mismatch("metadata.name", meta.name, name)
    if meta.namespace is not None and meta.namespace != namespace:
        raise _mismatch("metadata.namespace", meta.namespace, namespace)
    metadata = Metadata(name=name, namespace=namespace, labels=meta.labels, annotations=meta.annotations)
    return spec.domain(api_version=resource.api_version, metadata=metadata, spec=resource.spec)  # type: ignore[arg-type]


def custom_operation(
    request_body: RequestBody | None = None, headers: tuple[ResponseHeader, ...] = (), statuses: tuple[str, ...] = ()
) -> type[Operation]:
    """An Operation class that adds a request body and documents response headers on the given statuses
    (litestar drops them when a success response is declared in ``responses``)."""

    @dataclass
    class _Operation(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            for status in statuses:
                response = (self.responses or {}).get(status)
                if isinstance(response, OpenAPIResponse):
                    response.headers = {
                        h.name: OpenAPIHeader(
                            schema=OpenAPISchema(type=OpenAPIType.STRING),
                            description=h.description,
                            required=h.required,
                        )
                        for h in headers
                    }

    return _Operation


def document_body(spec: KindSpec) -> RequestBody:
    ref = Reference(ref=f"#/components/schemas/{spec.resource.__name__}")
    return RequestBody(
        required=True,
        description=f"The {spec.kind} document, as JSON or YAML (one document)",
        content={
            "application/json": OpenAPIMediaType(schema=ref),
            "application/yaml": OpenAPIMediaType(schema=ref),
        },
    )


def _labels_ok(resource: Resource) -> None:
    """Label keys and values must have Kubernetes syntax: they are stored and queried as label-selector terms."""
    errors = []
    for key, value in resource.metadata.labels.items():
        if reason := label_key_error(key):
            errors.append(FieldProblem(field="metadata.labels", type="Invalid", message=reason, value=key))
        elif reason := label_value_error(value):
            errors.append(FieldProblem(field=f"metadata.labels[{key}]", type="Invalid", message=reason, value=value))
    if errors:
        raise ApiProblem(422, "invalid labels", problem="invalid-document", errors=errors)


def options_handler(path: str, methods: list[str]) -> HTTPRouteHandler:
    """An explicit ``OPTIONS`` answer for a path served by several handlers.

    litestar's automatic one lists only the methods of the first handler registered on the path. Register this
    handler *before* the others on the same path.
    """
    allow = ", ".join(sorted({*methods, "OPTIONS"}))

    @route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, status_code=204)
    async def answer_options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return answer_options


async def _kubernetes_version(db: Database, doc: Document) -> str:
    """The minor version of the cluster a ServicePlan runs on (its Service rules depend on it)."""
    default = ClusterSpec(nodes=[]).kubernetes_version
    if not isinstance(doc, ServicePlan):
        return default
    try:
        stored = await get_document(db, "Cluster", doc.metadata.namespace, doc.spec.cluster_ref)
    except DocumentNotFound:
        return default  # the apply fails on the unknown reference
    version = stored.content.get("spec", {}).get("kubernetesVersion", default)
    return version if isinstance(version, str) else default


def document_router(spec: KindSpec) -> Router:
    """All routes of one document kind."""
    item = f"/v1/namespaces/{{namespace:str}}/{spec.plural}/{{name:str}}"
    collection = f"/v1/namespaces/{{namespace:str}}/{spec.plural}"
    tags = [spec.kind]
    not_found = problem(f"No such {spec.kind} (or revision)")
    bad_request = problem("Malformed body, query or header")
    resource_ok = success(spec.resource, f"The {spec.kind}")

    @put(
        item,
        operation_id=f"apply{spec.kind}",
        summary=f"Create or replace a {spec.kind}",
        description=(
            "Declarative apply by name. Changed content becomes the next revision (200, or 201 when created); "
            "identical content keeps the revision (200). `metadata.name`/`namespace` may be left out and must "
            "match the URL when given. Send `If-Match` with the ETag you read to avoid overwriting a concurrent "
            "change (412 otherwise), or `If-None-Match: *` to create only."
        ),
        tags=tags,
        operation_class=custom_operation(document_body(spec), (ETAG_HEADER, LOCATION_HEADER), ("200", "201")),
        responses={
            200: resource_ok,
            201: success(spec.resource, f"The {spec.kind} was created"),
            400: bad_request,
            412: problem("If-Match / If-None-Match precondition failed"),
            413: problem("Body larger than the configured limit"),
            415: problem("Body is neither JSON nor YAML"),
            422: problem("Invalid document: field errors, or references to documents that do not exist"),
            409: problem("Too many concurrent writers; retry"),
        },
    )
    async def apply(
        *,
        namespace: NamespaceParam,
        name: NameParam,
        db: DatabaseDep,
        body: RawBody,
        content_type: Annotated[str | None, HeaderParameter(name="Content-Type", include_in_schema=False)] = None,
        if_match: IfMatchHeader = None,
        if_none_match: IfNoneMatchHeader = None,
    ) -> Response[dict[str, Any]]:
        precondition = combine(parse_if_match(if_match), parse_if_none_match(if_none_match))
        resource, _ = decode_one(body, content_type, spec.resource)
        _labels_ok(resource)
        if resource.metadata.revision is not None:
            precondition = combine(precondition, parse_if_match(etag(resource.metadata.revision)))
        doc = to_document(spec, resource, namespace, name)
        doc = validate_document(doc, kubernetes_version=await _kubernetes_version(db, doc))
        outcome = await apply_document(db, doc, precondition)
        if outcome.created:
            return document_response(outcome.document, 201, Location=f"/v1/namespaces/{namespace}/{spec.plural}/{name}")
        return document_response(outcome.document)

    @get(
        item,
        operation_id=f"read{spec.kind}",
        summary=f"Read a {spec.kind}",
        description=(
            "The latest revision, or `?revision=N` (old revisions stay readable, also after a delete). "
            "JSON by default; `Accept: application/yaml` returns the same document as YAML, the way kubectl "
            "prints it."
        ),
        tags=tags,
        operation_class=custom_operation(None, (ETAG_HEADER,), ("200",)),
        responses={200: resource_ok, 400: bad_request, 404: not_found},
    )
    async def read(
        namespace: NamespaceParam,
        name: NameParam,
        db: DatabaseDep,
        revision: RevisionQuery = None,
        accept: AcceptHeader = None,
    ) -> Response[dict[str, Any]] | Response[str]:
        stored = await get_document(db, spec.kind, namespace, name, revision)
        return yaml_document_response(stored) if prefers_yaml(accept) else document_response(stored)

    @delete(
        item,
        operation_id=f"delete{spec.kind}",
        summary=f"Delete a {spec.kind}",
        description=(
            f"Refused with 409 while {spec.referenced_by} reference it (the problem lists them). "
            "The history stays readable under /revisions; applying the name again continues its revision numbers."
        ),
        tags=tags,
        status_code=200,
        operation_class=custom_operation(None, (ETAG_HEADER,), ("200",)),
        responses={
            200: success(spec.resource, f"The last revision of the deleted {spec.kind}"),
            400: bad_request,
            404: not_found,
            409: problem("Still referenced by other documents"),
            412: problem("If-Match precondition failed"),
        },
    )
    async def remove(
        namespace: NamespaceParam, name: NameParam, db: DatabaseDep, if_match: IfMatchHeader = None
    ) -> Response[dict[str, Any]]:
        stored = await delete_document(db, spec.kind, namespace, name, parse_if_match(if_match))
        return document_response(stored)

    @get(
        f"{item}/revisions",
        operation_id=f"list{spec.kind}Revisions",
        summary=f"Revision history of a {spec.kind}",
        description=YAML_ALSO,
        tags=tags,
        responses={200: success(RevisionList, "Every revision, oldest first"), 400: bad_request, 404: not_found},
    )
    async def revisions(
        namespace: NamespaceParam, name: NameParam, db: DatabaseDep, accept: AcceptHeader = None
    ) -> RevisionList | Response[str]:
        items = await list_revisions(db, spec.kind, namespace, name)
        history = RevisionList(
            api_version="trafficplanner.io/v1",
            document_kind=spec.kind,  # type: ignore[arg-type]
            namespace=namespace,
            name=name,
            items=[
                RevisionSummary(revision=i.revision, content_hash=i.content_hash, creation_timestamp=i.created_at)
                for i in items
            ],
        )
        return yaml_response(history) if prefers_yaml(accept) else history

    async def _list(
        db: DatabaseDep,
        namespace: str | None,
        *,
        limit: int,
        continue_: str | None,
        selector: str | None,
        accept: str | None,
    ) -> Response[dict[str, Any]] | Response[str]:
        """One page in ``namespace``, or across the namespaces the caller may see (``namespace`` None)."""
        only = visible_namespaces() if namespace is None else None
        page = await list_documents(
            db,
            spec.kind,
            namespace=namespace,
            namespaces=only,
            selector=parse_selector(selector or ""),
            limit=limit,
            continue_token=continue_,
        )
        metadata = msgspec.to_builtins(ListMetadata(continue_=page.continue_token))
        body = {
            "apiVersion": API_VERSION,
            "kind": f"{spec.kind}List",
            "metadata": metadata,
            "items": [resource_body(d) for d in page.items],
        }
        return yaml_response(body) if prefers_yaml(accept) else Response(body)

    list_responses = {200: success(spec.list_type, f"One page of {spec.kind} documents"), 400: bad_request}

    @get(
        collection,
        operation_id=f"list{spec.kind}s",
        summary=f"List {spec.kind} documents in a namespace",
        description=YAML_ALSO,
        tags=tags,
        responses=list_responses,
    )
    async def list_in_namespace(
        namespace: NamespaceParam,
        db: DatabaseDep,
        *,
        limit: LimitQuery = 100,
        continue_: ContinueQuery = None,
        label_selector: SelectorQuery = None,
        accept: AcceptHeader = None,
    ) -> Response[dict[str, Any]] | Response[str]:
        return await _list(db, namespace, limit=limit, continue_=continue_, selector=label_selector, accept=accept)

    @get(
        f"/v1/{spec.plural}",
        operation_id=f"list{spec.kind}sAllNamespaces",
        summary=f"List {spec.kind} documents across namespaces",
        description=YAML_ALSO,
        tags=tags,
        responses=list_responses,
    )
    async def list_everywhere(
        db: DatabaseDep,
        limit: LimitQuery = 100,
        continue_: ContinueQuery = None,
        label_selector: SelectorQuery = None,
        accept: AcceptHeader = None,
    ) -> Response[dict[str, Any]] | Response[str]:
        return await _list(db, None, limit=limit, continue_=continue_, selector=label_selector, accept=accept)

    options = options_handler(item, ["DELETE", "GET", "PUT"])

    return Router(
        path="/",
        route_handlers=[options, apply, read, remove, revisions, list_in_namespace, list_everywhere],
    )
