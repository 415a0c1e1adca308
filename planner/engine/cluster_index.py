"""A Cluster document as arrays, built once and shared by every Service evaluated on it.

Node attributes become arrays over nodes; Pods become arrays over Pods (node index, namespace code, state) plus one
code column per label key, so a Service's selector is matched with a few vectorised comparisons instead of a Python
loop over every Pod.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import msgspec
import numpy as np

from planner.domain import k8s
from planner.domain.documents import Cluster
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.quantity import QuantityError, millicores
from planner.engine.metrics import BoolArray, IntArray

POD_READY = 0
POD_TERMINATING = 1
"""Serving-terminating: terminating and still ready."""
POD_NOT_READY = 2
POD_GONE = 3
"""Terminating and not ready: no longer an endpoint at all."""

_CACHE_SIZE = 4


class LabelColumn(msgspec.Struct, frozen=True, eq=False):
    """One label key over all Pods: a value code per Pod (-1: the Pod lacks the key)."""

    codes: IntArray
    values: dict[str, int]


class ClusterIndex(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """Arrays of one Cluster document. Treat as read-only: callers copy what they change."""

    names: tuple[str, ...]
    index: dict[str, int]
    zone: IntArray
    zone_names: tuple[str, ...]
    zone_index: dict[str, int]
    cpu_milli: IntArray
    control_plane: BoolArray
    node_up: BoolArray
    schedulable: BoolArray
    pod_node: IntArray
    """Node index of each Pod (-1: a node not in the cluster; the Cluster's own validation reports it)."""
    pod_namespace: IntArray
    namespaces: dict[str, int]
    pod_state: IntArray
    """``POD_*`` per Pod."""
    labels: dict[str, LabelColumn]

    def matching(self, namespace: str, selector: Mapping[str, str]) -> BoolArray:
        """Pods in ``namespace`` whose labels include every ``selector`` pair (on a known node)."""
        code = self.namespaces.get(namespace)
        if code is None or not selector:
            return np.zeros(self.pod_node.shape[0], dtype=np.bool_)
        mask: BoolArray = (self.pod_namespace == code) & (self.pod_node >= 0)
        for key, value in selector.items():
            column = self.labels.get(key)
            wanted = column.values.get(value) if column is not None else None
            if column is None or wanted is None:
                return np.zeros(self.pod_node.shape[0], dtype=np.bool_)
            mask &= column.codes == wanted
        return mask

    def pods_per_node(self, mask: BoolArray, state: int) -> IntArray:
        """Matching Pods in ``state`` per node."""
        selected = mask & (self.pod_state == state)
        counts: IntArray = np.bincount(self.pod_node[selected], minlength=len(self.names)).astype(np.int64)
        return counts


def _build(cluster: Cluster) -> ClusterIndex:
    nodes = cluster.spec.nodes
    names = tuple(node.name for node in nodes)
    zones_of = [
        node.zone or node.labels.get(k8s.ZONE_LABEL) or node.labels.get(k8s.LEGACY_ZONE_LABEL) for node in nodes
    ]
    zone_names = tuple(sorted({z for z in zones_of if z}))
    zone_index = {z: i for i, z in enumerate(zone_names)}
    cpu = np.full(len(nodes), -1, dtype=np.int64)
    parsed: dict[str | int | float, int] = {}
    for i, node in enumerate(nodes):
        text = node.allocatable.cpu
        if text is None:
            continue
        value = parsed.get(text)
        if value is None:
            try:
                value = parsed[text] = millicores(text)
            except QuantityError as exc:
                raise InvalidDocument(
                    [FieldError(field=f"spec.nodes[{i}].allocatable.cpu", type="Invalid", value=text, message=str(exc))]
                ) from exc
        cpu[i] = value
    index = {name: i for i, name in enumerate(names)}
    pods = cluster.spec.pods
    count = len(pods)
    pod_node = np.fromiter((index.get(pod.node, -1) for pod in pods), dtype=np.int64, count=count)
    namespaces: dict[str, int] = {}
    pod_namespace = np.fromiter(
        (namespaces.setdefault(pod.namespace, len(namespaces)) for pod in pods), dtype=np.int64, count=count
    )
    terminating = np.fromiter((pod.terminating for pod in pods), dtype=np.bool_, count=count)
    ready = np.fromiter((pod.ready for pod in pods), dtype=np.bool_, count=count)
    pod_state = np.where(
        terminating, np.where(ready, POD_TERMINATING, POD_GONE), np.where(ready, POD_READY, POD_NOT_READY)
    ).astype(np.int64)
    columns: dict[str, tuple[list[int], list[int], dict[str, int]]] = {}
    for position, pod in enumerate(pods):
        for key, label in pod.labels.items():
            rows, codes, values = columns.setdefault(key, ([], [], {}))
            rows.append(position)
            codes.append(values.setdefault(label, len(values)))
    labels: dict[str, LabelColumn] = {}
    for key, (rows, codes, values) in columns.items():
        column = np.full(count, -1, dtype=np.int64)
        column[np.array(rows, dtype=np.int64)] = np.array(codes, dtype=np.int64)
        labels[key] = LabelColumn(codes=column, values=values)
    return ClusterIndex(
        names=names,
        index=index,
        zone=np.array([zone_index[z] if z else -1 for z in zones_of], dtype=np.int64),
        zone_names=zone_names,
        zone_index=zone_index,
        cpu_milli=cpu,
        control_plane=np.array([any(k in node.labels for k in k8s.CONTROL_PLANE_LABELS) for node in nodes], dtype=bool),
        node_up=np.array([node.ready for node in nodes], dtype=bool),
        schedulable=np.array([not node.unschedulable for node in nodes], dtype=bool),
        pod_node=pod_node,
        pod_namespace=pod_namespace,
        namespaces=namespaces,
        pod_state=pod_state,
        labels=labels,
    )


_recent: OrderedDict[int, tuple[Cluster, ClusterIndex]] = OrderedDict()


def cluster_index(cluster: Cluster) -> ClusterIndex:
    """The index of ``cluster``, reused while the same document object is evaluated again (a few are kept).

    Raises:
        InvalidDocument: a node's allocatable CPU is not a quantity (with its field path).
    """
    key = id(cluster)
    hit = _recent.get(key)
    if hit is not None and hit[0] is cluster:
        _recent.move_to_end(key)
        return hit[1]
    built = _build(cluster)
    _recent[key] = (cluster, built)
    while len(_recent) > _CACHE_SIZE:
        _recent.popitem(last=False)
    return built


__all__ = ["ClusterIndex", "LabelColumn", "cluster_index"]
