"""Topology Aware Routing (``service.kubernetes.io/topology-mode: Auto``): which endpoints each zone's clients use.

A model of the EndpointSlice controller's ProportionalZoneCPU heuristic and of kube-proxy's use of the zone hints it
writes (traffic-semantics.md 4.3 and 4.4). Upstream sources, kubernetes/kubernetes:

- ``staging/src/k8s.io/endpointslice/topologycache/topologycache.go``: ``SetNodes`` (which nodes count, CPU per
  zone), ``getAllocations`` (safeguards, per-zone minimum and desired counts), ``AddHints`` (same-zone hints first,
  endpoint without a zone), ``hasExcludedLabels`` (control-plane nodes), ``overloadThreshold = 0.2``;
- ``staging/src/k8s.io/endpointslice/topologycache/utils.go``: ``getGivingAndReceivingZones``, ``getMost``,
  ``redistributeHints``;
- ``pkg/proxy/topology.go``: ``topologyModeFromHints`` (a node uses the hints only if at least one endpoint is hinted
  for its zone, otherwise every endpoint).

The model evaluates a fresh reconciliation (every EndpointSlice is rewritten), so hints kept on unchanged slices
from an earlier node distribution are not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np

from planner.engine.metrics import BoolArray, FloatArray, IntArray

OVERLOAD_THRESHOLD = 0.2
"""``overloadThreshold``: the maximum overload any individual endpoint should be exposed to (topologycache.go)."""

# Go folds the constant expression ``1 / (1 + overloadThreshold)`` to the float64 nearest 5/6; so does Python.
_MIN_FACTOR = 1 / (1 + OVERLOAD_THRESHOLD)

Safeguard = Literal[
    "missingZoneLabel",
    "missingAllocatableCPU",
    "singleZone",
    "fewerEndpointsThanZones",
    "endpointWithoutZone",
    "overloadThreshold",
]


class AutoHints(msgspec.Struct, frozen=True, kw_only=True, eq=False):
    """Outcome of the ``topology-mode: Auto`` heuristic for one Service port's ready endpoints.

    An engine value, not a wire type: ``zone_weights`` is a numpy array (hence ``eq=False``).

    Attributes:
        engaged: Whether the controller writes zone hints (kube-proxy then filters by zone).
        reason: The safeguard that removed the hints, or None when engaged.
        message: One line for people, with the numbers behind the decision.
        allocation: Per zone, the CPU-proportional expected endpoint count (``ratio * endpoints``, upstream's
            ``desired`` before it is raised to the minimum). None when no CPU ratios exist (node safeguards).
        minimum: Per zone, ``ceil(desired / (1 + overloadThreshold))``. None when no CPU ratios exist.
        hinted: Per zone, endpoints hinted for it after donation. None when disengaged.
        zone_weights: ``(zone_count, nodes)``: for a client in zone ``z``, the probability that a new connection
            lands on an endpoint of node ``m``. Rows of zones with hinted endpoints sum to 1; a zone with no
            endpoint hinted for it has an all-zero row, and kube-proxy there ignores the hints (every endpoint),
            which is how ``planner.engine.routing.cluster_routing`` reads it. None when disengaged (routing is
            then cluster-wide).
    """

    engaged: bool
    reason: Safeguard | None
    message: str
    allocation: tuple[float, ...] | None = None
    minimum: tuple[int, ...] | None = None
    hinted: tuple[int, ...] | None = None
    zone_weights: FloatArray | None = None


def _names(zone_count: int, zone_names: Sequence[str] | None) -> list[str]:
    if zone_names is not None:
        return list(zone_names)
    return [f"zone {z}" for z in range(zone_count)]


def _get_most(values: list[float]) -> int:
    """``getMost``: the zone with the largest strictly positive value, -1 if none.

    Go iterates the map in random order and keeps the first strict maximum, so ties are broken at random upstream;
    here the lowest zone index wins, which keeps the result deterministic.
    """
    best = max(range(len(values)), key=values.__getitem__, default=-1)
    return best if best >= 0 and values[best] > 0.0 else -1


def _giving_and_receiving(desired: FloatArray, present: BoolArray, hinted: IntArray) -> tuple[IntArray, IntArray]:
    """``getGivingAndReceivingZones``: whole endpoints each zone gives away or receives (a handful of zones, so
    plain Python numbers)."""
    diff = (hinted.astype(np.float64) - desired).tolist()
    here = present.tolist()
    giving_desired = [d if p and d > 0 else 0.0 for d, p in zip(diff, here, strict=True)]
    receiving_desired = [-d if p and d < 0 else 0.0 for d, p in zip(diff, here, strict=True)]
    give = [0] * len(diff)
    receive = [0] * len(diff)
    while True:
        giver = _get_most(giving_desired)
        receiver = _get_most(receiving_desired)
        if giver < 0 or receiver < 0:
            break
        to_give = giving_desired[giver]
        to_receive = receiving_desired[receiver]
        if (to_give < 1.0 and to_receive < 1.0) or to_give < 0.5 or to_receive < 0.5:
            break
        give[giver] += 1
        giving_desired[giver] -= 1.0
        receive[receiver] += 1
        receiving_desired[receiver] -= 1.0
    return np.array(give, dtype=np.int64), np.array(receive, dtype=np.int64)


def _disabled(
    reason: Safeguard,
    message: str,
    allocation: tuple[float, ...] | None = None,
    minimum: tuple[int, ...] | None = None,
) -> AutoHints:
    return AutoHints(
        engaged=False, reason=reason, message=f"hints removed: {message}", allocation=allocation, minimum=minimum
    )


def auto_hints(  # noqa: PLR0917 (one array per node attribute, in the documented order)
    node_zone: IntArray,
    node_cpu_milli: IntArray,
    node_ready: BoolArray,
    node_control_plane: BoolArray,
    ready_endpoints_per_node: IntArray,
    zone_count: int,
    *,
    zone_names: Sequence[str] | None = None,
    node_count: IntArray | None = None,
) -> AutoHints:
    """Run the ProportionalZoneCPU heuristic and turn its hints into per-zone routing weights.

    Args:
        node_zone: Zone index of each node, ``-1`` when the node has no ``topology.kubernetes.io/zone`` label.
        node_cpu_milli: Allocatable CPU of each node in millicores (0 when missing: upstream's ``IsZero``).
        node_ready: Node condition ``Ready`` is ``True``.
        node_control_plane: The node carries ``node-role.kubernetes.io/control-plane`` or
            ``node-role.kubernetes.io/master`` (``hasExcludedLabels``).
        ready_endpoints_per_node: Ready endpoints of the Service port on each node. An endpoint's zone is its
            node's zone.
        zone_count: Number of zone indices (rows of ``zone_weights``).
        zone_names: Optional names used in ``message``.
        node_count: How many identical nodes each entry stands for (None: one each); entries standing for more
            than one node must hold no endpoint, and ``node_cpu_milli`` is then their total CPU.

    Returns:
        The decision, the allocation numbers and, when engaged, the per-zone routing weights.

    Semantics, in upstream order (``SetNodes``, then ``getAllocations``, then ``AddHints``):

    1. Only Ready nodes without an excluded label count. If any of them lacks a zone label or allocatable CPU,
       the cluster-wide ratios are dropped (``InsufficientNodeInfo``) -> ``missingZoneLabel`` /
       ``missingAllocatableCPU``.
    2. Counted nodes in fewer than 2 zones -> ``singleZone``. (``SetNodes`` already nils the ratios then, so the
       controller's event text is the "Insufficient Node information" one.)
    3. Fewer ready endpoints than zones (``len(cpuRatiosByZone) > numEndpoints``) -> ``fewerEndpointsThanZones``.
    4. Per zone ``desired = ratio * N`` and ``minimum = ceil(desired * (1 / 1.2))``; the loop subtracts each minimum
       from N and gives up when the remainder is ``< 0``, i.e. hints are removed when ``sum(minimum) > N`` and kept
       when it is exactly N -> ``overloadThreshold``.
    5. A ready endpoint without a zone -> ``endpointWithoutZone`` (checked in ``AddHints`` after the allocations).
    6. Every endpoint is hinted for its own zone; ``getGivingAndReceivingZones`` turns the gaps to ``desired``
       (``max(desired, minimum)``) into whole endpoints and ``redistributeHints`` re-hints that many endpoints of
       each giving zone for a receiving zone.

    Which endpoints are donated depends on their order in the EndpointSlices, and which receiving zone each one
    goes to on Go's randomised map iteration, so neither is predictable. The model takes the expected value: a
    giving zone's donations are spread evenly over its endpoints, and its donations are split over the receiving
    zones in proportion to what each receives (exact when there is one giver or one receiver). The per-zone hinted
    counts are exact.
    """
    names = _names(zone_count, zone_names)
    endpoints = ready_endpoints_per_node.astype(np.int64)
    total_endpoints = int(endpoints.sum())

    counted = node_ready & ~node_control_plane
    count = node_count if node_count is not None else np.ones(node_zone.shape[0], dtype=np.int64)
    no_zone = counted & (node_zone < 0)
    if no_zone.any():
        return _disabled(
            "missingZoneLabel",
            f"{int(count[no_zone].sum())} Ready worker node(s) lack the topology.kubernetes.io/zone label "
            "(insufficient node information)",
        )
    no_cpu = counted & (node_cpu_milli <= 0)
    if no_cpu.any():
        return _disabled(
            "missingAllocatableCPU",
            f"{int(count[no_cpu].sum())} Ready worker node(s) report no allocatable CPU "
            "(insufficient node information)",
        )

    cpu_by_zone = np.bincount(
        node_zone[counted], weights=node_cpu_milli[counted].astype(np.float64), minlength=zone_count
    )
    present = cpu_by_zone > 0
    zones = int(present.sum())
    if zones < 2:
        return _disabled("singleZone", f"Ready worker nodes are in {zones} zone(s), hints need at least 2")

    ratio = cpu_by_zone / cpu_by_zone.sum()
    if zones > total_endpoints:
        return _disabled(
            "fewerEndpointsThanZones",
            f"{total_endpoints} endpoints for {zones} zones (fewer endpoints than zones)",
        )

    desired_raw = ratio * float(total_endpoints)
    present_list = present.tolist()
    allocation = tuple(desired_raw.tolist())
    minimums = tuple(math.ceil(d * _MIN_FACTOR) if p else 0 for d, p in zip(allocation, present_list, strict=True))
    minimum = np.array(minimums, dtype=np.int64)
    if sum(minimums) > total_endpoints:
        return _disabled(
            "overloadThreshold",
            f"{total_endpoints} endpoints for {zones} zones: the per-zone minimums "
            f"({'/'.join(str(m) for m, p in zip(minimums, present_list, strict=True) if p)}) add up to "
            f"{sum(minimums)} > {total_endpoints}, so some endpoint would be overloaded by more than "
            f"{OVERLOAD_THRESHOLD:.0%}",
            allocation=allocation,
            minimum=minimums,
        )

    hosting = endpoints > 0
    unzoned = hosting & (node_zone < 0)
    if unzoned.any():
        return _disabled(
            "endpointWithoutZone",
            f"{int(endpoints[unzoned].sum())} ready endpoint(s) run on nodes without a zone label",
            allocation=allocation,
            minimum=minimums,
        )

    same = np.bincount(node_zone[hosting], weights=endpoints[hosting], minlength=zone_count).astype(np.int64)
    desired = np.maximum(desired_raw, minimum.astype(np.float64))
    give, receive = _giving_and_receiving(desired, present, same)
    hinted = same - give + receive

    flow = np.zeros((zone_count, zone_count))
    if give.sum() > 0:
        flow = np.outer(give, receive) / float(receive.sum())

    counts = np.zeros((zone_count, endpoints.shape[0]))
    idx = np.flatnonzero(hosting)
    home = node_zone[idx]
    k = endpoints[idx].astype(np.float64)
    home_total = same[home].astype(np.float64)
    counts[:, idx] = (flow[home, :] / home_total[:, None]).T * k
    counts[home, idx] += k * (1.0 - give[home] / home_total)
    weights = np.zeros_like(counts)
    has_hints = hinted > 0
    weights[has_hints] = counts[has_hints] / hinted[has_hints, None]

    moved = int(give.sum())
    hinted_list = hinted.tolist()
    per_zone = "/".join(str(h) for h, p in zip(hinted_list, present_list, strict=True) if p)
    listed = ", ".join(names[z] for z in range(zone_count) if present_list[z])
    message = f"hints engaged: {per_zone} endpoints hinted for {listed}"
    message += f"; {moved} endpoint(s) donated across zones" if moved else "; every endpoint serves its own zone"
    return AutoHints(
        engaged=True,
        reason=None,
        message=message,
        allocation=allocation,
        minimum=minimums,
        hinted=tuple(hinted_list),
        zone_weights=weights,
    )
