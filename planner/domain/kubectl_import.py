"""Turn ``kubectl get nodes -o json|yaml`` and ``kubectl get pods -o json|yaml`` output into a Cluster document.

Accepted shapes: a ``NodeList``/``PodList``, a ``kind: List`` with items, or a single ``Node``/``Pod``. Field
errors carry the path inside the given object (``items[3].status.allocatable.cpu``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from planner.domain.documents import API_VERSION, Cluster, ClusterNode, ClusterPod
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import convert_view, invalid, join, not_found, not_supported, required, type_error
from planner.domain.k8s import LEGACY_ZONE_LABEL, ZONE_LABEL, Condition, Node, Pod
from planner.domain.quantity import QuantityError, byte_count, count, format_bytes, format_millicores, millicores
from planner.domain.service_rules import parse_minor_version
from planner.domain.workload import pod_requests

_ALLOCATABLE = {"cpu": millicores, "memory": byte_count, "pods": count}
_NODE_FIELDS = {
    "name": "metadata.name",
    "labels": "metadata.labels",
    "allocatable": "status.allocatable",
    "taints": "spec.taints",
    "unschedulable": "spec.unschedulable",
}
_POD_FIELDS = {
    "name": "metadata.name",
    "namespace": "metadata.namespace",
    "labels": "metadata.labels",
    "node": "spec.nodeName",
}


def list_items(raw: dict[str, Any], kind: str, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, item)`` for each object of ``kind`` in a ``<kind>List``, a ``List`` or a single object."""
    if "items" in raw or raw.get("kind") in (f"{kind}List", "List"):
        items = raw.get("items") or []
        if not isinstance(items, list):
            yield join(path, "items"), items
            return
        for index, item in enumerate(items):
            yield join(path, f"items[{index}]"), item
    else:
        yield path, raw


def _condition(conditions: list[Condition] | None, kind: str) -> bool | None:
    for condition in conditions or []:
        if condition.type == kind:
            return condition.status == "True"
    return None


def _translate(error: FieldError, prefix: str, fields: dict[str, str]) -> FieldError:
    """Map a path in planner's shape (``allocatable.cpu``) back to the kubectl object (``status.allocatable.cpu``)."""
    head, dot, rest = error.field.partition(".")
    bracket = head.find("[")
    base, index = (head[:bracket], head[bracket:]) if bracket >= 0 else (head, "")
    mapped = fields.get(base, base) + index + (dot + rest if dot else "")
    return msgspec.structs.replace(error, field=join(prefix, mapped))


def _convert(data: dict[str, Any], kind: type[Any], prefix: str, fields: dict[str, str]) -> Any:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise InvalidDocument([_translate(type_error(exc, ""), prefix, fields)]) from exc


def node_from_kubectl(raw: Any, path: str = "") -> ClusterNode:
    """One Node object as kubectl prints it -> ClusterNode.

    Zone from ``topology.kubernetes.io/zone`` (else the deprecated ``failure-domain.beta.kubernetes.io/zone``);
    allocatable from ``status.allocatable`` (from ``capacity`` when absent, as ``SetDefaults_NodeStatus`` does);
    ready from the Ready condition (a node without conditions, as written by hand, counts as Ready).

    Raises:
        InvalidDocument: every problem of this node, with ``path`` in front.
    """
    if isinstance(raw, dict) and raw.get("kind") not in (None, "Node"):
        raise InvalidDocument([not_supported(join(path, "kind"), raw.get("kind"), ["Node"])])
    node = convert_view(raw, Node, path)
    errors: list[FieldError] = []
    if not node.metadata.name:
        errors.append(required(join(path, "metadata.name")))
    labels = dict(node.metadata.labels or {})
    allocatable_raw = node.status.allocatable if node.status.allocatable is not None else node.status.capacity
    section = "allocatable" if node.status.allocatable is not None else "capacity"
    allocatable: dict[str, str] = {}
    for resource, parse in _ALLOCATABLE.items():
        value = (allocatable_raw or {}).get(resource)
        if value is None:
            continue
        try:
            parse(value)
        except QuantityError as exc:
            errors.append(invalid(join(path, f"status.{section}.{resource}"), value, str(exc)))
            continue
        allocatable[resource] = str(value)
    if errors:
        raise InvalidDocument(errors)
    ready = _condition(node.status.conditions, "Ready")
    data = {
        "name": node.metadata.name,
        "zone": labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL),
        "labels": labels,
        "allocatable": allocatable,
        "taints": [msgspec.to_builtins(t) for t in node.spec.taints or []],
        "unschedulable": bool(node.spec.unschedulable),
        "ready": True if ready is None else ready,
    }
    if data["zone"] is None:
        del data["zone"]
    result: ClusterNode = _convert(data, ClusterNode, path, _NODE_FIELDS)
    return result


def pod_from_kubectl(raw: Any, path: str = "", namespace: str = "default") -> ClusterPod | None:
    """One Pod object -> ClusterPod, or ``None`` for a Pod that uses no node capacity.

    Unscheduled Pods (no ``spec.nodeName``) and finished ones (phase Succeeded or Failed) are skipped. Ready comes
    from the Ready condition (without conditions: phase Running); terminating from ``metadata.deletionTimestamp``;
    requests are the scheduler's effective requests.

    Raises:
        InvalidDocument: every problem of this Pod, with ``path`` in front.
    """
    if isinstance(raw, dict) and raw.get("kind") not in (None, "Pod"):
        raise InvalidDocument([not_supported(join(path, "kind"), raw.get("kind"), ["Pod"])])
    pod = convert_view(raw, Pod, path)
    if not pod.spec.node_name or pod.status.phase in ("Succeeded", "Failed"):
        return None
    cpu, memory, errors = pod_requests(pod.spec, "spec")
    if not pod.metadata.name:
        errors.append(required("metadata.name"))
    if errors:
        raise InvalidDocument([msgspec.structs.replace(e, field=join(path, e.field)) for e in errors])
    ready = _condition(pod.status.conditions, "Ready")
    data = {
        "name": pod.metadata.name,
        "node": pod.spec.node_name,
        "namespace": pod.metadata.namespace or namespace,
        "labels": dict(pod.metadata.labels or {}),
        "requests": {"cpu": format_millicores(cpu), "memory": format_bytes(memory)},
        "ready": pod.status.phase == "Running" if ready is None else ready,
        "terminating": pod.metadata.deletion_timestamp is not None,
    }
    result: ClusterPod = _convert(data, ClusterPod, path, _POD_FIELDS)
    return result


def _kubernetes_version(raw_items: list[Any]) -> str | None:
    """The newest kubelet minor version in the NodeList: the API server is at least that new."""
    versions: list[tuple[int, int]] = []
    for item in raw_items:
        info = item.get("status", {}).get("nodeInfo", {}) if isinstance(item, dict) else {}
        text = info.get("kubeletVersion") if isinstance(info, dict) else None
        if not isinstance(text, str):
            return None
        try:
            versions.append(parse_minor_version(text.split("+")[0].split("-")[0]))
        except ValueError:
            return None
    if not versions:
        return None
    major, minor = max(versions)
    return f"{major}.{minor:02d}" if major == 1 and minor >= 10 else None


def cluster_from_kubectl(
    name: str,
    nodes_raw: dict[str, Any],
    pods_raw: dict[str, Any] | None = None,
    *,
    namespace: str = "default",
    nodes_path: str = "",
    pods_path: str = "",
) -> Cluster:
    """Build a Cluster document from kubectl output.

    Args:
        name: the Cluster document's name.
        nodes_raw: a NodeList, ``List`` or single Node.
        pods_raw: optional PodList, ``List`` or single Pod: existing Pods (they use capacity).
        namespace: the document's namespace, also used for Pods that carry none.
        nodes_path, pods_path: prefixes for error paths (when both inputs come in one request body).

    Raises:
        InvalidDocument: every problem at once, e.g. ``items[3].status.allocatable.cpu``.
    """
    errors: list[FieldError] = []
    nodes: list[ClusterNode] = []
    node_items = list(list_items(nodes_raw, "Node", nodes_path))
    seen: dict[str, str] = {}
    for path, item in node_items:
        try:
            node = node_from_kubectl(item, path)
        except InvalidDocument as exc:
            errors.extend(exc.errors)
            continue
        if node.name in seen:
            errors.append(
                FieldError(
                    field=join(path, "metadata.name"), type="Duplicate", message="Duplicate value", value=node.name
                )
            )
            continue
        seen[node.name] = path
        nodes.append(node)
    pods: list[ClusterPod] = []
    if pods_raw is not None:
        for path, item in list_items(pods_raw, "Pod", pods_path):
            try:
                pod = pod_from_kubectl(item, path, namespace)
            except InvalidDocument as exc:
                errors.extend(exc.errors)
                continue
            if pod is None:
                continue
            if pod.node not in seen:
                errors.append(not_found(join(path, "spec.nodeName"), pod.node, "no such node in the node list"))
                continue
            pods.append(pod)
    if not node_items and not errors:
        errors.append(required(join(nodes_path, "items"), "at least one Node is required"))
    if errors:
        raise InvalidDocument(errors, summary="kubectl output is invalid")
    spec: dict[str, Any] = {
        "nodes": [msgspec.to_builtins(n) for n in nodes],
        "pods": [msgspec.to_builtins(p) for p in pods],
    }
    version = _kubernetes_version([item for _, item in node_items])
    if version is not None:
        spec["kubernetesVersion"] = version
    document = {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    try:
        return msgspec.convert(document, Cluster)
    except msgspec.ValidationError as exc:
        raise InvalidDocument([type_error(exc, "")], summary="kubectl output is invalid") from exc


__all__ = ["cluster_from_kubectl", "list_items", "node_from_kubectl", "pod_from_kubectl"]
