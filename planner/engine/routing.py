"""Where kube-proxy sends a new connection, per entry node (traffic-semantics.md sections 3.5, 4.3 and 8).

Mirrors ``pkg/proxy/topology.go`` ``CategorizeEndpoints`` and ``topologyModeFromHints`` for one Service port,
vectorised over nodes:

- Local policies (ETP Local for external traffic, ITP Local for ClusterIP traffic) use the node's Ready
  endpoints, else its serving-terminating endpoints, else the connection is DROPped. No topology filtering.
- Cluster policies use the Ready endpoints of the whole cluster, filtered by hints when they engage for the
  node (node hints first when the ``PreferSameTrafficDistribution`` gate is on, then zone hints). Only when no
  Ready endpoint exists anywhere are the serving-terminating endpoints used, without topology. No endpoint at
  all: the connection is REJECTed.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np

from planner.engine.metrics import BoolArray, FloatArray, IntArray

MODE_LOCAL = 0
"""The connection stays on the entry node; its ``local_pods`` endpoints share it evenly."""
MODE_ZONE = 1
"""Topology hints engaged: ``zone_weights[zone of the entry node]`` gives the endpoint node."""
MODE_ALL = 2
"""No filtering: ``all_weights`` gives the endpoint node."""
MODE_DROP = 3
"""No usable endpoint for this node (dropped under Local, rejected when the Service has none at all)."""

Topology = Literal["none", "PreferSameZone", "PreferSameNode", "Auto"]
"""Cluster-policy hint source: nothing, ``trafficDistribution`` (PreferClose is PreferSameZone), or the
``service.kubernetes.io/topology-mode: Auto`` annotation."""


class CandidateRouting(msgspec.Struct, frozen=True, kw_only=True):
    """Endpoint choice for new connections entering each node, for one policy.

    A connection entering node ``n`` lands on endpoint node ``m`` with probability:

    - ``MODE_LOCAL``: 1 if ``m == n`` (spread evenly over ``local_pods[n]`` Pods);
    - ``MODE_ZONE``: ``zone_weights[zone[n], m]`` (spread evenly over ``endpoints[m]`` Pods of node ``m``);
    - ``MODE_ALL``: ``all_weights[m]`` (spread evenly over ``endpoints[m]`` Pods);
    - ``MODE_DROP``: nowhere.

    Attributes:
        mode: per entry node, one of the ``MODE_*`` constants.
        zone: zone index per node (-1: no zone label).
        local_pods: Pods used for a local choice on each node (Ready ones, or the serving-terminating ones
            when the node has no Ready endpoint).
        local_terminating: per node, whether ``local_pods`` are serving-terminating Pods.
        endpoints: Pods per node in the cluster-wide set (Ready, or serving-terminating under the fallback).
        endpoints_terminating: whether ``endpoints`` is the serving-terminating fallback.
        zone_weights: (zones, nodes); row ``z`` sums to 1 when zone ``z`` has hinted endpoints, else 0.
        all_weights: (nodes,); sums to 1 unless the cluster has no usable endpoint.
        rejected: the Service has no usable endpoint anywhere (kube-proxy REJECTs instead of dropping).
        topology_engaged: per node, whether hints (node or zone) narrowed the choice.
    """

    mode: IntArray
    zone: IntArray
    local_pods: IntArray
    local_terminating: BoolArray
    endpoints: IntArray
    endpoints_terminating: bool
    zone_weights: FloatArray
    all_weights: FloatArray
    rejected: bool
    topology_engaged: BoolArray

    @property
    def nodes(self) -> int:
        return int(self.mode.shape[0])


def _own_node_only(
    mode: IntArray, zone: IntArray, local_pods: IntArray, local_terminating: BoolArray, *, rejected: bool
) -> CandidateRouting:
    """A routing where every connection stays on its entry node (``MODE_LOCAL``) or is dropped: no cluster-wide set."""
    nodes = mode.shape[0]
    return CandidateRouting(
        mode=mode,
        zone=zone,
        local_pods=local_pods,
        local_terminating=local_terminating,
        endpoints=np.zeros(nodes, dtype=np.int64),
        endpoints_terminating=False,
        zone_weights=np.zeros((0, nodes), dtype=np.float64),
        all_weights=np.zeros(nodes, dtype=np.float64),
        rejected=rejected,
        topology_engaged=np.zeros(nodes, dtype=np.bool_),
    )


def local_routing(ready: IntArray, terminating: IntArray, zone: IntArray) -> CandidateRouting:
    """ETP Local / ITP Local: local Ready endpoints, else local serving-terminating ones, else DROP."""
    use_terminating = (ready == 0) & (terminating > 0)
    local_pods = np.where(ready > 0, ready, terminating).astype(np.int64)
    mode = np.where(local_pods > 0, MODE_LOCAL, MODE_DROP).astype(np.int64)
    rejected = int(ready.sum()) + int(terminating.sum()) == 0
    return _own_node_only(mode, zone, local_pods, use_terminating, rejected=rejected)


def direct_routing(zone: IntArray) -> CandidateRouting:
    """The load balancer targets Pod IPs (``ipTargets``): what enters a node's Pods stays there, no kube-proxy hop."""
    nodes = zone.shape[0]
    return _own_node_only(
        np.full(nodes, MODE_LOCAL, dtype=np.int64),
        zone,
        np.zeros(nodes, dtype=np.int64),
        np.zeros(nodes, dtype=np.bool_),
        rejected=False,
    )


def same_zone_weights(ready: IntArray, zone: IntArray, zone_count: int) -> FloatArray:
    """``PreferSameZone``/``PreferClose`` hints: every Ready endpoint is hinted for its own zone only.

    Row ``z`` is the Ready Pods of zone ``z`` normalised to 1 (all zeros when the zone has none).
    """
    nodes = ready.shape[0]
    weights = np.zeros((zone_count, nodes), dtype=np.float64)
    zoned = zone >= 0
    weights[zone[zoned], np.flatnonzero(zoned)] = ready[zoned]
    totals = weights.sum(axis=1, keepdims=True)
    np.divide(weights, totals, out=weights, where=totals > 0)
    return weights


def cluster_routing(
    ready: IntArray,
    terminating: IntArray,
    zone: IntArray,
    zone_count: int,
    *,
    topology: Topology,
    node_hints_enabled: bool,
    auto_zone_weights: FloatArray | None = None,
) -> CandidateRouting:
    """ETP Cluster / ITP Cluster: cluster-wide endpoints with topology hints when they engage.

    Args:
        ready: Ready endpoints per node.
        terminating: serving-terminating endpoints per node.
        zone: zone index per node (-1: no zone label).
        zone_count: number of zones.
        topology: where hints come from.
        node_hints_enabled: the ``PreferSameTrafficDistribution`` gate (beta and on from 1.34).
        auto_zone_weights: for ``Auto``, the controller's allocation (zones, nodes) when it engaged, else None.
    """
    nodes = ready.shape[0]
    total_ready = int(ready.sum())
    total_terminating = int(terminating.sum())
    engaged = np.zeros(nodes, dtype=np.bool_)
    zone_weights = np.zeros((zone_count, nodes), dtype=np.float64)
    local_pods = np.zeros(nodes, dtype=np.int64)
    if total_ready == 0:
        # No Ready endpoint anywhere: serving-terminating endpoints anywhere, topology ignored; none: REJECT.
        rejected = total_terminating == 0
        all_weights = terminating / total_terminating if not rejected else np.zeros(nodes, dtype=np.float64)
        return CandidateRouting(
            mode=np.full(nodes, MODE_DROP if rejected else MODE_ALL, dtype=np.int64),
            zone=zone,
            local_pods=local_pods,
            local_terminating=np.zeros(nodes, dtype=np.bool_),
            endpoints=terminating.astype(np.int64),
            endpoints_terminating=True,
            zone_weights=zone_weights,
            all_weights=all_weights.astype(np.float64),
            rejected=rejected,
            topology_engaged=engaged,
        )
    mode = np.full(nodes, MODE_ALL, dtype=np.int64)
    hinted_zone_weights: FloatArray | None = None
    if topology in ("PreferSameZone", "PreferSameNode"):
        # An endpoint without a zone gets no zone hint, and one missing hint makes kube-proxy ignore them all.
        if int(ready[zone < 0].sum()) == 0 and zone_count > 0:
            hinted_zone_weights = same_zone_weights(ready, zone, zone_count)
    elif topology == "Auto" and auto_zone_weights is not None and zone_count > 0:
        hinted_zone_weights = auto_zone_weights
    if hinted_zone_weights is not None:
        zone_weights = hinted_zone_weights
        has_hint = zone_weights.sum(axis=1) > 0
        in_zone = (zone >= 0) & has_hint[np.maximum(zone, 0)]
        mode[in_zone] = MODE_ZONE
        engaged |= in_zone
    if topology == "PreferSameNode" and node_hints_enabled:
        # Every Ready endpoint carries a node hint, so node mode engages wherever the node has a Ready endpoint.
        here = ready > 0
        mode[here] = MODE_LOCAL
        local_pods = np.where(here, ready, 0).astype(np.int64)
        engaged |= here
    return CandidateRouting(
        mode=mode,
        zone=zone,
        local_pods=local_pods,
        local_terminating=np.zeros(nodes, dtype=np.bool_),
        endpoints=ready.astype(np.int64),
        endpoints_terminating=False,
        zone_weights=zone_weights,
        all_weights=(ready / total_ready).astype(np.float64),
        rejected=False,
        topology_engaged=engaged,
    )


__all__ = [
    "MODE_ALL",
    "MODE_DROP",
    "MODE_LOCAL",
    "MODE_ZONE",
    "CandidateRouting",
    "Topology",
    "cluster_routing",
    "direct_routing",
    "local_routing",
    "same_zone_weights",
]
