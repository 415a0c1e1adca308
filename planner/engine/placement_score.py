"""Score one Service's Pods-per-node placement under its load-balancer model (lb.py + metrics.py, nothing else).

This is the independent check of every placement the optimizer proposes: the solver's objective is derived
algebraically, this scorer recomputes the per-Pod shares from the load-balancer functions and the one metric
definition, so the two must agree.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np

from planner.engine.lb import Policy, l2_leader, lb_targets, node_weights, spread
from planner.engine.metrics import BoolArray, FloatArray, IntArray, coefficient_of_variation, hottest_pod_ratio

ScoreModel = Literal["nodeEqual", "podWeighted", "ipTargets", "l2Leader"]


class PlacementScore(msgspec.Struct, frozen=True, kw_only=True):
    hottest_ratio: float
    cv: float
    dropped_fraction: float
    per_pod_share: FloatArray
    """Expected share of all new connections of each Pod on node n (0 where the node has no Pods)."""
    node_inflow: FloatArray
    """Share of new connections the load balancer sends to each node (for ipTargets: to the node's Pods)."""


def _per_pod_from_inflow(inflow: FloatArray, pods: IntArray, node_up: BoolArray, policy: Policy) -> FloatArray:
    serving = np.where(node_up, pods, 0)
    if policy == "Cluster":
        # each receiving node spreads uniformly over every ready endpoint in the cluster (section 8)
        total = int(serving.sum())
        served = float(inflow[node_up].sum()) if total > 0 else 0.0
        return np.where(serving > 0, served / max(total, 1), 0.0)
    return np.divide(inflow, serving, out=np.zeros_like(inflow), where=serving > 0)


def score_local_placement(
    pods_per_node: IntArray,
    node_zone: IntArray,
    node_up: BoolArray,
    *,
    model: ScoreModel,
    cross_zone: bool,
    health_check: bool,
    policy: Policy,
    leader: int | None = None,
) -> PlacementScore:
    """Per-Pod shares, hottest-Pod ratio, CV and dropped fraction of external traffic for one placement.

    ``pods_per_node`` counts ready Pods; Pods on nodes that are down do not serve. ``node_zone`` is a zone index
    per node (-1 for no zone label).
    """
    pods = np.where(node_up, pods_per_node, 0).astype(np.int64)
    if model == "ipTargets":
        # the LB targets Pod IPs: kube-proxy and the traffic policy are bypassed (section 5, AWS)
        weights = pods.astype(np.float64)
        inflow = spread(weights, node_zone, cross_zone=cross_zone)
        per_pod = np.divide(inflow, pods, out=np.zeros_like(inflow), where=pods > 0)
    elif model == "l2Leader":
        inflow = l2_leader(policy, pods, node_up, leader)
        per_pod = _per_pod_from_inflow(inflow, pods, node_up, policy)
    else:
        targets = lb_targets(policy, pods, node_up, health_check=health_check)
        weights = node_weights(model, policy, targets, pods)
        inflow = spread(weights, node_zone, cross_zone=cross_zone)
        per_pod = _per_pod_from_inflow(inflow, pods, node_up, policy)
    served = float((per_pod * pods).sum())
    dropped = min(1.0, max(0.0, 1.0 - served))
    return PlacementScore(
        hottest_ratio=hottest_pod_ratio(per_pod, pods),
        cv=coefficient_of_variation(per_pod, pods),
        dropped_fraction=dropped,
        per_pod_share=per_pod,
        node_inflow=inflow,
    )
