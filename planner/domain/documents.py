"""planner's own declarative documents: Cluster, ServicePlan and Scenario.

Every document has the Kubernetes shape ``apiVersion`` / ``kind`` / ``metadata`` / ``spec`` and is applied by
name. ``ServicePlan.spec.service`` and ``.workload`` hold real Kubernetes manifests, kept as given.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from planner.domain.base import Schema
from planner.domain.traffic import Requirements, TrafficProfile
from planner.domain.types import DnsLabel, NodeName, PodCount, Quantity, Replicas, ZoneName

API_VERSION = "trafficplanner.io/v1"
ApiVersion = Literal["trafficplanner.io/v1"]

LabelMap = Annotated[dict[str, str], msgspec.Meta(max_length=256)]


class Metadata(Schema):
    name: DnsLabel
    namespace: DnsLabel = "default"
    """The team that owns the document. Tokens can be limited to namespaces."""
    labels: LabelMap = msgspec.field(default_factory=dict)
    annotations: LabelMap = msgspec.field(default_factory=dict)


# --- Cluster ---------------------------------------------------------------------------------------------------


class Resources(Schema):
    """Kubernetes quantities; unset means unknown (no limit is enforced on it)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    pods: Quantity | None = None


class NodeTaint(Schema):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=316)]
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    value: str | None = None


class ClusterNode(Schema):
    name: NodeName
    zone: ZoneName | None = None
    """``topology.kubernetes.io/zone``; taken from ``labels`` when unset."""
    labels: LabelMap = msgspec.field(default_factory=dict)
    allocatable: Resources = msgspec.field(default_factory=Resources)
    taints: list[NodeTaint] = msgspec.field(default_factory=list)
    unschedulable: bool = False
    ready: bool = True


class ClusterPod(Schema):
    """A Pod already running (from ``kubectl get pods``): it uses capacity, and may be an endpoint."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    node: NodeName
    namespace: DnsLabel = "default"
    labels: LabelMap = msgspec.field(default_factory=dict)
    requests: Resources = msgspec.field(default_factory=Resources)
    ready: bool = True
    terminating: bool = False


class ClusterSpec(Schema):
    nodes: Annotated[list[ClusterNode], msgspec.Meta(max_length=5000)]
    pods: Annotated[list[ClusterPod], msgspec.Meta(max_length=150_000)] = msgspec.field(default_factory=list)
    kubernetes_version: Annotated[str, msgspec.Meta(pattern=r"^1\.\d{2}$")] = "1.35"
    """Minor version; decides feature gates such as PreferSameTrafficDistribution (beta, on by default, in 1.34)."""


class Cluster(Schema, tag="Cluster", tag_field="kind"):
    api_version: ApiVersion
    metadata: Metadata
    spec: ClusterSpec


# --- ServicePlan -----------------------------------------------------------------------------------------------


class Placement(Schema):
    """Where the Service's endpoints run. Unset in a plan: derived from the cluster's Pods matching the selector."""

    pods_per_node: dict[NodeName, PodCount] = msgspec.field(default_factory=dict)
    """Ready (serving) Pods per node."""
    terminating_per_node: dict[NodeName, PodCount] = msgspec.field(default_factory=dict)
    """Pods that are terminating but still serving (used only as the fallback kube-proxy allows)."""
    not_ready_per_node: dict[NodeName, PodCount] = msgspec.field(default_factory=dict)
    """Pods that are not ready: they get no traffic but still use capacity."""


class ServicePlanSpec(Schema):
    cluster_ref: DnsLabel
    service: dict[str, Any]
    """The Service manifest, exactly as ``kubectl get service -o yaml`` prints it or as it is applied."""
    workload: dict[str, Any] | None = None
    """The Deployment, StatefulSet or DaemonSet behind the Service."""
    placement: Placement | None = None
    traffic: TrafficProfile = msgspec.field(default_factory=TrafficProfile)
    requirements: Requirements = msgspec.field(default_factory=Requirements)


class ServicePlan(Schema, tag="ServicePlan", tag_field="kind"):
    api_version: ApiVersion
    metadata: Metadata
    spec: ServicePlanSpec


# --- Scenario --------------------------------------------------------------------------------------------------


class NodeDown(Schema, tag="nodeDown", tag_field="type"):
    """The node fails: NotReady, its Pods stop serving, the LB removes it after its detection time."""

    node: NodeName


class NodeDrained(Schema, tag="nodeDrained", tag_field="type"):
    """The node is cordoned and drained: unschedulable, its Pods evicted; it stays Ready."""

    node: NodeName


class ZoneDown(Schema, tag="zoneDown", tag_field="type"):
    zone: ZoneName


class ScaleTraffic(Schema, tag="scaleTraffic", tag_field="type"):
    factor: Annotated[float, msgspec.Meta(ge=0, le=1e6)]
    service_plan: DnsLabel | None = None
    """Only this plan's traffic; unset: every plan in the scenario."""


class SetReplicas(Schema, tag="setReplicas", tag_field="type"):
    service_plan: DnsLabel
    replicas: Replicas
    """New Pods go where the placement has fewest Pods (ties by node name); removed ones leave the fullest nodes."""


class OverridePolicy(Schema, tag="overridePolicy", tag_field="type"):
    """Override Service fields, e.g. ``externalTrafficPolicy: Local``; revalidated as the API server would."""

    service_plan: DnsLabel
    external_traffic_policy: Literal["Cluster", "Local"] | None = None
    internal_traffic_policy: Literal["Cluster", "Local"] | None = None
    session_affinity: Literal["None", "ClientIP"] | None = None
    timeout_seconds: int | None = None
    traffic_distribution: Literal["PreferClose", "PreferSameZone", "PreferSameNode"] | None = None
    topology_mode: Literal["Auto", "Disabled"] | None = None


ScenarioChange = NodeDown | NodeDrained | ZoneDown | ScaleTraffic | SetReplicas | OverridePolicy


class ScenarioSpec(Schema):
    cluster_ref: DnsLabel
    service_plan_refs: Annotated[list[DnsLabel], msgspec.Meta(min_length=1, max_length=1000)]
    changes: Annotated[list[ScenarioChange], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)


class Scenario(Schema, tag="Scenario", tag_field="kind"):
    api_version: ApiVersion
    metadata: Metadata
    spec: ScenarioSpec


Document = Cluster | ServicePlan | Scenario
DOCUMENT_KINDS: dict[str, type[Cluster] | type[ServicePlan] | type[Scenario]] = {
    "Cluster": Cluster,
    "ServicePlan": ServicePlan,
    "Scenario": Scenario,
}

__all__ = [
    "API_VERSION",
    "DOCUMENT_KINDS",
    "Cluster",
    "ClusterNode",
    "ClusterPod",
    "ClusterSpec",
    "Document",
    "Metadata",
    "Placement",
    "Scenario",
    "ScenarioChange",
    "ServicePlan",
    "ServicePlanSpec",
]
