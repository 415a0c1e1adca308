"""External traffic: how the load balancer spreads new connections over nodes (or Pods, for ``ipTargets``)."""

from __future__ import annotations

import numpy as np

from planner.domain.traffic import PROVIDER_DETECTION_SECONDS, LoadBalancer
from planner.engine.inputs import EngineInput, TrafficPolicy
from planner.engine.lb import l2_leader, lb_targets, node_weights, spread
from planner.engine.metrics import BoolArray, FloatArray, IntArray


def detection_seconds(lb: LoadBalancer, policy: TrafficPolicy) -> float:
    """Time the LB takes to stop sending to a node that failed its health check."""
    if lb.detection_seconds is not None:
        return float(lb.detection_seconds)
    return float(PROVIDER_DETECTION_SECONDS[lb.provider][policy])


def leader_index(inp: EngineInput, lb: LoadBalancer) -> int | None:
    if lb.leader_node is None:
        return None
    try:
        return inp.node_names.index(lb.leader_node)
    except ValueError:
        return None


def entry_shares(
    lb: LoadBalancer,
    policy: TrafficPolicy,
    ready: IntArray,
    node_up: BoolArray,
    zone: IntArray,
    *,
    leader: int | None = None,
    multiplicity: FloatArray | None = None,
) -> FloatArray:
    """Share of new external connections entering each node (sums to 1, or 0 when there is no target).

    For ``ipTargets`` it is the share landing on each node's Pods (the LB targets Pod IPs). With ``multiplicity``
    each entry stands for that many identical nodes (the leader of ``l2Leader`` must be one of its own) and the
    share is each one's.
    """
    if lb.model == "ipTargets":
        weights = (ready * node_up).astype(np.float64)
        return spread(weights, zone, cross_zone=lb.cross_zone, multiplicity=multiplicity)
    if lb.model == "l2Leader":
        return l2_leader(policy, ready, node_up, leader)
    targets = lb_targets(policy, ready, node_up, health_check=lb.health_check)
    weights = node_weights(lb.model, policy, targets, ready)
    return spread(weights, zone, cross_zone=lb.cross_zone, multiplicity=multiplicity)


__all__ = ["detection_seconds", "entry_shares", "leader_index"]
