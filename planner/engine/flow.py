"""Push per-node inflow through a :class:`CandidateRouting`: what each node receives, forwards, serves, drops."""

from __future__ import annotations

import msgspec
import numpy as np

from planner.engine.metrics import (
    FloatArray,
    IntArray,
    PodLoadStats,
    coefficient_of_variation,
    hottest_pod_ratio,
    pod_load_stats,
)
from planner.engine.routing import MODE_ALL, MODE_DROP, MODE_LOCAL, MODE_ZONE, CandidateRouting


class Flow(msgspec.Struct, frozen=True, kw_only=True):
    """Expected new connections per node, as fractions of what entered (or absolute rates after ``scaled``).

    Attributes:
        received: entering each node (from the LB or from callers on it).
        forwarded: sent from that node to an endpoint on another node.
        served_locally: served by an endpoint on the entry node itself.
        dropped: dropped (or rejected) on the entry node.
        ready_load: served by the node's Ready Pods (all of them together).
        terminating_load: served by the node's serving-terminating Pods.
        weight: how many identical nodes each entry stands for (None: one each); totals count every one.
    """

    received: FloatArray
    forwarded: FloatArray
    served_locally: FloatArray
    dropped: FloatArray
    ready_load: FloatArray
    terminating_load: FloatArray
    weight: FloatArray | None = None

    def _total(self, values: FloatArray) -> float:
        return float(values.sum() if self.weight is None else values @ self.weight)

    def scaled(self, factor: float) -> Flow:
        return Flow(
            received=self.received * factor,
            forwarded=self.forwarded * factor,
            served_locally=self.served_locally * factor,
            dropped=self.dropped * factor,
            ready_load=self.ready_load * factor,
            terminating_load=self.terminating_load * factor,
            weight=self.weight,
        )

    def plus(self, other: Flow) -> Flow:
        return Flow(
            received=self.received + other.received,
            forwarded=self.forwarded + other.forwarded,
            served_locally=self.served_locally + other.served_locally,
            dropped=self.dropped + other.dropped,
            ready_load=self.ready_load + other.ready_load,
            terminating_load=self.terminating_load + other.terminating_load,
            weight=self.weight if self.weight is not None else other.weight,
        )

    @property
    def total_received(self) -> float:
        return self._total(self.received)

    @property
    def total_dropped(self) -> float:
        return self._total(self.dropped)

    @property
    def total_served(self) -> float:
        return self._total(self.ready_load) + self._total(self.terminating_load)

    def dropped_fraction(self) -> float:
        total = self.total_received
        return self.total_dropped / total if total > 0 else 0.0

    def extra_hop_fraction(self) -> float:
        """Share of served connections whose endpoint is on another node than the one they entered."""
        served = self.total_served
        return self._total(self.forwarded) / served if served > 0 else 0.0


def dispatch(inflow: FloatArray, routing: CandidateRouting, multiplicity: FloatArray | None = None) -> Flow:
    """Route ``inflow[n]`` (new connections entering node ``n``) as kube-proxy on each node would.

    With ``multiplicity`` entry ``n`` stands for that many identical nodes, each receiving ``inflow[n]``; nodes with
    endpoints must stand for themselves only (their loads are per node).
    """
    mode = routing.mode
    nodes = inflow.shape[0]
    mass = inflow if multiplicity is None else inflow * multiplicity
    local = mode == MODE_LOCAL
    to_local = np.where(local, inflow, 0.0)
    dropped = np.where(mode == MODE_DROP, inflow, 0.0)
    stay = to_local.copy()
    cluster_load = np.zeros(nodes, dtype=np.float64)
    everywhere = mode == MODE_ALL
    if everywhere.any():
        cluster_load += float(mass[everywhere].sum()) * routing.all_weights
        stay += np.where(everywhere, inflow * routing.all_weights, 0.0)
    zoned = mode == MODE_ZONE
    if zoned.any():
        zone_count = routing.zone_weights.shape[0]
        zone_of = np.maximum(routing.zone, 0)
        zone_in = np.bincount(zone_of[zoned], weights=mass[zoned], minlength=zone_count)
        cluster_load += zone_in @ routing.zone_weights
        own = routing.zone_weights[zone_of, np.arange(nodes)]
        stay += np.where(zoned, inflow * own, 0.0)
    forwarded = inflow - dropped - stay
    if routing.local_terminating.any():
        local_ready = np.where(routing.local_terminating, 0.0, to_local)
        local_terminating = np.where(routing.local_terminating, to_local, 0.0)
    else:
        local_ready, local_terminating = to_local, np.zeros(nodes)
    if routing.endpoints_terminating:
        ready_load, terminating_load = local_ready, local_terminating + cluster_load
    else:
        ready_load, terminating_load = local_ready + cluster_load, local_terminating
    return Flow(
        received=inflow,
        forwarded=np.maximum(forwarded, 0.0),
        served_locally=stay,
        dropped=dropped,
        ready_load=ready_load,
        terminating_load=terminating_load,
        weight=multiplicity,
    )


def direct_to_pods(node_share: FloatArray, multiplicity: FloatArray | None = None) -> Flow:
    """The LB targets Pod IPs (``ipTargets``): each node's Pods get ``node_share``; no kube-proxy hop."""
    zero = np.zeros(node_share.shape[0])
    return Flow(
        received=node_share,
        forwarded=zero,
        served_locally=node_share,
        dropped=zero,
        ready_load=node_share,
        terminating_load=zero,
        weight=multiplicity,
    )


class PodGroups(msgspec.Struct, frozen=True, kw_only=True):
    """Per-Pod load in groups of identical Pods: per node, its Ready Pods and its serving-terminating Pods."""

    per_pod: FloatArray
    pods: IntArray

    def stats(self) -> PodLoadStats:
        """Every load-balance metric of these groups (planner.engine.metrics), computed once."""
        return pod_load_stats(self.per_pod, self.pods)

    def hottest_ratio(self) -> float:
        return hottest_pod_ratio(self.per_pod, self.pods)

    def cv(self) -> float:
        return coefficient_of_variation(self.per_pod, self.pods)

    def hottest(self) -> float:
        present = self.pods > 0
        return float(self.per_pod[present].max()) if present.any() else 0.0


def pod_groups(flow: Flow, ready: IntArray, terminating: IntArray) -> PodGroups:
    """Ready Pods always count (idle ones too); terminating Pods count only where they still get connections."""
    nodes = ready.shape[0]
    per_ready = np.divide(flow.ready_load, ready, out=np.zeros(nodes), where=ready > 0)
    if not terminating.any():
        # No serving-terminating Pod anywhere: the second half is all zeros (kept, so every vector has one shape).
        return PodGroups(
            per_pod=np.concatenate([per_ready, np.zeros(nodes)]),
            pods=np.concatenate([ready, np.zeros(nodes, dtype=np.int64)]).astype(np.int64),
        )
    per_terminating = np.divide(flow.terminating_load, terminating, out=np.zeros(nodes), where=terminating > 0)
    serving_terminating = np.where(flow.terminating_load > 0, terminating, 0)
    return PodGroups(
        per_pod=np.concatenate([per_ready, per_terminating]),
        pods=np.concatenate([ready, serving_terminating]).astype(np.int64),
    )


__all__ = ["Flow", "PodGroups", "direct_to_pods", "dispatch", "pod_groups"]
