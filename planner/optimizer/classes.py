"""Equivalence classes of interchangeable nodes for one Service.

Two nodes are interchangeable for a Service when they are in the same zone, fit the same number of its Pods
(free capacity divided by the Pod request, capped by the per-node limit), have the same eligibility and run the
same number of its Pods now. The model decides how many nodes of each class get Pods and how many Pods the class
gets in total; any split of those Pods over the chosen nodes within their bounds has the same objective value
(see ``model.py``), so 5,000 similar nodes collapse to a handful of integer variables.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.engine.metrics import BoolArray, IntArray
from planner.optimizer.instance import ServiceInstance, pods_that_fit


@dataclass(frozen=True)
class NodeClass:
    zone: int
    fit: int
    """Pods that fit on one node by free cpu, memory and Pod slots (capped at the replica maximum)."""
    limit: int
    """Pods allowed per node by the HA rule (maxPodsPerNode)."""
    current: int
    eligible: bool
    nodes: tuple[int, ...]

    @property
    def cap(self) -> int:
        return min(self.fit, self.limit)

    @property
    def size(self) -> int:
        return len(self.nodes)


def build_classes(
    svc: ServiceInstance, free: IntArray, node_up: BoolArray, *, explain: bool = False, zone: IntArray
) -> list[NodeClass]:
    """Group the nodes this Service can use. With ``explain`` also ineligible and full nodes (for conflicts)."""
    fits = pods_that_fit(free, svc.request)
    groups: dict[tuple[int, int, int, bool], list[int]] = {}
    upper = svc.replicas_max
    for n in range(len(fits)):
        fit = int(min(fits[n], upper))
        eligible = bool(svc.eligible[n])
        if not explain and (not eligible or fit < 1):
            continue
        if explain and not node_up[n]:
            continue
        key = (int(zone[n]), fit, int(svc.current[n]), eligible)
        groups.setdefault(key, []).append(n)
    return [
        NodeClass(zone=z, fit=fit, limit=svc.max_per_node, current=cur, eligible=elig, nodes=tuple(nodes))
        for (z, fit, cur, elig), nodes in sorted(groups.items())
    ]
