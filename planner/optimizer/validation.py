"""Solver-agnostic check of a placement against every hard rule (the specification the model must meet)."""

from __future__ import annotations

import math

import numpy as np

from planner.engine.metrics import IntArray
from planner.optimizer.instance import ClusterArrays, ServiceInstance
from planner.optimizer.quality import measure, score
from planner.optimizer.rollout import rollout_params, worst_state
from planner.optimizer.schema import PlacementQuality

TOLERANCE = 1e-9


def violations(  # noqa: PLR0917
    svc: ServiceInstance,
    cluster: ClusterArrays,
    free: IntArray,
    pods: IntArray,
    unplaced: int = 0,
    quality: PlacementQuality | None = None,
) -> list[str]:
    """Every hard rule the placement breaks, in words; empty when it is a valid plan. ``quality``: the placement's
    ``measure``, when the caller has it already."""
    out: list[str] = []
    total = int(pods.sum())
    if unplaced:
        out.append(f"{unplaced} Pods could not be placed")
    if not svc.replicas_min <= total <= svc.replicas_max:
        out.append(f"{total} replicas outside {svc.replicas_min}..{svc.replicas_max}")
    bad = np.flatnonzero((pods > 0) & ~svc.eligible)
    if len(bad):
        out.append(f"Pods on ineligible node {cluster.node_names[int(bad[0])]}")
    over = np.flatnonzero(((pods[:, None] * svc.request[None, :]) > free).any(axis=1))
    if len(over):
        out.append(f"node {cluster.node_names[int(over[0])]} lacks free capacity for its Pods")
    if int(pods.max(initial=0)) > svc.max_per_node:
        out.append(f"more than {svc.max_per_node} Pods on one node")
    used = pods > 0
    if int(used.sum()) < svc.min_nodes:
        out.append(f"uses {int(used.sum())} nodes, fewer than {svc.min_nodes}")
    zones = len({int(z) for z in cluster.zone[used]})
    if zones < svc.min_zones:
        out.append(f"uses {zones} zones, fewer than {svc.min_zones}")
    if total == 0:
        return out
    if svc.pod_capacity is not None and svc.balance_model != "leader":
        hottest = float(score(svc, cluster, pods).per_pod_share.max()) * svc.traffic
        if hottest > svc.pod_capacity * (1 + TOLERANCE):
            out.append(f"hottest Pod gets {hottest:.6g} conn/s, above the per-Pod capacity {svc.pod_capacity:g}")
    if svc.rollout_max_ratio is not None:
        params = rollout_params(svc, total)
        if params is not None:
            down = params.max_unavailable
            worst = math.inf if params.strategy == "Recreate" else worst_state(svc, cluster, pods, down)[0]
            if worst > svc.rollout_max_ratio * (1 + TOLERANCE):
                out.append(f"during a RollingUpdate the hottest-Pod ratio exceeds the bound {svc.rollout_max_ratio}")
    if svc.node_loss_max_ratio is not None or svc.zone_loss_max_ratio is not None:
        q = measure(svc, cluster, pods) if quality is None else quality
        if svc.node_loss_max_ratio is not None and (
            (q.node_loss_dropped_fraction or 0) > TOLERANCE
            or (q.node_loss_worst_ratio or 0) > svc.node_loss_max_ratio * (1 + TOLERANCE)
        ):
            out.append(
                f"after losing one node the hottest-Pod ratio or drops exceed the bound {svc.node_loss_max_ratio}"
            )
        if svc.zone_loss_max_ratio is not None and (
            (q.zone_loss_dropped_fraction or 0) > TOLERANCE
            or (q.zone_loss_worst_ratio or 0) > svc.zone_loss_max_ratio * (1 + TOLERANCE)
        ):
            out.append(
                f"after losing one zone the hottest-Pod ratio or drops exceed the bound {svc.zone_loss_max_ratio}"
            )
    return out
