"""In-cluster traffic to the ClusterIP: where the callers run."""

from __future__ import annotations

import numpy as np

from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import not_found
from planner.domain.traffic import Callers
from planner.engine.metrics import BoolArray, FloatArray, IntArray

CALLERS_PATH = "spec.traffic.internal.callers"


def caller_shares(
    callers: Callers,
    node_names: tuple[str, ...],
    zone: IntArray,
    zone_names: tuple[str, ...],
    node_up: BoolArray,
) -> FloatArray:
    """Share of in-cluster connections opened on each node (sums to 1, or 0 when no caller node is up).

    ``podsPerNode`` and ``nodeShares`` weight nodes directly; ``zoneShares`` splits a zone's share evenly over
    its up nodes; nothing given means evenly from every up node. Callers on down nodes are gone.

    Raises:
        InvalidDocument: a node or zone name that is not in the cluster (with its field path).
    """
    nodes = len(node_names)
    weights = np.zeros(nodes, dtype=np.float64)
    errors: list[FieldError] = []
    per_node = callers.pods_per_node if callers.pods_per_node is not None else callers.node_shares
    if per_node is not None:
        field = "podsPerNode" if callers.pods_per_node is not None else "nodeShares"
        index = {name: i for i, name in enumerate(node_names)}
        for name, value in per_node.items():
            i = index.get(name)
            if i is None:
                errors.append(not_found(f"{CALLERS_PATH}.{field}.{name}", name, f"node {name!r} is not in the cluster"))
                continue
            weights[i] += value
    elif callers.zone_shares is not None:
        zone_index = {name: z for z, name in enumerate(zone_names)}
        up_per_zone = np.bincount(zone[(zone >= 0) & node_up], minlength=len(zone_names))
        for name, value in callers.zone_shares.items():
            z = zone_index.get(name)
            if z is None:
                errors.append(
                    not_found(f"{CALLERS_PATH}.zoneShares.{name}", name, f"zone {name!r} has no node in the cluster")
                )
                continue
            if up_per_zone[z] > 0:
                weights += np.where((zone == z) & node_up, value / up_per_zone[z], 0.0)
    else:
        weights = node_up.astype(np.float64)
    if errors:
        raise InvalidDocument(errors, "callers reference unknown nodes or zones")
    weights = np.where(node_up, weights, 0.0)
    total = weights.sum()
    if total <= 0:
        return np.zeros(nodes, dtype=np.float64)
    shares: FloatArray = weights / total
    return shares


__all__ = ["CALLERS_PATH", "caller_shares"]
