"""The engine's input: one Service on one cluster, as flat numpy arrays over nodes plus the Service's policy."""

from __future__ import annotations

from typing import Literal

import msgspec

from planner.domain.traffic import Requirements, TrafficProfile
from planner.engine.metrics import BoolArray, IntArray

TrafficPolicy = Literal["Cluster", "Local"]
AffinityMode = Literal["None", "ClientIP"]
Distribution = Literal["PreferClose", "PreferSameZone", "PreferSameNode"]

DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800
"""``DefaultClientIPServiceAffinitySeconds`` (staging/src/k8s.io/api/core/v1/types.go)."""
MAX_AFFINITY_TIMEOUT_SECONDS = 86400
"""``MaxClientIPServiceAffinitySeconds`` (pkg/apis/core/types.go)."""


class ServicePolicy(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    """The Service fields that decide traffic, after Kubernetes defaulting (pkg/apis/core/v1/defaults.go).

    ``external_traffic_policy`` is ``None`` for Services that are not externally accessible;
    ``internal_traffic_policy`` is ``None`` for ExternalName Services.
    """

    type: str = "ClusterIP"
    headless: bool = False
    external_traffic_policy: TrafficPolicy | None = None
    internal_traffic_policy: TrafficPolicy | None = "Cluster"
    session_affinity: AffinityMode = "None"
    timeout_seconds: int | None = None
    """``sessionAffinityConfig.clientIP.timeoutSeconds`` (10800 when ClientIP and unset)."""
    traffic_distribution: Distribution | None = None
    topology_mode: str | None = None
    """``service.kubernetes.io/topology-mode`` (or the older ``topology-aware-hints``) annotation."""
    external_ips: int = 0
    lb_ip_mode_proxy: bool = False
    """``status.loadBalancer.ingress[].ipMode: Proxy``: in-cluster traffic to the LB IP really goes to the LB."""
    ports: int = 1

    @property
    def externally_accessible(self) -> bool:
        """``ExternallyAccessible`` (pkg/api/service/util.go): LoadBalancer, NodePort, or ClusterIP + externalIPs."""
        return self.type in ("LoadBalancer", "NodePort") or (self.type == "ClusterIP" and self.external_ips > 0)

    @property
    def proxied(self) -> bool:
        """kube-proxy programs rules for it (``ShouldSkipService``: not headless, not ExternalName)."""
        return not self.headless and self.type != "ExternalName"

    @property
    def topology_auto(self) -> bool:
        return (self.topology_mode or "").lower() == "auto"


class EngineInput(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one evaluation needs, flattened. Index ``n`` of every array is node ``node_names[n]``.

    Attributes:
        zone: zone index per node into ``zone_names``; -1 when the node has no zone label.
        node_up: Ready and not down; kube-proxy runs and the LB may target it.
        node_schedulable: not cordoned/unschedulable (where new replicas may go).
        control_plane: carries a control-plane/master role label (excluded by topology-mode Auto).
        cpu_milli: allocatable CPU in millicores; -1 when unknown.
        ready: Ready endpoints of this Service per node.
        terminating: serving-terminating endpoints per node.
        not_ready: Pods that are not ready (no traffic, still placed).
    """

    service_name: str
    node_names: tuple[str, ...]
    zone: IntArray
    zone_names: tuple[str, ...]
    node_up: BoolArray
    node_schedulable: BoolArray
    control_plane: BoolArray
    cpu_milli: IntArray
    ready: IntArray
    terminating: IntArray
    not_ready: IntArray
    policy: ServicePolicy
    traffic: TrafficProfile
    requirements: Requirements
    kubernetes_minor: int = 35

    @property
    def node_count(self) -> int:
        return len(self.node_names)

    @property
    def zone_count(self) -> int:
        return len(self.zone_names)

    @property
    def node_hints_enabled(self) -> bool:
        """Feature gate ``PreferSameTrafficDistribution``: alpha (off) in 1.33, beta (on) in 1.34, GA in 1.35."""
        return self.kubernetes_minor >= 34


__all__ = [
    "DEFAULT_AFFINITY_TIMEOUT_SECONDS",
    "MAX_AFFINITY_TIMEOUT_SECONDS",
    "AffinityMode",
    "Distribution",
    "EngineInput",
    "ServicePolicy",
    "TrafficPolicy",
]
