"""What the cluster would do without the optimizer: placements the plan is compared against.

All strategies place Pods one at a time on nodes that pass the scheduler's filters (eligibility, free cpu /
memory / Pod slots, required hostname anti-affinity). Ties go to the lowest node index; the real scheduler picks
randomly among equal scores (``selectHost``), so the baselines are one representative outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from planner.engine.metrics import BoolArray, FloatArray, IntArray
from planner.optimizer.instance import UNLIMITED, ClusterArrays, ServiceInstance, pods_that_fit

# kube-scheduler's default score plugin weights (pkg/scheduler/apis/config/v1/default_plugins.go):
# NodeResourcesFit 1, NodeResourcesBalancedAllocation 1, PodTopologySpread 2.
FIT_WEIGHT, BALANCED_WEIGHT, SPREAD_WEIGHT = 1.0, 1.0, 2.0
MAX_NODE_SCORE = 100.0
# PodTopologySpread system defaults when a Pod has no constraints of its own (kubernetes/kubernetes
# pkg/scheduler/framework/plugins/podtopologyspread/plugin.go, systemDefaultConstraints):
# kubernetes.io/hostname maxSkew 3 and topology.kubernetes.io/zone maxSkew 5, both ScheduleAnyway.
DEFAULT_HOSTNAME_SKEW, DEFAULT_ZONE_SKEW = 3, 5


def _filters(svc: ServiceInstance, residual: IntArray, placed: IntArray) -> BoolArray:
    ok = svc.eligible & (pods_that_fit(residual, svc.request) >= 1)
    if svc.anti_affinity:
        ok &= placed == 0
    return ok


def _utilisation(alloc: IntArray, residual: IntArray) -> FloatArray:
    """Requested fraction of cpu and memory per node (0 where allocatable is unknown)."""
    known = alloc[:, :2] < UNLIMITED
    used = (alloc[:, :2] - residual[:, :2]).astype(np.float64)
    total = np.where(known, alloc[:, :2], 1).astype(np.float64)
    frac: FloatArray = np.where(known, used / np.maximum(total, 1), 0.0)
    return frac


def _greedy(
    svc: ServiceInstance,
    cluster: ClusterArrays,
    free: IntArray,
    replicas: int,
    score: Callable[[IntArray, IntArray, BoolArray], FloatArray],
) -> tuple[IntArray, int]:
    residual = free.copy()
    placed = np.zeros(cluster.size, dtype=np.int64)
    for _ in range(replicas):
        feasible = _filters(svc, residual, placed)
        if not feasible.any():
            break
        values = score(residual, placed, feasible)
        values = np.where(feasible, values, -np.inf)
        best = int(np.argmax(values))
        placed[best] += 1
        residual[best] -= svc.request
    return placed, replicas - int(placed.sum())


def default_scheduler(
    svc: ServiceInstance, cluster: ClusterArrays, free: IntArray, replicas: int
) -> tuple[IntArray, int]:
    """Least-allocated fit + balanced allocation + the default soft topology spread (hostname 3, zone 5)."""
    zone_count = max(len(cluster.zone_names), 1)

    def score(residual: IntArray, placed: IntArray, feasible: BoolArray) -> FloatArray:
        after = residual - svc.request
        frac = _utilisation(cluster.allocatable, after)
        least = (1.0 - frac).mean(axis=1) * MAX_NODE_SCORE
        balanced = (1.0 - np.abs(frac[:, 0] - frac[:, 1]) / 2.0) * MAX_NODE_SCORE
        # scoring.go: per constraint cnt * log(domains + 2) + (maxSkew - 1), then normalised so that the node
        # with the fewest matching Pods in its domains scores 100
        domains_host = int(feasible.sum())
        zone_pods = np.bincount(
            np.where(cluster.zone < 0, zone_count, cluster.zone), weights=placed, minlength=zone_count + 1
        )
        raw = placed * math.log(domains_host + 2) + (DEFAULT_HOSTNAME_SKEW - 1)
        raw = raw + zone_pods[np.where(cluster.zone < 0, zone_count, cluster.zone)] * math.log(zone_count + 2)
        raw = raw + (DEFAULT_ZONE_SKEW - 1)
        high, low = raw[feasible].max(), raw[feasible].min()
        spread_score = MAX_NODE_SCORE * (high + low - raw) / high if high > 0 else np.full(len(raw), MAX_NODE_SCORE)
        total: FloatArray = FIT_WEIGHT * least + BALANCED_WEIGHT * balanced + SPREAD_WEIGHT * spread_score
        return total

    return _greedy(svc, cluster, free, replicas, score)


def spread_max_skew_1(
    svc: ServiceInstance, cluster: ClusterArrays, free: IntArray, replicas: int, nodes: IntArray | None = None
) -> tuple[IntArray, int]:
    """``topologySpreadConstraints`` maxSkew 1 on ``kubernetes.io/hostname``, whenUnsatisfiable DoNotSchedule.

    The skew is counted over every node that passes node affinity (``nodeAffinityPolicy: Honor``), including nodes
    that are full: a full node with fewer Pods keeps the global minimum down and blocks further Pods, exactly as
    the scheduler's filter does. ``nodes`` restricts the domains (the node affinity a generated manifest adds).
    """
    domain = svc.eligible.copy() if nodes is None else (svc.eligible & (nodes > 0))
    residual = free.copy()
    placed = np.zeros(cluster.size, dtype=np.int64)
    if not domain.any():
        return placed, replicas
    for _ in range(replicas):
        floor = int(placed[domain].min())
        feasible = domain & (pods_that_fit(residual, svc.request) >= 1) & (placed + 1 - floor <= 1)
        if svc.anti_affinity:
            feasible &= placed == 0
        if not feasible.any():
            break
        best = int(np.flatnonzero(feasible)[0])
        placed[best] += 1
        residual[best] -= svc.request
    return placed, replicas - int(placed.sum())


def most_allocated(svc: ServiceInstance, cluster: ClusterArrays, free: IntArray, replicas: int) -> tuple[IntArray, int]:
    """NodeResourcesFit with the MostAllocated strategy: bin-packing onto the fullest node that still fits."""

    def score(residual: IntArray, placed: IntArray, feasible: BoolArray) -> FloatArray:
        frac = _utilisation(cluster.allocatable, residual - svc.request)
        packed: FloatArray = frac.mean(axis=1) * MAX_NODE_SCORE + placed * 1e-6
        return packed

    return _greedy(svc, cluster, free, replicas, score)


def daemon_set(svc: ServiceInstance, cluster: ClusterArrays, free: IntArray) -> tuple[IntArray, int]:
    """One Pod on every eligible node (a DaemonSet ignores the replica count); Pods that do not fit stay Pending."""
    target = svc.eligible & cluster.node_up
    fits = pods_that_fit(free, svc.request) >= 1
    placed = (target & fits).astype(np.int64)
    return placed, int((target & ~fits).sum())


def run_baselines(svc: ServiceInstance, cluster: ClusterArrays, free: IntArray) -> list[tuple[str, IntArray, int]]:
    """Every baseline as (name, Pods per node, unplaced Pods)."""
    n = svc.baseline_replicas
    out: list[tuple[str, IntArray, int]] = []
    if int(svc.current.sum()) > 0:
        out.append(("current", svc.current.copy(), 0))
    out.append(("defaultScheduler", *default_scheduler(svc, cluster, free, n)))
    out.append(("spreadMaxSkew1", *spread_max_skew_1(svc, cluster, free, n)))
    out.append(("mostAllocated", *most_allocated(svc, cluster, free, n)))
    ds, pending = daemon_set(svc, cluster, free)
    if int(ds.sum()) > 0:
        out.append(("daemonSet", ds, pending))
    return out


STRATEGIES = ("defaultScheduler", "spreadMaxSkew1", "mostAllocated", "daemonSet")


def run_shared_baselines(
    services: tuple[ServiceInstance, ...], cluster: ClusterArrays, free: IntArray
) -> dict[int, list[tuple[str, IntArray, int]]]:
    """Every baseline for every Service, the Services placed one after another in request order.

    Capacity is shared as it is in a real cluster: each strategy places a Service against what the same
    strategy's earlier Services left, so a tight cluster leaves later Services' Pods Pending (``unplaced``).
    """
    residual = {name: free.copy() for name in STRATEGIES}
    out: dict[int, list[tuple[str, IntArray, int]]] = {}
    for svc in services:
        rows: list[tuple[str, IntArray, int]] = []
        if int(svc.current.sum()) > 0:
            rows.append(("current", svc.current.copy(), 0))
        n = svc.baseline_replicas
        rows.append(("defaultScheduler", *default_scheduler(svc, cluster, residual["defaultScheduler"], n)))
        rows.append(("spreadMaxSkew1", *spread_max_skew_1(svc, cluster, residual["spreadMaxSkew1"], n)))
        rows.append(("mostAllocated", *most_allocated(svc, cluster, residual["mostAllocated"], n)))
        ds, pending = daemon_set(svc, cluster, residual["daemonSet"])
        if int(ds.sum()) > 0:
            rows.append(("daemonSet", ds, pending))
        for name, pods, _ in rows:
            if name in residual:
                residual[name] = residual[name] - pods[:, None] * svc.request[None, :]
        out[svc.index] = rows
    return out
