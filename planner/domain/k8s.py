"""Typed views of the Kubernetes objects planner reads, with wire names exactly as ``kubectl`` prints them.

Only the fields planner models are typed; everything else in a manifest is ignored here and kept in the raw
manifest stored beside it. Optional fields default to ``None`` so that "unset" and "set to the default" stay
distinguishable for validation and defaulting.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from planner.domain.base import KubeObject

Quantity = str | int | float
IntOrString = int | str


class ObjectMeta(KubeObject):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    deletion_timestamp: str | None = None


class LabelSelectorRequirement(KubeObject):
    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(KubeObject):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


# --- Service -------------------------------------------------------------------------------------------------


class ServicePort(KubeObject):
    port: int
    name: str | None = None
    protocol: str | None = None
    target_port: IntOrString | None = None
    node_port: int | None = None
    app_protocol: str | None = None


class ClientIPConfig(KubeObject):
    timeout_seconds: int | None = None


class SessionAffinityConfig(KubeObject):
    client_ip: ClientIPConfig | None = msgspec.field(default=None, name="clientIP")


class ServiceSpec(KubeObject):
    type: str | None = None
    selector: dict[str, str] | None = None
    ports: list[ServicePort] | None = None
    cluster_ip: str | None = msgspec.field(default=None, name="clusterIP")
    cluster_ips: list[str] | None = msgspec.field(default=None, name="clusterIPs")
    external_ips: list[str] | None = msgspec.field(default=None, name="externalIPs")
    external_name: str | None = None
    session_affinity: str | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    external_traffic_policy: str | None = None
    internal_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    traffic_distribution: str | None = None
    load_balancer_source_ranges: list[str] | None = None
    load_balancer_class: str | None = None
    load_balancer_ip: str | None = msgspec.field(default=None, name="loadBalancerIP")
    allocate_load_balancer_node_ports: bool | None = None
    publish_not_ready_addresses: bool | None = None


class LoadBalancerIngress(KubeObject):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None


class LoadBalancerStatus(KubeObject):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(KubeObject):
    load_balancer: LoadBalancerStatus | None = None


class Service(KubeObject):
    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: ServiceSpec = msgspec.field(default_factory=ServiceSpec)
    status: ServiceStatus | None = None


# --- Pod template and workloads -------------------------------------------------------------------------------


class ResourceRequirements(KubeObject):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class Container(KubeObject):
    name: str | None = None
    resources: ResourceRequirements | None = None
    restart_policy: str | None = None
    """``Always`` on an init container makes it a sidecar (its requests add to the Pod's for its whole life)."""


class Toleration(KubeObject):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class NodeSelectorRequirement(KubeObject):
    key: str
    operator: str
    values: list[str] | None = None


class NodeSelectorTerm(KubeObject):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(KubeObject):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(KubeObject):
    weight: int
    preference: NodeSelectorTerm


class NodeAffinity(KubeObject):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(KubeObject):
    topology_key: str
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    match_label_keys: list[str] | None = None


class WeightedPodAffinityTerm(KubeObject):
    weight: int
    pod_affinity_term: PodAffinityTerm


class PodAntiAffinity(KubeObject):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class Affinity(KubeObject):
    node_affinity: NodeAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class TopologySpreadConstraint(KubeObject):
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    match_label_keys: list[str] | None = None


class PodSpec(KubeObject):
    node_name: str | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = None
    affinity: Affinity | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    containers: list[Container] = msgspec.field(default_factory=list)
    init_containers: list[Container] | None = None
    overhead: dict[str, Quantity] | None = None
    resources: ResourceRequirements | None = None
    """Pod-level requests (PodLevelResources); when set for a resource they replace the container sum."""


class PodTemplate(KubeObject):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)


class RollingUpdate(KubeObject):
    max_surge: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    partition: int | None = None


class UpdateStrategy(KubeObject):
    type: str | None = None
    rolling_update: RollingUpdate | None = None


class WorkloadSpec(KubeObject):
    """The spec shared by Deployment, StatefulSet and DaemonSet (DaemonSet has no ``replicas``)."""

    selector: LabelSelector | None = None
    template: PodTemplate = msgspec.field(default_factory=PodTemplate)
    replicas: int | None = None
    strategy: UpdateStrategy | None = None
    update_strategy: UpdateStrategy | None = None


WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]


class Workload(KubeObject):
    kind: str
    api_version: str | None = None
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: WorkloadSpec = msgspec.field(default_factory=WorkloadSpec)


class PodDisruptionBudgetSpec(KubeObject):
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    selector: LabelSelector | None = None


class PodDisruptionBudget(KubeObject):
    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodDisruptionBudgetSpec = msgspec.field(default_factory=PodDisruptionBudgetSpec)


# --- Nodes and Pods as kubectl get -o json|yaml prints them ---------------------------------------------------


class Taint(KubeObject):
    key: str
    effect: str
    value: str | None = None


class NodeSpec(KubeObject):
    unschedulable: bool | None = None
    taints: list[Taint] | None = None


class Condition(KubeObject):
    type: str
    status: str


class NodeStatus(KubeObject):
    allocatable: dict[str, Quantity] | None = None
    capacity: dict[str, Quantity] | None = None
    conditions: list[Condition] | None = None


class Node(KubeObject):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: NodeSpec = msgspec.field(default_factory=NodeSpec)
    status: NodeStatus = msgspec.field(default_factory=NodeStatus)
    api_version: str | None = None
    kind: str | None = None


class PodStatus(KubeObject):
    phase: str | None = None
    conditions: list[Condition] | None = None


class Pod(KubeObject):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus = msgspec.field(default_factory=PodStatus)
    api_version: str | None = None
    kind: str | None = None


class NodeList(KubeObject):
    items: list[Node] = msgspec.field(default_factory=list)
    api_version: str | None = None
    kind: str | None = None


class PodList(KubeObject):
    items: list[Pod] = msgspec.field(default_factory=list)
    api_version: str | None = None
    kind: str | None = None


RawManifest = dict[str, Any]
"""A Kubernetes manifest exactly as the user gave it (kept for regeneration and diffs)."""

ZONE_LABEL = "topology.kubernetes.io/zone"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
TOPOLOGY_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"
