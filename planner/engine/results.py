"""Evaluation results: stable camelCase field names, units in the names, shares as fractions 0..1.

Encode with ``msgspec.json.encode``. Rates are new connections per second unless the name says requests.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from planner.engine.affinity import AffinitySkew

Severity = Literal["error", "warning", "info"]
TopologySource = Literal["none", "PreferClose", "PreferSameZone", "PreferSameNode", "Auto"]


class Result(msgspec.Struct, kw_only=True, rename="camel"):
    """Base of every result part (all fields always present, ``null`` when not applicable)."""


class PolicyKey(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One combination of the Service's traffic fields."""

    external_traffic_policy: Literal["Cluster", "Local"] | None
    internal_traffic_policy: Literal["Cluster", "Local"] | None
    session_affinity: Literal["None", "ClientIP"]
    topology: TopologySource
    """Where hints come from: ``trafficDistribution`` value, the ``topology-mode: Auto`` annotation, or none."""

    @property
    def label(self) -> str:
        parts = []
        if self.external_traffic_policy is not None:
            parts.append(f"externalTrafficPolicy={self.external_traffic_policy}")
        if self.internal_traffic_policy is not None:
            parts.append(f"internalTrafficPolicy={self.internal_traffic_policy}")
        parts.append(f"sessionAffinity={self.session_affinity}")
        if self.topology == "Auto":
            parts.append("topology-mode=Auto")
        elif self.topology != "none":
            parts.append(f"trafficDistribution={self.topology}")
        return ", ".join(parts)


class ClientIpVisibility(Result):
    """Fraction of served connections whose Pod sees the caller's own address, per entry path (null: no such path).

    ``inClusterClusterIP`` and ``inClusterLoadBalancerIP`` are about a Pod caller: does the backend see the Pod IP.
    """

    load_balancer: float | None
    node_port: float | None
    external_ip: float | None = msgspec.field(name="externalIP")
    in_cluster_cluster_ip: float | None = msgspec.field(name="inClusterClusterIP")
    in_cluster_load_balancer_ip: float | None = msgspec.field(name="inClusterLoadBalancerIP")
    in_proxy_protocol_header: bool
    """The LB sends the client address in a PROXY protocol header (the application must parse it)."""


class TopologyOutcome(Result):
    source: TopologySource
    engaged: bool
    """Hints narrowed the endpoint choice on at least one node receiving traffic."""
    engaged_node_fraction: float
    """Fraction of up nodes where hints narrow the choice."""
    safeguard: str | None
    """For topology-mode Auto: the safeguard that removed the hints (e.g. fewerEndpointsThanZones)."""
    message: str


class FailureOutcome(Result):
    """What happens when the node with the largest inflow among nodes with Pods dies, or is drained."""

    node: str
    detection_seconds: float | None
    """Time the LB needs to stop sending to the node; null when it never does (no health check)."""
    lost_connections_per_second_until_detected: float
    """External connections per second still sent to the dead node (rate x its inflow share)."""
    connections_lost_during_detection: float | None
    """``lostConnectionsPerSecondUntilDetected x detectionSeconds``; null when the LB never notices."""
    survivors_hottest_pod_ratio: float
    survivors_dropped_fraction: float
    drain_connections_served_by_terminating: float
    """While the drained node's Pods terminate, its Local traffic is still served by them during detection."""
    drain_dropped_connections_per_second: float
    """Under Local without health checks the LB keeps sending to the drained node after its Pods are gone."""


class PathSummary(Result):
    """One traffic path of the Service: external (through the load balancer) or internal (callers in the cluster).

    Rates are new connections per second on this path; shares are fractions of this path's OFFERED connections
    (what arrives, dropped ones included), so ``hottestPodShare`` <= 1 and the Pods' shares plus
    ``droppedFraction`` add up to 1.
    """

    hottest_pod_ratio: float
    """Hottest Pod's expected load on this path / mean Pod load on this path (1.0: even)."""
    coefficient_of_variation: float
    """Population standard deviation of per-Pod load on this path over its mean (0.0: even)."""
    dropped_fraction: float
    """Dropped or rejected connections / offered connections."""
    extra_hop_fraction: float
    """Served connections whose Pod is on another node than the entry node / served connections."""
    client_ip_visible_fraction: float | None = msgspec.field(name="clientIPVisibleFraction")
    """External: on the profile's entry path (LoadBalancer, NodePort or externalIP); internal: Pod to ClusterIP."""
    offered_connections_per_second: float
    served_connections_per_second: float
    dropped_connections_per_second: float
    mean_pod_connections_per_second: float
    """Served connections per second / Ready Pods (and serving-terminating Pods that get traffic)."""
    hottest_pod_connections_per_second: float
    hottest_pod_requests_per_second: float
    """Hottest Pod's connections/s x this path's requests per connection."""
    hottest_pod_share: float
    """Hottest Pod's fraction of this path's offered connections."""
    mean_pod_share: float
    """Mean Pod's fraction of this path's offered connections (``(1 - droppedFraction) / Pods``)."""
    coldest_pod_share: float
    """Least loaded Pod's fraction of this path's offered connections."""


class PolicySummary(Result):
    """All traffic of the Service (external and internal together), plus each path on its own.

    Rates are new connections per second; shares are fractions of all OFFERED connections (what arrives, dropped
    ones included), so the Pods' shares plus ``droppedFraction`` add up to 1.
    """

    hottest_pod_ratio: float
    """Hottest Pod's expected load / mean Pod load (metrics.hottest_pod_ratio), all traffic of the Service."""
    coefficient_of_variation: float
    dropped_fraction: float
    """Dropped or rejected connections / offered connections, all traffic of the Service."""
    rejected: bool
    """No usable endpoint at all: kube-proxy rejects instead of dropping."""
    extra_hop_fraction: float
    """Served connections whose Pod is on another node than the entry node / served connections."""
    client_ip_visible_fraction: float | None = msgspec.field(name="clientIPVisibleFraction")
    """On the profile's main path: external entry if any external traffic, else in-cluster to the ClusterIP."""
    client_ip: ClientIpVisibility = msgspec.field(name="clientIP")
    offered_connections_per_second: float
    served_connections_per_second: float
    dropped_connections_per_second: float
    mean_pod_connections_per_second: float
    hottest_pod_connections_per_second: float
    hottest_pod_requests_per_second: float
    hottest_pod_share: float
    """Hottest Pod's expected fraction of all offered connections (dropped ones included)."""
    external: PathSummary | None = None
    """External traffic only (null: no external traffic on this Service or in the profile)."""
    internal: PathSummary | None = None
    """In-cluster traffic to the ClusterIP only (null: no internal traffic in the profile)."""


class NodeTable(Result):
    """Per node, column-wise (index i of every list is node ``names[i]``); rates in connections per second."""

    names: list[str]
    zones: list[str | None]
    up: list[bool]
    ready_pods: list[int]
    terminating_pods: list[int]
    received_connections_per_second: list[float]
    forwarded_connections_per_second: list[float]
    served_locally_connections_per_second: list[float]
    dropped_connections_per_second: list[float]
    served_connections_per_second: list[float]
    """Served by this node's Pods, whatever node the connections entered."""
    per_pod_connections_per_second: list[float]
    """Each Ready Pod on the node (serving-terminating Pods: ``terminatingPerPodConnectionsPerSecond``)."""
    terminating_per_pod_connections_per_second: list[float]
    per_pod_share: list[float]
    """Each Ready Pod's fraction of all offered connections (dropped ones included): over all nodes,
    ``sum(perPodShare x readyPods)`` + terminating Pods' share + the summary's ``droppedFraction`` = 1."""
    failure_loss_connections_per_second: list[float]
    """External connections per second lost if this node dies, until the LB detects it."""
    external_per_pod_connections_per_second: list[float] = msgspec.field(default_factory=list)
    """Each Ready Pod's external connections per second (empty when there is no external traffic)."""
    internal_per_pod_connections_per_second: list[float] = msgspec.field(default_factory=list)
    """Each Ready Pod's in-cluster connections per second (empty when there is no internal traffic)."""


class PolicyResult(Result):
    policy: PolicyKey
    current: bool
    summary: PolicySummary
    topology: TopologyOutcome
    failure: FailureOutcome | None
    affinity: AffinitySkew | None
    nodes: NodeTable | None
    """Only for the current policy (the matrix keeps summaries)."""


class Fix(Result):
    description: str
    field: str | None = None
    value: Any = None
    replicas: dict[str, int] | None = None
    """Pods per node that would fix it."""


class Finding(Result):
    id: str
    """Stable rule ID, e.g. TP001."""
    name: str
    severity: Severity
    message: str
    evidence: dict[str, float]
    fix: Fix | None


class RequirementCheck(Result):
    requirement: str
    limit: float | bool
    actual: float | bool
    passed: bool


class Evaluation(Result):
    service: str
    kubernetes_version: str
    verdict: Literal["pass", "fail"]
    checks: list[RequirementCheck]
    failures: list[str]
    """One line per failed requirement, with the numbers."""
    current: PolicyKey
    policies: list[PolicyResult]
    """The current policy first, then every applicable alternative."""
    findings: list[Finding]
    summary: str


__all__ = [
    "ClientIpVisibility",
    "Evaluation",
    "FailureOutcome",
    "Finding",
    "Fix",
    "NodeTable",
    "PathSummary",
    "PolicyKey",
    "PolicyResult",
    "PolicySummary",
    "RequirementCheck",
    "Severity",
    "TopologyOutcome",
    "TopologySource",
]
