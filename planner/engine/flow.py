"""Push per-node inflow through a :class:`CandidateRouting`: what each node receives, forwards, serves, drops."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from planner.engine.metrics import (
    FloatArray,
    IntArray,
    PodLoadRows,
    PodLoadStats,
    pod_load_rows,
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

    @property
    def total_served(self) -> float:
        return self._total(self.ready_load) + self._total(self.terminating_load)


FLOW_FIELDS = ("received", "forwarded", "served_locally", "dropped", "ready_load", "terminating_load")
"""The :class:`Flow` arrays, in the order :class:`FlowRows` stacks them."""


class FlowRows(msgspec.Struct, frozen=True, kw_only=True):
    """Several flows over the same nodes at once (one row per traffic path or policy).

    ``data[f, i, n]`` is field ``FLOW_FIELDS[f]`` of row ``i`` at node ``n`` (the :class:`Flow` attribute of the
    same name); one array, so that scaling or gathering rows is one operation for every field.
    """

    data: FloatArray
    weight: FloatArray | None = None

    @property
    def rows(self) -> int:
        return int(self.data.shape[1])

    @property
    def ready_load(self) -> FloatArray:
        out: FloatArray = self.data[4]
        return out

    @property
    def terminating_load(self) -> FloatArray:
        out: FloatArray = self.data[5]
        return out

    @property
    def forwarded(self) -> FloatArray:
        out: FloatArray = self.data[1]
        return out

    def row(self, index: int) -> Flow:
        d = self.data
        return Flow(
            received=d[0, index],
            forwarded=d[1, index],
            served_locally=d[2, index],
            dropped=d[3, index],
            ready_load=d[4, index],
            terminating_load=d[5, index],
            weight=self.weight,
        )

    def totals(self, values: FloatArray) -> FloatArray:
        """Per row, the total over every node (a class counts once per node it stands for)."""
        out: FloatArray = values.sum(axis=1) if self.weight is None else values @ self.weight
        return out

    def scaled(self, factors: FloatArray) -> FlowRows:
        """Row ``i`` times ``factors[i]``."""
        return FlowRows(data=self.data * factors[None, :, None], weight=self.weight)

    def sums(self, first: IntArray, second: IntArray) -> FlowRows:
        """Row ``first[j]`` plus row ``second[j]`` for every ``j`` (index ``rows``: a row of zeros)."""
        padded = np.concatenate([self.data, np.zeros((len(FLOW_FIELDS), 1, self.data.shape[2]))], axis=1)
        return FlowRows(data=padded[:, first] + padded[:, second], weight=self.weight)


def dispatch_rows(
    inflow: FloatArray, routings: Sequence[CandidateRouting], multiplicity: FloatArray | None = None
) -> FlowRows:
    """Route ``inflow[i, n]`` (new connections entering node ``n`` on path ``i``) as kube-proxy on each node would
    under ``routings[i]``; the paths are computed together, one row each.

    With ``multiplicity`` entry ``n`` stands for that many identical nodes, each receiving ``inflow[i, n]``; nodes
    with endpoints must stand for themselves only (their loads are per node).
    """
    rows, nodes = inflow.shape
    mode = np.stack([r.mode for r in routings])
    mass = inflow if multiplicity is None else inflow * multiplicity
    to_local = np.where(mode == MODE_LOCAL, inflow, 0.0)
    dropped = np.where(mode == MODE_DROP, inflow, 0.0)
    stay = to_local.copy()
    cluster_load = np.zeros((rows, nodes), dtype=np.float64)
    everywhere = mode == MODE_ALL
    if everywhere.any():
        all_weights = np.stack([r.all_weights for r in routings])
        cluster_load += np.where(everywhere, mass, 0.0).sum(axis=1, keepdims=True) * all_weights
        stay += np.where(everywhere, inflow * all_weights, 0.0)
    zoned = mode == MODE_ZONE
    if zoned.any():
        zone_count = max(r.zone_weights.shape[0] for r in routings)
        zone_weights = np.zeros((rows, zone_count, nodes), dtype=np.float64)
        for i, r in enumerate(routings):
            zone_weights[i, : r.zone_weights.shape[0]] = r.zone_weights
        zone_of = np.maximum(routings[0].zone, 0)
        keys = (np.arange(rows)[:, None] * zone_count + zone_of[None, :]).ravel()
        zone_in = np.bincount(keys, weights=np.where(zoned, mass, 0.0).ravel(), minlength=rows * zone_count)
        cluster_load += np.matmul(zone_in.reshape(rows, 1, zone_count), zone_weights)[:, 0, :]
        own = zone_weights[:, zone_of, np.arange(nodes)]
        stay += np.where(zoned, inflow * own, 0.0)
    forwarded = inflow - dropped - stay
    local_terminating = np.stack([r.local_terminating for r in routings])
    if local_terminating.any():
        local_ready = np.where(local_terminating, 0.0, to_local)
        local_serving_terminating = np.where(local_terminating, to_local, 0.0)
    else:
        local_ready, local_serving_terminating = to_local, np.zeros((rows, nodes))
    endpoints_terminating = np.array([r.endpoints_terminating for r in routings])[:, None]
    data = np.stack(
        [
            inflow,
            np.maximum(forwarded, 0.0),
            stay,
            dropped,
            local_ready + np.where(endpoints_terminating, 0.0, cluster_load),
            local_serving_terminating + np.where(endpoints_terminating, cluster_load, 0.0),
        ]
    )
    return FlowRows(data=data, weight=multiplicity)


def dispatch(inflow: FloatArray, routing: CandidateRouting, multiplicity: FloatArray | None = None) -> Flow:
    """:func:`dispatch_rows` for one path."""
    return dispatch_rows(inflow[None, :], [routing], multiplicity).row(0)


class PodGroups(msgspec.Struct, frozen=True, kw_only=True):
    """Per-Pod load in groups of identical Pods: per node, its Ready Pods and its serving-terminating Pods."""

    per_pod: FloatArray
    pods: IntArray

    def stats(self) -> PodLoadStats:
        """Every load-balance metric of these groups (planner.engine.metrics), computed once."""
        return pod_load_stats(self.per_pod, self.pods)


class PodGroupRows(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`PodGroups` of several flows at once: ``per_pod`` is ``(rows, groups)``; ``pods`` the same shape, or
    one row for all."""

    per_pod: FloatArray
    pods: IntArray

    def stats(self) -> PodLoadRows:
        return pod_load_rows(self.per_pod, self.pods)

    def row(self, index: int) -> PodGroups:
        pods = self.pods if self.pods.ndim == 1 else self.pods[index]
        return PodGroups(per_pod=self.per_pod[index], pods=pods)


def pod_group_rows(
    ready_load: FloatArray, terminating_load: FloatArray, ready: IntArray, terminating: IntArray
) -> PodGroupRows:
    """Per row of the loads (``(rows, nodes)``): Ready Pods always count (idle ones too); terminating Pods count
    only where they still get connections."""
    rows, nodes = ready_load.shape
    per_ready = np.divide(ready_load, ready, out=np.zeros((rows, nodes)), where=ready > 0)
    if not terminating.any():
        # No serving-terminating Pod anywhere: the second half is all zeros (kept, so every vector has one shape).
        return PodGroupRows(
            per_pod=np.hstack([per_ready, np.zeros((rows, nodes))]),
            pods=np.concatenate([ready, np.zeros(nodes, dtype=np.int64)]).astype(np.int64),
        )
    per_terminating = np.divide(terminating_load, terminating, out=np.zeros((rows, nodes)), where=terminating > 0)
    serving_terminating = np.where(terminating_load > 0, terminating, 0)
    return PodGroupRows(
        per_pod=np.hstack([per_ready, per_terminating]),
        pods=np.hstack([np.broadcast_to(ready, (rows, nodes)), serving_terminating]).astype(np.int64),
    )


def pod_groups(flow: Flow, ready: IntArray, terminating: IntArray) -> PodGroups:
    """:func:`pod_group_rows` of one flow."""
    return pod_group_rows(flow.ready_load[None, :], flow.terminating_load[None, :], ready, terminating).row(0)


__all__ = [
    "FLOW_FIELDS",
    "Flow",
    "FlowRows",
    "PodGroupRows",
    "PodGroups",
    "dispatch",
    "dispatch_rows",
    "pod_group_rows",
    "pod_groups",
]
