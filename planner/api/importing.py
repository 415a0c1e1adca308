"""``POST /v1/import``: raw ``kubectl get nodes,pods -o json|yaml`` output in, a stored Cluster document out."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, post
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.params import HeaderParameter, QueryParameter, RawBody

from planner.api.body import media_kind, parse_raw
from planner.api.deps import DatabaseDep
from planner.api.documents import (
    ETAG_HEADER,
    LOCATION_HEADER,
    IfMatchHeader,
    custom_operation,
    document_response,
    problem,
    success,
)
from planner.api.preconditions import parse_if_match
from planner.api.problems import ApiProblem, FieldProblem
from planner.api.schemas import ClusterResource
from planner.db.documents import apply_document
from planner.domain.kubectl_import import cluster_from_kubectl
from planner.domain.types import DNS_LABEL_PATTERN
from planner.domain.validation import validate_document

_NODE_KINDS = {"Node", "NodeList"}
_POD_KINDS = {"Pod", "PodList"}


_IMPORT_SCHEMA = Schema(
    description="kubectl output: a NodeList (required) and an optional PodList, as one `kind: List`, "
    "or as several YAML documents",
)
_IMPORT_BODY = RequestBody(
    required=True,
    description="Output of `kubectl get nodes -o yaml` (and `kubectl get pods -A -o yaml`)",
    content={
        "application/yaml": OpenAPIMediaType(schema=_IMPORT_SCHEMA),
        "application/json": OpenAPIMediaType(schema=_IMPORT_SCHEMA),
    },
)


def _split(docs: list[Any]) -> tuple[tuple[str, dict[str, Any]] | None, tuple[str, dict[str, Any]] | None]:
    """Find the node source and the pod source among the documents, each with its error-path prefix."""
    nodes: list[tuple[str, dict[str, Any]]] = []
    pods: list[tuple[str, dict[str, Any]]] = []
    errors: list[FieldProblem] = []
    for index, doc in enumerate(docs):
        prefix = f"[{index}]" if len(docs) > 1 else ""
        if not isinstance(doc, dict):
            errors.append(FieldProblem(field=prefix, type="TypeInvalid", message="expected a Kubernetes object"))
            continue
        kind = doc.get("kind")
        items = doc.get("items")
        if kind == "List" and isinstance(items, list):
            item_kinds = {item.get("kind") if isinstance(item, dict) else None for item in items}
            if item_kinds <= {"Node"}:
                nodes.append((prefix, doc))
                continue
            if item_kinds <= {"Pod"}:
                pods.append((prefix, doc))
                continue
            if item_kinds <= {"Node", "Pod"}:
                # `kubectl get nodes,pods -o yaml`: split by kind (error paths then count within each kind)
                nodes.append((prefix, {"kind": "NodeList", "items": [i for i in items if i.get("kind") == "Node"]}))
                pods.append((prefix, {"kind": "PodList", "items": [i for i in items if i.get("kind") == "Pod"]}))
                continue
        if kind in _NODE_KINDS:
            nodes.append((prefix, doc))
        elif kind in _POD_KINDS:
            pods.append((prefix, doc))
        else:
            errors.append(
                FieldProblem(
                    field=f"{prefix}.kind" if prefix else "kind",
                    type="NotSupported",
                    message="cluster import takes NodeList, PodList, Node, Pod or List; "
                    "put Services and workloads in a ServicePlan",
                    value=kind,
                )
            )
    if len(nodes) > 1:
        errors.append(FieldProblem(field=nodes[1][0], type="Duplicate", message="more than one node list"))
    if len(pods) > 1:
        errors.append(FieldProblem(field=pods[1][0], type="Duplicate", message="more than one pod list"))
    if not nodes and not errors:
        errors.append(FieldProblem(field="", type="Required", message="a NodeList is required"))
    if errors:
        raise ApiProblem(422, "the kubectl output cannot be imported", problem="invalid-import", errors=errors)
    return (nodes[0] if nodes else None), (pods[0] if pods else None)


@post(
    "/v1/import",
    operation_id="importCluster",
    summary="Import kubectl output as a Cluster",
    description=(
        "Takes `kubectl get nodes -o yaml|json` output, optionally followed by (or combined in a `List` with) "
        "`kubectl get pods -o yaml|json` output, and creates or updates the Cluster `name` in `namespace`. "
        "Zones come from `topology.kubernetes.io/zone`, allocatable resources, taints, readiness and "
        "unschedulable from each Node; running Pods and their requests from the PodList."
    ),
    tags=["Import"],
    operation_class=custom_operation(_IMPORT_BODY, (ETAG_HEADER, LOCATION_HEADER), ("200", "201")),
    responses={
        200: success(ClusterResource, "The Cluster was updated (or unchanged)"),
        201: success(ClusterResource, "The Cluster was created"),
        400: problem("Malformed body, query or header"),
        409: problem("Too many concurrent writers; retry"),
        412: problem("If-Match precondition failed"),
        413: problem("Body larger than the configured limit"),
        415: problem("Body is neither JSON nor YAML"),
        422: problem("The kubectl output is not a valid node / pod list"),
    },
)
async def import_cluster(
    *,
    db: DatabaseDep,
    body: RawBody,
    name: Annotated[str, QueryParameter(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)],
    namespace: Annotated[str, QueryParameter(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)] = "default",
    content_type: Annotated[str | None, HeaderParameter(name="Content-Type", include_in_schema=False)] = None,
    if_match: IfMatchHeader = None,
) -> Response[dict[str, Any]]:
    precondition = parse_if_match(if_match)
    docs = parse_raw(body, media_kind(content_type))
    node_source, pod_source = _split(docs)
    assert node_source is not None
    cluster = cluster_from_kubectl(
        name,
        node_source[1],
        pod_source[1] if pod_source else None,
        namespace=namespace,
        nodes_path=node_source[0],
        pods_path=pod_source[0] if pod_source else "",
    )
    outcome = await apply_document(db, validate_document(cluster), precondition)
    if outcome.created:
        return document_response(outcome.document, 201, Location=f"/v1/namespaces/{namespace}/clusters/{name}")
    return document_response(outcome.document)
