"""Engine-measured quality of a placement: steady state, after losing one node, after losing one zone."""

from __future__ import annotations

import numpy as np

from planner.engine.metrics import BoolArray, IntArray
from planner.engine.placement_score import PlacementScore, score_local_placement
from planner.optimizer.instance import ClusterArrays, ServiceInstance
from planner.optimizer.schema import PlacementQuality


def score(
    svc: ServiceInstance, cluster: ClusterArrays, pods: IntArray, node_up: BoolArray | None = None
) -> PlacementScore:
    up = cluster.node_up if node_up is None else node_up
    return score_local_placement(
        pods,
        cluster.zone,
        up,
        model=svc.score_model,
        cross_zone=svc.cross_zone,
        health_check=svc.health_check,
        policy=svc.policy,
    )


def _r(value: float) -> float:
    return round(value, 9)


def measure(svc: ServiceInstance, cluster: ClusterArrays, pods: IntArray) -> PlacementQuality:
    """Hottest-Pod ratio, CV and dropped fraction now; worst case after one node or one zone is lost.

    "After" means once the load balancer has detected the failure: the node is down and its Pods are gone.
    Until then the failed node's share is dropped, reported as ``nodeLossDetectionDroppedFraction``.
    """
    base = score(svc, cluster, pods)
    used = np.flatnonzero(pods > 0)
    node_ratio = node_drop = detect_drop = None
    if len(used) > 0:
        node_ratio, node_drop, detect_drop = 0.0, 0.0, 0.0
        if svc.score_model != "l2Leader":
            # Losing either of two nodes with the same zone and Pods leaves the same placement up to the nodes'
            # order, which only l2Leader's tie-break (lowest index) looks at: score one node per such pair.
            seen: dict[tuple[int, int], int] = {}
            for node in used.tolist():
                seen.setdefault((int(cluster.zone[node]), int(pods[node])), node)
            used = np.array(sorted(seen.values()), dtype=np.int64)
        for n in used:
            up = cluster.node_up.copy()
            up[n] = False
            after = score(svc, cluster, pods, up)
            node_ratio = max(node_ratio, after.hottest_ratio)
            node_drop = max(node_drop, after.dropped_fraction)
            detect_drop = max(detect_drop, float(base.node_inflow[n]))
    zone_ratio = zone_drop = None
    zones = sorted({int(z) for z in cluster.zone[pods > 0]})
    if len(zones) > 0:
        zone_ratio, zone_drop = 0.0, 0.0
        for z in zones:
            up = cluster.node_up & (cluster.zone != z)
            after = score(svc, cluster, pods, up)
            zone_ratio = max(zone_ratio, after.hottest_ratio)
            zone_drop = max(zone_drop, after.dropped_fraction)
    return PlacementQuality(
        hottest_pod_ratio=_r(base.hottest_ratio),
        coefficient_of_variation=_r(base.cv),
        dropped_fraction=_r(base.dropped_fraction),
        node_loss_worst_ratio=None if node_ratio is None else _r(node_ratio),
        node_loss_dropped_fraction=None if node_drop is None else _r(node_drop),
        node_loss_detection_dropped_fraction=None if detect_drop is None else _r(detect_drop),
        zone_loss_worst_ratio=None if zone_ratio is None else _r(zone_ratio),
        zone_loss_dropped_fraction=None if zone_drop is None else _r(zone_drop),
    )
