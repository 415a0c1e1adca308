"""Node equivalence classes: nodes that behave identically in one evaluation are computed once.

Two nodes without endpoints of the Service are interchangeable when they share zone, readiness, control-plane
role, whether they report allocatable CPU, and the share of in-cluster callers on them: the load balancer gives
them the same share, kube-proxy on them makes the same choice, and topology-mode Auto only needs their zone's total
CPU. The engine computes on one entry per class with its node count as multiplicity, and expands to nodes only for
the per-node table. Nodes with endpoints (and nodes named in ``alone``, such as an L2 leader) stay classes of one,
so every per-node load, argmax and tie-break by node order is the same as on the full arrays.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import numpy as np

from planner.engine.metrics import BoolArray, FloatArray, IntArray


class NodeClasses(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """Classes ordered by their first node; every per-class array is indexed by class.

    Attributes:
        class_of_node: class index of each node.
        first: first node (lowest index) of each class.
        count: nodes in each class.
        zone: zone index (-1: no zone label).
        node_up: Ready and not down.
        control_plane: control-plane role label.
        cpu_milli: total allocatable CPU of the class's nodes (<= 0: they report none).
        ready: Ready endpoints per node of the class (0 unless it is a class of one).
        terminating: serving-terminating endpoints per node of the class (0 unless a class of one).
        callers: share of in-cluster callers on each node of the class.
    """

    class_of_node: IntArray
    first: IntArray
    count: IntArray
    zone: IntArray
    node_up: BoolArray
    control_plane: BoolArray
    cpu_milli: IntArray
    ready: IntArray
    terminating: IntArray
    callers: FloatArray

    @property
    def size(self) -> int:
        return int(self.first.shape[0])

    def expand(self, values: FloatArray) -> FloatArray:
        """Per-class values (the same for every node of a class) to per-node values."""
        out: FloatArray = values[self.class_of_node]
        return out


def _first_occurrence_classes(key: IntArray, single: BoolArray) -> tuple[IntArray, IntArray]:
    """Classes of equal non-negative ``key`` (``single`` nodes alone), numbered in order of their first node.

    Returns each node's class and each class's first node. The keys of grouped nodes are small (zone, health and
    caller codes), so a dense table finds each key's first node without sorting the nodes.
    """
    nodes = key.shape[0]
    index = np.arange(nodes, dtype=np.int64)
    grouped = ~single
    size = int(key[grouped].max(initial=-1)) + 1
    first_of_key = np.full(size, nodes, dtype=np.int64)
    np.minimum.at(first_of_key, key[grouped], index[grouped])
    used = np.flatnonzero(first_of_key < nodes)
    first = np.concatenate([first_of_key[used], np.flatnonzero(single)])
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    class_of_key = np.zeros(size, dtype=np.int64)
    class_of_key[used] = rank[: used.shape[0]]
    class_of_node = np.where(single, 0, class_of_key[np.where(single, 0, key)] if size else 0)
    class_of_node[single] = rank[used.shape[0] :]
    return class_of_node.astype(np.int64), first[order].astype(np.int64)


def node_classes(  # noqa: PLR0917 (one array per node attribute)
    zone: IntArray,
    node_up: BoolArray,
    control_plane: BoolArray,
    cpu_milli: IntArray,
    ready: IntArray,
    terminating: IntArray,
    callers: FloatArray,
    *,
    alone: Iterable[int] = (),
) -> NodeClasses:
    """Group nodes into classes (see the module docstring); ``alone`` nodes get a class of their own."""
    nodes = zone.shape[0]
    single = (ready + terminating) > 0
    single[[i for i in alone if 0 <= i < nodes]] = True
    if nodes and float(callers.min()) == float(callers.max()):
        caller_code = np.zeros(nodes, dtype=np.int64)  # one caller share everywhere (the usual default)
    else:
        _, caller_code = np.unique(callers, return_inverse=True)
    key = (zone.astype(np.int64) + 1) * 8 + node_up * 4 + control_plane * 2 + (cpu_milli <= 0)
    key = key * (int(caller_code.max(initial=0)) + 1) + caller_code.reshape(-1)
    class_of_node, first = _first_occurrence_classes(key, single)
    count = np.bincount(class_of_node, minlength=first.shape[0]).astype(np.int64)
    cpu = np.bincount(class_of_node, weights=cpu_milli.astype(np.float64), minlength=first.shape[0])
    return NodeClasses(
        class_of_node=class_of_node,
        first=first,
        count=count,
        zone=zone[first],
        node_up=node_up[first],
        control_plane=control_plane[first],
        cpu_milli=np.round(cpu).astype(np.int64),
        ready=ready[first].astype(np.int64),
        terminating=terminating[first].astype(np.int64),
        callers=callers[first].astype(np.float64),
    )


__all__ = ["NodeClasses", "node_classes"]
