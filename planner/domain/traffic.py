"""The traffic profile of a Service plan: what arrives, through what, from whom, and what the user requires.

Versioned (``version: v1``) so later profile shapes can be added without breaking stored documents.
Field semantics follow the Kubernetes traffic reference (section 5 for load balancers, section 8 for models).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from planner.domain.base import Schema
from planner.domain.types import Fraction01, NodeName, PositiveRatio, Rate, Seconds, ZoneName

LoadBalancerModel = Literal["nodeEqual", "podWeighted", "ipTargets", "l2Leader"]
Provider = Literal["generic", "gke", "gceTargetPool", "aws", "awsClassic", "azure", "metallb"]
ClientIPHandling = Literal["passthrough", "proxy", "proxyProtocol"]
EntryPath = Literal["LoadBalancer", "NodePort", "ExternalIP"]
DataPlane = Literal["iptables", "nftables", "ipvs", "ciliumSNAT", "ciliumDSR"]


class LoadBalancer(Schema):
    """The external load balancer in front of the nodes (or Pods, for ``ipTargets``)."""

    model: LoadBalancerModel = "nodeEqual"
    """nodeEqual: equal share per healthy node; podWeighted: node share proportional to local ready Pods
    (GKE weighted load balancing, ETP Local only); ipTargets: Pods are the targets, kube-proxy bypassed (AWS NLB IP
    targets); l2Leader: one announcing node takes everything (MetalLB L2)."""
    provider: Provider = "generic"
    """Selects health-check detection defaults (GKE Local 6 s, AWS LBC 20 s, Azure 10 s, GCE target pool 24 s)."""
    cross_zone: bool = True
    """Off: traffic is split equally per zone first (zones with a healthy target), then per target in the zone."""
    health_check: bool = True
    """Whether the LB health-checks nodes (``healthCheckNodePort`` under ETP Local, kube-proxy /healthz under
    Cluster). Without it an ETP Local Service keeps sending traffic to nodes without Pods, where it is dropped."""
    detection_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] | None = None
    """Time to mark a failed node unhealthy; default from ``provider``."""
    client_ip: ClientIPHandling = msgspec.field(default="passthrough", name="clientIP")
    """passthrough: the node sees the client address; proxy: the LB terminates and re-originates connections
    (every client looks like the LB); proxyProtocol: proxying, but the client address is passed in the PROXY header."""
    preserve_client_ip: bool | None = msgspec.field(default=None, name="preserveClientIP")
    """ipTargets only: the target group's ``preserve_client_ip.enabled`` (default off for IP targets)."""
    leader_node: NodeName | None = None
    """l2Leader only: the announcing node. Unset: the eligible node that gives the worst case is reported."""
    client_affinity: bool | None = None
    """Whether the LB keeps a client IP on one node. Unset: follows the Service's ``sessionAffinity`` (cloud
    controllers map ClientIP to source-IP affinity)."""


class ExternalTraffic(Schema):
    connections_per_second: Rate
    requests_per_connection: Annotated[float, msgspec.Meta(ge=1)] = 1.0
    entry: EntryPath | None = None
    """Unset: LoadBalancer for ``type: LoadBalancer``, NodePort for ``type: NodePort``, ExternalIP otherwise."""
    load_balancer: LoadBalancer = msgspec.field(default_factory=LoadBalancer)


class Callers(Schema):
    """Where in-cluster callers run. At most one of the fields; none means evenly from every Ready node."""

    pods_per_node: dict[NodeName, Annotated[float, msgspec.Meta(ge=0)]] | None = None
    node_shares: dict[NodeName, Annotated[float, msgspec.Meta(ge=0)]] | None = None
    zone_shares: dict[ZoneName, Annotated[float, msgspec.Meta(ge=0)]] | None = None

    def __post_init__(self) -> None:
        given = [f for f in ("pods_per_node", "node_shares", "zone_shares") if getattr(self, f) is not None]
        if len(given) > 1:
            msg = "set at most one of podsPerNode, nodeShares, zoneShares"
            raise ValueError(msg)


class InternalTraffic(Schema):
    connections_per_second: Rate
    requests_per_connection: Annotated[float, msgspec.Meta(ge=1)] = 1.0
    callers: Callers = msgspec.field(default_factory=Callers)


class UniformClients(Schema, tag="uniform", tag_field="type"):
    """Every client opens the same share of connections."""


class ZipfClients(Schema, tag="zipf", tag_field="type"):
    """Client i (1-based) opens a share proportional to 1 / i**exponent."""

    exponent: Annotated[float, msgspec.Meta(gt=0, le=10)] = 1.0


class HeavyHitterClients(Schema, tag="heavyHitters", tag_field="type"):
    """A few named shares (e.g. [0.4, 0.2]); the rest is spread evenly over the remaining clients."""

    shares: Annotated[list[Fraction01], msgspec.Meta(min_length=1, max_length=1000)]

    def __post_init__(self) -> None:
        if sum(self.shares) > 1 + 1e-9:
            msg = "heavy-hitter shares must add up to at most 1"
            raise ValueError(msg)


ClientDistribution = UniformClients | ZipfClients | HeavyHitterClients


class ClientPopulation(Schema):
    """Who opens the connections; matters for ``sessionAffinity: ClientIP``."""

    count: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 1000
    """Distinct client IP addresses."""
    distribution: ClientDistribution = msgspec.field(default_factory=UniformClients)
    nat_addresses: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    """Clients collapsed behind this many source addresses (corporate NAT, carrier-grade NAT)."""
    connection_interval_seconds: Annotated[float, msgspec.Meta(gt=0, le=86400 * 30)] | None = None
    """Mean time between one client's new connections. Unset: well inside ``timeoutSeconds``."""


class Requirements(Schema):
    """What the verdict checks. Unset fields are not checked."""

    client_ip_required: bool = msgspec.field(default=False, name="clientIPRequired")
    max_hottest_pod_ratio: PositiveRatio | None = None
    """Hottest Pod's expected load divided by the mean Pod load."""
    max_dropped_fraction: Fraction01 | None = None
    max_extra_hop_fraction: Fraction01 | None = None
    max_affinity_hottest_share: Fraction01 | None = None
    """p99 of the hottest Pod's share under session affinity."""
    pod_capacity_connections_per_second: Rate | None = None
    """What one Pod can serve; the optimizer treats it as a hard limit."""


class TrafficProfile(Schema):
    version: Literal["v1"] = "v1"
    external: ExternalTraffic | None = None
    internal: InternalTraffic | None = None
    data_plane: DataPlane = "iptables"
    clients: ClientPopulation = msgspec.field(default_factory=ClientPopulation)
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] = 0
    """Seed of the session-affinity Monte Carlo; the same seed gives the same numbers."""


PROVIDER_DETECTION_SECONDS: dict[str, dict[str, Seconds]] = {
    # Local: healthCheckNodePort probes; Cluster: kube-proxy /healthz (traffic-semantics.md section 5)
    "gke": {"Local": 6.0, "Cluster": 24.0},  # Local 3 s x 2; Cluster 8 s x 3
    "gceTargetPool": {"Local": 24.0, "Cluster": 24.0},  # 8 s x 3
    "aws": {"Local": 20.0, "Cluster": 30.0},  # LBC: Local 10 s x 2; default TCP 10 s x 3
    "awsClassic": {"Local": 60.0, "Cluster": 60.0},  # Classic ELB: 10 s x 6
    "azure": {"Local": 10.0, "Cluster": 10.0},  # 5 s x 2
    "metallb": {"Local": 0.0, "Cluster": 0.0},  # endpoint-driven (speaker watches EndpointSlices)
    "generic": {"Local": 10.0, "Cluster": 10.0},
}

__all__ = [
    "PROVIDER_DETECTION_SECONDS",
    "Callers",
    "ClientPopulation",
    "DataPlane",
    "ExternalTraffic",
    "InternalTraffic",
    "LoadBalancer",
    "Requirements",
    "TrafficProfile",
]
