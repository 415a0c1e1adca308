"""Turn a :class:`RecommendRequest` into flat per-node arrays the models and baselines work on.

Resources are integers: CPU in millicores, memory in bytes, and a Pod slot count. Unknown allocatable is
treated as unlimited. Free capacity is allocatable minus the requests of every Pod already on the node that
does not belong to one of the Services being placed (their own Pods are what the plan moves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from planner.domain import k8s
from planner.domain.documents import Cluster, ClusterNode, ServicePlan
from planner.domain.quantity import byte_count, count, millicores
from planner.domain.selectors import selector_from_map
from planner.engine.lb import Policy
from planner.engine.metrics import BoolArray, IntArray
from planner.engine.placement_score import ScoreModel
from planner.optimizer.eligibility import ineligibility
from planner.optimizer.schema import BalanceModel, HighAvailability, RecommendRequest, ServiceGoal

UNLIMITED = 2**50
RESOURCES = ("cpu", "memory", "pods")


@dataclass(frozen=True)
class ClusterArrays:
    node_names: tuple[str, ...]
    zone: IntArray
    """Zone index per node; -1 without a zone label."""
    zone_names: tuple[str, ...]
    node_up: BoolArray
    allocatable: IntArray
    """Shape (nodes, 3): cpu millicores, memory bytes, Pod slots (UNLIMITED when unknown)."""
    nodes: tuple[ClusterNode, ...]

    @property
    def size(self) -> int:
        return len(self.node_names)


@dataclass(frozen=True)
class ServiceInstance:
    """One Service's part of the problem."""

    index: int
    name: str
    namespace: str
    goal: ServiceGoal
    balance_model: BalanceModel
    score_model: ScoreModel
    policy: Policy
    cross_zone: bool
    health_check: bool
    traffic: float
    """New connections per second the load balancer sends (external, else internal; 0 when unknown)."""
    request: IntArray
    """Per-Pod requests: cpu millicores, memory bytes, 1 Pod slot."""
    eligible: BoolArray
    reasons: tuple[str | None, ...]
    current: IntArray
    """Ready Pods of this Service per node now."""
    replicas_min: int
    replicas_max: int
    baseline_replicas: int
    """Replica count the baselines use: the workload's, clamped to the range."""
    max_per_node: int
    min_nodes: int
    min_zones: int
    pod_capacity: float | None
    node_loss_max_ratio: float | None
    zone_loss_max_ratio: float | None
    rollout_max_ratio: float | None
    workload: dict[str, Any] | None
    pod_spec: k8s.PodSpec
    anti_affinity: bool
    """Required Pod anti-affinity on the hostname: the scheduler itself keeps 1 Pod per node."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Instance:
    cluster: ClusterArrays
    services: tuple[ServiceInstance, ...]
    free: IntArray
    """Shape (nodes, 3): capacity left for the Services being placed."""


def _zone_of(node: ClusterNode) -> str | None:
    return node.zone or node.labels.get(k8s.ZONE_LABEL) or node.labels.get(k8s.LEGACY_ZONE_LABEL)


def _resource(value: str | None, parse: Any) -> int:
    return UNLIMITED if value is None else int(parse(value))


def cluster_arrays(cluster: Cluster) -> ClusterArrays:
    nodes = tuple(cluster.spec.nodes)
    zones = sorted({z for z in (_zone_of(n) for n in nodes) if z is not None})
    zone_index = {z: i for i, z in enumerate(zones)}
    alloc = np.array(
        [
            [
                _resource(n.allocatable.cpu, millicores),
                _resource(n.allocatable.memory, byte_count),
                _resource(n.allocatable.pods, count),
            ]
            for n in nodes
        ],
        dtype=np.int64,
    ).reshape(len(nodes), 3)
    return ClusterArrays(
        node_names=tuple(n.name for n in nodes),
        zone=np.array([zone_index.get(_zone_of(n) or "", -1) for n in nodes], dtype=np.int64),
        zone_names=tuple(zones),
        node_up=np.array([n.ready for n in nodes], dtype=np.bool_),
        allocatable=alloc,
        nodes=nodes,
    )


def _pod_requests(spec: k8s.PodSpec) -> IntArray:
    """Effective Pod request as the scheduler computes it: max(sum of containers, largest init container) + overhead."""

    def vec(resources: dict[str, Any] | None) -> np.ndarray[Any, np.dtype[np.int64]]:
        res = resources or {}
        cpu = millicores(res["cpu"]) if "cpu" in res else 0
        mem = byte_count(res["memory"]) if "memory" in res else 0
        return np.array([cpu, mem, 0], dtype=np.int64)

    total = np.zeros(3, dtype=np.int64)
    for c in spec.containers:
        total += vec(c.resources.requests if c.resources else None)
    for c in spec.init_containers or []:
        total = np.maximum(total, vec(c.resources.requests if c.resources else None))
    total += vec(spec.overhead)
    total[2] = 1
    return total


def _hostname_anti_affinity(spec: k8s.PodSpec) -> bool:
    anti = spec.affinity.pod_anti_affinity if spec.affinity else None
    terms = anti.required_during_scheduling_ignored_during_execution if anti else None
    return any(t.topology_key == k8s.HOSTNAME_LABEL for t in terms or [])


def _balance_model(
    plan: ServicePlan, svc: k8s.Service
) -> tuple[BalanceModel, ScoreModel, Policy, bool, bool, float, list[str]]:
    notes: list[str] = []
    traffic = plan.spec.traffic
    spec = svc.spec
    svc_type = spec.type or "ClusterIP"
    accessible = svc_type in ("LoadBalancer", "NodePort") or bool(spec.external_ips)
    etp: Policy = "Local" if accessible and spec.external_traffic_policy == "Local" else "Cluster"
    if traffic.external is None:
        rate = traffic.internal.connections_per_second if traffic.internal else 0.0
        if spec.internal_traffic_policy == "Local":
            notes.append(
                "internalTrafficPolicy Local: per-Pod load follows where callers run; the optimizer treats "
                "in-cluster traffic as spread evenly per Pod (1/N) and does not optimise caller locality."
            )
        else:
            notes.append(
                "In-cluster traffic only (internalTrafficPolicy Cluster): every Pod gets 1/N whatever the "
                "placement, so placement cannot improve balance; only HA, moves and spread are optimised."
            )
        return "uniform", "nodeEqual", "Cluster", True, True, rate, notes
    lb = traffic.external.load_balancer
    rate = traffic.external.connections_per_second
    if lb.model == "ipTargets":
        if lb.cross_zone:
            notes.append(
                "IP targets with cross-zone balancing: every Pod gets 1/N whatever the placement; only HA, "
                "moves and spread are optimised."
            )
            return "uniform", "ipTargets", etp, True, lb.health_check, rate, notes
        notes.append(
            "IP targets without cross-zone balancing: each zone gets 1/Z, split per Pod in the zone, so the "
            "optimiser balances Pods per zone."
        )
        return "zonePods", "ipTargets", etp, False, lb.health_check, rate, notes
    if etp == "Cluster":
        notes.append(
            "externalTrafficPolicy Cluster: every node forwards over all Pods, so every Pod gets 1/N whatever "
            "the placement; placement only changes second hops and HA, and only HA, moves and spread are "
            "optimised."
        )
        return "uniform", lb.model, etp, lb.cross_zone, lb.health_check, rate, notes
    if lb.model == "podWeighted":
        notes.append(
            "Weighted load balancing (node share proportional to its Pods): every Pod gets 1/N whatever the "
            "placement; only HA, moves and spread are optimised."
        )
        return "uniform", "podWeighted", etp, lb.cross_zone, lb.health_check, rate, notes
    if lb.model == "l2Leader":
        notes.append(
            "MetalLB L2 with externalTrafficPolicy Local: one elected node takes all traffic and only its Pods "
            "serve; no placement fixes that. Only HA, moves and spread are optimised."
        )
        return "leader", "l2Leader", etp, lb.cross_zone, lb.health_check, rate, notes
    if not lb.health_check:
        notes.append(
            "Without LB health checks nodes without Pods keep receiving (and dropping) traffic; the balance "
            "objective is the same, the dropped fraction is measured by the engine."
        )
    return "nodeLocal", "nodeEqual", etp, lb.cross_zone, lb.health_check, rate, notes


def _owned(pod_labels: dict[str, str], pod_ns: str, selector: dict[str, str] | None, namespace: str) -> bool:
    return bool(selector) and pod_ns == namespace and selector_from_map(selector).matches(pod_labels)


def build_instance(request: RecommendRequest) -> Instance:
    arrays = cluster_arrays(request.cluster)
    index = {name: i for i, name in enumerate(arrays.node_names)}
    services: list[ServiceInstance] = []
    selectors: list[tuple[dict[str, str] | None, str]] = []
    for si, goal in enumerate(request.services):
        plan = goal.plan
        svc = msgspec.convert(plan.spec.service, k8s.Service)
        namespace = svc.metadata.namespace or plan.metadata.namespace
        workload = msgspec.convert(plan.spec.workload, k8s.Workload) if plan.spec.workload else None
        pod_spec = workload.spec.template.spec if workload else k8s.PodSpec()
        balance, score_model, policy, cross_zone, health, rate, notes = _balance_model(plan, svc)
        selector = svc.spec.selector
        selectors.append((selector, namespace))
        current = np.zeros(arrays.size, dtype=np.int64)
        if plan.spec.placement is not None:
            for node, pods in plan.spec.placement.pods_per_node.items():
                if node in index:
                    current[index[node]] += pods
        else:
            for pod in request.cluster.spec.pods:
                if (
                    pod.ready
                    and not pod.terminating
                    and pod.node in index
                    and _owned(pod.labels, pod.namespace, selector, namespace)
                ):
                    current[index[pod.node]] += 1
        reasons = tuple(ineligibility(node, pod_spec) for node in arrays.nodes)
        eligible = np.array([r is None for r in reasons], dtype=np.bool_)
        workload_replicas = workload.spec.replicas if workload and workload.spec.replicas is not None else None
        if goal.replicas is not None:
            low = high = goal.replicas
        elif goal.replica_range is not None:
            low, high = goal.replica_range.min, goal.replica_range.max
        else:
            low = high = max(1, workload_replicas if workload_replicas is not None else int(current.sum()) or 1)
        base = workload_replicas if workload_replicas is not None else int(current.sum()) or low
        ha: HighAvailability = goal.high_availability
        anti = _hostname_anti_affinity(pod_spec)
        max_per_node = ha.max_pods_per_node or (1 if anti else high)
        if anti and ha.max_pods_per_node is None:
            notes.append("Required Pod anti-affinity on kubernetes.io/hostname: at most 1 Pod per node.")
        cap = goal.pod_capacity_connections_per_second
        if cap is None:
            cap = plan.spec.requirements.pod_capacity_connections_per_second
        robust = ha.robustness
        services.append(
            ServiceInstance(
                index=si,
                name=plan.metadata.name,
                namespace=namespace,
                goal=goal,
                balance_model=balance,
                score_model=score_model,
                policy=policy,
                cross_zone=cross_zone,
                health_check=health,
                traffic=float(rate),
                request=_pod_requests(pod_spec),
                eligible=eligible,
                reasons=reasons,
                current=current,
                replicas_min=low,
                replicas_max=high,
                baseline_replicas=min(max(base, low), high),
                max_per_node=min(max_per_node, high),
                min_nodes=ha.min_nodes,
                min_zones=ha.min_zones,
                pod_capacity=cap,
                node_loss_max_ratio=robust.node_loss_max_ratio if robust else None,
                zone_loss_max_ratio=robust.zone_loss_max_ratio if robust else None,
                rollout_max_ratio=robust.rollout_max_ratio if robust else None,
                workload=plan.spec.workload,
                pod_spec=pod_spec,
                anti_affinity=anti,
                notes=notes,
            )
        )
    used = np.zeros((arrays.size, 3), dtype=np.int64)
    for pod in request.cluster.spec.pods:
        if pod.node not in index or any(_owned(pod.labels, pod.namespace, sel, ns) for sel, ns in selectors):
            continue
        req = pod.requests
        used[index[pod.node]] += [
            millicores(req.cpu) if req.cpu else 0,
            byte_count(req.memory) if req.memory else 0,
            1,
        ]
    free = np.maximum(arrays.allocatable - used, 0)
    return Instance(cluster=arrays, services=tuple(services), free=free)


def pods_that_fit(free: IntArray, request: IntArray) -> IntArray:
    """How many Pods with ``request`` fit on each node given ``free`` (shape (nodes, 3))."""
    fits = np.full(free.shape[0], UNLIMITED, dtype=np.int64)
    for r in range(3):
        if request[r] > 0:
            fits = np.minimum(fits, free[:, r] // request[r])
    return fits
