"""Rollouts and drains: the worst intermediate state of a placement, and whether its PodDisruptionBudget lets a
chosen node drain (the ``pdb-blocks-drain-with-spread`` case).

Rollout model. A RollingUpdate keeps at least N - U Pods available, U = maxUnavailable resolved against the
replica count (kubernetes/kubernetes pkg/controller/deployment/util/deployment_util.go ``ResolveFenceposts``:
maxSurge rounds up, maxUnavailable rounds down, and if both resolve to 0 maxUnavailable becomes 1; Deployment
defaults are 25% and 25%, StatefulSet and DaemonSet roll one Pod at a time unless ``rollingUpdate.maxUnavailable``
says otherwise). Surge Pods only add capacity, so they are not counted as serving (conservative). The controller
chooses which old Pods go, so the worst case is taken over every way to take U Pods down: the hottest Pod is on
some node n left with x' in [max(1, x_n - U), x_n] Pods, and the rest of the budget empties the smallest other
nodes (same zone first without cross-zone balancing), which takes them out of the load balancer. For
``nodeEqual`` with cross-zone balancing this enumeration is exact (partial removals elsewhere do not change node
n's share 1 / (K' x'_n)); every state is scored by the engine. The reported ratio is the hottest Pod's share
over the steady-state mean share 1/N, so that ratio x T / N is that Pod's connections per second.

Drain model. ``kubectl drain`` evicts through the PDB: an eviction is allowed while currentHealthy exceeds
desiredHealthy (kubernetes/kubernetes pkg/controller/disruption/disruption.go: disruptionsAllowed =
currentHealthy - desiredHealthy; maxUnavailable d means desiredHealthy = N - d). An evicted Pod's replacement
can only go to another chosen node (the emitted node affinity), within its Pods-per-node limit, free capacity and
the maxSkew 1 spread over the chosen nodes (the cordoned node excluded, ``nodeTaintsPolicy: Honor``). Pods that
find no room stay Pending and keep counting as unavailable, so the drain of node n completes only if the Pods
that cannot be rescheduled are at most d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
import numpy as np

from planner.engine.metrics import IntArray
from planner.optimizer.instance import ClusterArrays, Instance, ServiceInstance, pods_that_fit
from planner.optimizer.quality import score
from planner.optimizer.schema import PlacementQuality

MAX_LEVELS = 64
"""At most this many values of x' per node type are scored (evenly spaced, both ends included)."""


@dataclass(frozen=True)
class RolloutParams:
    strategy: str
    max_surge: int
    max_unavailable: int


def _scaled(value: int | str | None, replicas: int, default: int | str, *, round_up: bool) -> int:
    raw = default if value is None else value
    if isinstance(raw, int):
        return raw
    text = raw.strip()
    if text.endswith("%"):
        exact = float(text[:-1]) * replicas / 100
        return math.ceil(exact - 1e-9) if round_up else math.floor(exact + 1e-9)
    return int(text)


def rollout_params(svc: ServiceInstance, replicas: int) -> RolloutParams | None:
    """The workload's update strategy resolved against ``replicas``; None without a workload or OnDelete."""
    workload = svc.workload
    if workload is None:
        return None
    kind = str(workload.get("kind", "Deployment"))
    spec = workload.get("spec", {}) or {}
    if kind == "Deployment":
        strategy = spec.get("strategy") or {}
        kind_of = strategy.get("type") or "RollingUpdate"
        if kind_of == "Recreate":
            return RolloutParams("Recreate", 0, replicas)
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), replicas, "25%", round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable"), replicas, "25%", round_up=False)
    else:
        strategy = spec.get("updateStrategy") or {}
        kind_of = strategy.get("type") or "RollingUpdate"
        if kind_of == "OnDelete":
            return None
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), replicas, 0, round_up=True) if kind == "DaemonSet" else 0
        unavailable = _scaled(rolling.get("maxUnavailable"), replicas, 1, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return RolloutParams("RollingUpdate", surge, min(unavailable, replicas))


def worst_state(svc: ServiceInstance, cluster: ClusterArrays, pods: IntArray, down: int) -> tuple[float, IntArray]:
    """Worst hottest-Pod share x N over every way to take ``down`` Pods out of ``pods`` (see the module doc)."""
    total = int(pods.sum())
    if total == 0 or down <= 0:
        return (score(svc, cluster, pods).per_pod_share.max(initial=0.0) * total if total else 0.0), pods
    if down >= total:
        return math.inf, np.zeros_like(pods)
    used = [int(n) for n in np.flatnonzero(pods > 0)]
    by_type: dict[tuple[int, int], int] = {}
    for n in used:
        by_type.setdefault((int(cluster.zone[n]), int(pods[n])), n)
    worst, worst_pods = -1.0, pods
    for (zone, x), n in sorted(by_type.items()):
        levels = list(range(max(1, x - down), x + 1))
        if len(levels) > MAX_LEVELS:
            step = (len(levels) - 1) / (MAX_LEVELS - 1)
            levels = sorted({levels[round(i * step)] for i in range(MAX_LEVELS)})
        others = sorted(
            (m for m in used if m != n),
            key=lambda m: (svc.cross_zone or int(cluster.zone[m]) != zone, int(pods[m]), m),
        )
        for keep in levels:
            state = pods.copy()
            state[n] = keep
            budget = down - (x - keep)
            for m in others:
                if int(pods[m]) > budget:
                    continue
                budget -= int(pods[m])
                state[m] = 0
            share = float(score(svc, cluster, state).per_pod_share.max(initial=0.0)) * total
            if share > worst + 1e-12:
                worst, worst_pods = share, state
    return worst, worst_pods


def rollout_summary(
    svc: ServiceInstance, cluster: ClusterArrays, pods: IntArray, quality: PlacementQuality
) -> tuple[str | None, PlacementQuality]:
    """The rollout evaluation in words, and the quality with its rollout fields filled in."""
    total = int(pods.sum())
    params = rollout_params(svc, total)
    if params is None or total == 0:
        return None, quality
    if params.strategy == "Recreate":
        text = (
            "Recreate strategy: every Pod is down at once during an update, so all traffic is dropped until "
            "the new Pods are ready."
        )
        return text, _with_rollout(quality, None, params)
    ratio, state = worst_state(svc, cluster, pods, params.max_unavailable)
    shown = None if math.isinf(ratio) else round(ratio, 9)
    where = ", ".join(f"{cluster.node_names[int(n)]}={int(state[n])}" for n in np.flatnonzero(state != pods))
    text = (
        f"RollingUpdate with maxSurge {params.max_surge} and maxUnavailable {params.max_unavailable} "
        f"(of {total} replicas): worst state {where or 'unchanged'} gives the hottest Pod "
        + ("everything (no Pod left)" if shown is None else f"{shown:.4f} x the steady mean share")
        + (f", {shown * svc.traffic / total:.6g} conn/s" if shown is not None and svc.traffic else "")
        + "; surge Pods are not counted as serving."
    )
    return text, _with_rollout(quality, shown, params)


def _with_rollout(quality: PlacementQuality, ratio: float | None, params: RolloutParams) -> PlacementQuality:
    return msgspec.structs.replace(
        quality,
        rollout_worst_ratio=ratio,
        rollout_max_unavailable=params.max_unavailable,
        rollout_max_surge=params.max_surge,
    )


def _reschedule(svc: ServiceInstance, free: IntArray, pods: IntArray, drained: int) -> int:
    """How many of the drained node's Pods find room on the other chosen nodes (the rest stay Pending)."""
    chosen = np.flatnonzero(pods > 0)
    domain = [int(m) for m in chosen if int(m) != drained]
    if not domain:
        return 0
    counts = pods.copy()
    room = np.minimum(pods_that_fit(free, svc.request), svc.max_per_node)
    placed = 0
    for _ in range(int(pods[drained])):
        low = min(int(counts[m]) for m in domain)
        target = next((m for m in domain if counts[m] < room[m] and counts[m] + 1 - low <= 1), None)
        if target is None:
            break
        counts[target] += 1
        placed += 1
    return placed


@dataclass(frozen=True)
class DisruptionPlan:
    max_unavailable: int
    """The emitted PodDisruptionBudget's maxUnavailable."""
    text: str
    blocked: bool
    """Whether a chosen node cannot be drained with the PDB the balance bound asks for."""


def disruption_plan(
    svc: ServiceInstance, inst: Instance, pods: IntArray, free: IntArray | None = None
) -> DisruptionPlan | None:
    """Choose the PDB for the plan and check that every chosen node can still be drained with it.

    ``free`` is the capacity this Service may use (the cluster's free capacity minus the other Services' Pods).
    """
    free = inst.free if free is None else free
    total = int(pods.sum())
    if total == 0 or svc.workload is None or str(svc.workload.get("kind")) == "DaemonSet":
        return None
    bound = svc.rollout_max_ratio or svc.node_loss_max_ratio
    needed = 1
    if bound is not None:
        needed = 0
        for d in range(1, min(total - 1, MAX_LEVELS) + 1):
            ratio, _ = worst_state(svc, inst.cluster, pods, d)
            if ratio > bound * (1 + 1e-9):
                break
            needed = d
    stuck = {int(n): int(pods[n]) - _reschedule(svc, free, pods, int(n)) for n in np.flatnonzero(pods > 0)}
    worst_node = max(stuck, key=lambda n: (stuck[n], -n))
    worst_stuck = stuck[worst_node]
    name = inst.cluster.node_names[worst_node]
    parts: list[str] = []
    if needed == 0:
        parts.append(
            f"Keeping the hottest-Pod ratio within {bound:g} allows no disruption at all (one Pod down in the worst "
            "place exceeds it): that PodDisruptionBudget would be maxUnavailable 0, which blocks every node drain "
            "(pdb-blocks-drain-with-spread). The emitted PDB allows 1 instead; add replicas or relax the bound to "
            "keep balance during drains."
        )
    emitted = max(needed, 1)
    blocked = needed == 0
    if worst_stuck > emitted:
        if worst_stuck < total:
            parts.append(
                f"Draining {name} leaves {worst_stuck} of its Pods Pending (the other chosen nodes have no room under "
                f"the node affinity, Pods-per-node limit, free capacity and maxSkew 1), and a PDB allowing "
                f"{emitted} would stop the drain there (pdb-blocks-drain-with-spread). The emitted PDB allows "
                f"{worst_stuck} so drains complete; to keep {emitted}, widen the node affinity or add room."
            )
            emitted = worst_stuck
        else:
            parts.append(
                f"Draining {name} leaves all {total} Pods without a node; no PDB lets it drain without an outage."
            )
        blocked = True
    if not parts:
        parts.append(
            f"Every chosen node can be drained with the emitted PodDisruptionBudget (maxUnavailable {emitted}): "
            f"its evicted Pods fit on the other chosen nodes (at most {worst_stuck} stay Pending, on {name})."
        )
    return DisruptionPlan(max_unavailable=emitted, text=" ".join(parts), blocked=blocked)
