"""How an external load balancer spreads new connections over nodes (traffic-semantics.md sections 5 and 8).

All functions are vectorised over nodes: index ``n`` of every array is one node.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from planner.engine.metrics import BoolArray, FloatArray, IntArray

Policy = Literal["Cluster", "Local"]
NodeModel = Literal["nodeEqual", "podWeighted", "l2Leader"]


def lb_targets(policy: Policy, ready_local: IntArray, node_up: BoolArray, *, health_check: bool) -> BoolArray:
    """Nodes the load balancer sends new connections to.

    - ETP Local with health checks: nodes answering 200 on ``healthCheckNodePort``, i.e. with >= 1 local **Ready**
      endpoint (terminating endpoints are not counted: traffic-semantics.md 3.6).
    - ETP Local without health checks, and ETP Cluster: every node whose kube-proxy is up.
    """
    if policy == "Local" and health_check:
        return node_up & (ready_local > 0)
    return node_up.copy()


def node_weights(model: NodeModel, policy: Policy, targets: BoolArray, ready_local: IntArray) -> FloatArray:
    """Relative weight of each target node before any zone split.

    ``podWeighted`` (GKE weighted load balancing) uses the ``X-Load-Balancing-Endpoint-Weight`` header of the
    ``healthCheckNodePort`` probe, so it only exists under ETP Local; under Cluster nodes are weighted equally.
    """
    if model == "podWeighted" and policy == "Local":
        return np.where(targets, ready_local, 0).astype(np.float64)
    return targets.astype(np.float64)


def spread(
    weights: FloatArray, zone: IntArray, *, cross_zone: bool, multiplicity: FloatArray | None = None
) -> FloatArray:
    """Share of new connections per node.

    With cross-zone balancing each node gets ``weight / sum(weights)``. Without it the LB first splits traffic
    equally over the zones that have a weighted target, then by weight inside the zone. Nodes without a zone
    label (``zone == -1``) form one group of their own.

    With ``multiplicity`` each entry stands for that many identical nodes and the share returned is each one's.
    """
    mass = weights if multiplicity is None else weights * multiplicity
    total = mass.sum()
    if total <= 0:
        return np.zeros_like(weights)
    if cross_zone:
        even: FloatArray = weights / total
        return even
    zone_key = np.where(zone < 0, zone.max(initial=0) + 1, zone)
    zone_weight = np.bincount(zone_key, weights=mass)
    active_zones = int((zone_weight > 0).sum())
    per_zone = np.divide(1.0, zone_weight * active_zones, out=np.zeros_like(zone_weight), where=zone_weight > 0)
    shares: FloatArray = weights * per_zone[zone_key]
    return shares


def l2_leader(policy: Policy, ready_local: IntArray, node_up: BoolArray, leader: int | None = None) -> FloatArray:
    """MetalLB L2: the one announcing node takes every new connection.

    Under ETP Local the leader is elected only among nodes with ready endpoints; under Cluster among all nodes.
    MetalLB's hash-based choice cannot be predicted, so without an explicit ``leader`` the eligible node that gives
    the worst case is used: the one with the fewest ready local endpoints (ties: lowest index, i.e. node order).
    """
    eligible = node_up & (ready_local > 0) if policy == "Local" else node_up
    inflow = np.zeros(ready_local.shape, dtype=np.float64)
    if not eligible.any():
        return inflow
    if leader is None or not eligible[leader]:
        candidates = np.flatnonzero(eligible)
        leader = int(candidates[np.argmin(ready_local[candidates])])
    inflow[leader] = 1.0
    return inflow
