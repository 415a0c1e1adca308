"""Build an :class:`EngineInput` from planner documents, applying a Scenario's changes first."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from planner.domain import k8s
from planner.domain.documents import (
    Cluster,
    NodeDown,
    NodeDrained,
    OverridePolicy,
    ScaleTraffic,
    Scenario,
    ServicePlan,
    SetReplicas,
    ZoneDown,
)
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import forbidden, invalid, not_found
from planner.domain.service_rules import is_headless, validate_service
from planner.domain.traffic import TrafficProfile
from planner.engine.cluster_index import POD_NOT_READY, POD_READY, POD_TERMINATING, cluster_index
from planner.engine.inputs import (
    DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    MAX_AFFINITY_TIMEOUT_SECONDS,
    Distribution,
    EngineInput,
    ServicePolicy,
    TrafficPolicy,
)

SERVICE_PATH = "spec.service"


def service_policy(
    raw: Mapping[str, Any], *, path: str = SERVICE_PATH, kubernetes_version: str = "1.35"
) -> ServicePolicy:
    """The traffic-relevant Service fields, validated and defaulted as the API server would (domain rules).

    Raises:
        InvalidDocument: every violation, with field paths under ``path``.
    """
    svc = validate_service(dict(raw), path=path, kubernetes_version=kubernetes_version)
    spec = svc.spec
    annotations = svc.metadata.annotations or {}
    config = spec.session_affinity_config
    timeout = config.client_ip.timeout_seconds if config and config.client_ip else None
    ingress = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
    topology_mode = annotations.get(k8s.TOPOLOGY_MODE_ANNOTATION) or annotations.get(k8s.TOPOLOGY_HINTS_ANNOTATION)
    return ServicePolicy(
        type=spec.type or "ClusterIP",
        headless=is_headless(spec),
        external_traffic_policy=_policy(spec.external_traffic_policy),
        internal_traffic_policy=_policy(spec.internal_traffic_policy),
        session_affinity="ClientIP" if spec.session_affinity == "ClientIP" else "None",
        timeout_seconds=timeout if spec.session_affinity == "ClientIP" else None,
        traffic_distribution=_distribution(spec.traffic_distribution),
        topology_mode=topology_mode,
        external_ips=len(spec.external_ips or []),
        lb_ip_mode_proxy=any(i.ip_mode == "Proxy" for i in ingress),
        ports=max(1, len(spec.ports or [])),
    )


def _policy(value: str | None) -> TrafficPolicy | None:
    return "Local" if value == "Local" else "Cluster" if value == "Cluster" else None


def _distribution(value: str | None) -> Distribution | None:
    if value == "PreferClose":
        return "PreferClose"
    if value == "PreferSameZone":
        return "PreferSameZone"
    if value == "PreferSameNode":
        return "PreferSameNode"
    return None


def override_policy(policy: ServicePolicy, change: OverridePolicy, *, path: str) -> ServicePolicy:
    """Apply an ``overridePolicy`` change and re-check it as the API server would."""
    errors: list[FieldError] = []
    updates: dict[str, Any] = {}
    if change.external_traffic_policy is not None:
        if not policy.externally_accessible:
            errors.append(
                invalid(
                    f"{path}.externalTrafficPolicy",
                    change.external_traffic_policy,
                    "may only be set for externally-accessible services",
                )
            )
        updates["external_traffic_policy"] = change.external_traffic_policy
    if change.internal_traffic_policy is not None:
        updates["internal_traffic_policy"] = change.internal_traffic_policy
    if change.session_affinity is not None:
        updates["session_affinity"] = change.session_affinity
        if change.session_affinity == "None":
            updates["timeout_seconds"] = None
        elif policy.timeout_seconds is None:
            updates["timeout_seconds"] = DEFAULT_AFFINITY_TIMEOUT_SECONDS
    if change.timeout_seconds is not None:
        affinity = updates.get("session_affinity", policy.session_affinity)
        if affinity != "ClientIP":
            errors.append(
                forbidden(
                    f"{path}.timeoutSeconds", "may not be set when sessionAffinity is 'None'", change.timeout_seconds
                )
            )
        elif not 0 < change.timeout_seconds <= MAX_AFFINITY_TIMEOUT_SECONDS:
            errors.append(
                invalid(f"{path}.timeoutSeconds", change.timeout_seconds, "must be greater than 0 and less than 86400")
            )
        updates["timeout_seconds"] = change.timeout_seconds
    if change.traffic_distribution is not None:
        updates["traffic_distribution"] = change.traffic_distribution
    if change.topology_mode is not None:
        updates["topology_mode"] = change.topology_mode
    if errors:
        raise InvalidDocument(errors, "scenario override is invalid")
    return msgspec.structs.replace(policy, **updates)


def _scaled(traffic: TrafficProfile, factor: float) -> TrafficProfile:
    external = traffic.external
    internal = traffic.internal
    if external is not None:
        external = msgspec.structs.replace(external, connections_per_second=external.connections_per_second * factor)
    if internal is not None:
        internal = msgspec.structs.replace(internal, connections_per_second=internal.connections_per_second * factor)
    return msgspec.structs.replace(traffic, external=external, internal=internal)


def set_replicas(
    ready: np.ndarray[Any, np.dtype[np.int64]],
    eligible: np.ndarray[Any, np.dtype[np.bool_]],
    names: tuple[str, ...],
    replicas: int,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Scale to ``replicas`` Ready Pods: add where fewest (ties by node name), remove from the fullest.

    New Pods only go to ``eligible`` nodes (up and schedulable). Removal takes from any node.
    """
    out = ready.copy()
    current = int(out.sum())
    if replicas > current:
        heap = [(int(out[i]), names[i], i) for i in np.flatnonzero(eligible)]
        if not heap:
            return out
        heapq.heapify(heap)
        for _ in range(replicas - current):
            count, name, i = heapq.heappop(heap)
            out[i] += 1
            heapq.heappush(heap, (count + 1, name, i))
    elif replicas < current:
        heap = [(-int(out[i]), names[i], i) for i in np.flatnonzero(out > 0)]
        heapq.heapify(heap)
        for _ in range(current - replicas):
            negative, name, i = heapq.heappop(heap)
            out[i] -= 1
            if negative + 1 < 0:
                heapq.heappush(heap, (negative + 1, name, i))
    return out


def _kubernetes_minor(version: str) -> int:
    return int(version.split(".")[1])


def build_input(cluster: Cluster, plan: ServicePlan, *, scenario: Scenario | None = None) -> EngineInput:
    """Flatten ``cluster`` + ``plan`` (+ the ``scenario`` changes that concern this plan) for the engine.

    Raises:
        InvalidDocument: malformed Service, unknown node names in the placement or scenario, or an override the
            API server would refuse; each error names the field path.
    """
    idx = cluster_index(cluster)
    names = idx.names
    index = idx.index
    zone = idx.zone
    zone_names = idx.zone_names
    zone_index = idx.zone_index
    cpu = idx.cpu_milli
    control_plane = idx.control_plane
    node_up = idx.node_up.copy()
    schedulable = idx.schedulable.copy()
    node_count = len(names)

    policy = service_policy(plan.spec.service, kubernetes_version=cluster.spec.kubernetes_version)
    ready = np.zeros(node_count, dtype=np.int64)
    terminating = np.zeros(node_count, dtype=np.int64)
    not_ready = np.zeros(node_count, dtype=np.int64)
    errors: list[FieldError] = []
    placement = plan.spec.placement
    if placement is not None:
        for field, target in (
            ("podsPerNode", ready),
            ("terminatingPerNode", terminating),
            ("notReadyPerNode", not_ready),
        ):
            for name, value in getattr(placement, _snake(field)).items():
                if name not in index:
                    errors.append(
                        not_found(
                            f"spec.placement.{field}.{name}",
                            name,
                            f"node {name!r} is not in cluster {cluster.metadata.name!r}",
                        )
                    )
                    continue
                target[index[name]] += value
    else:
        metadata = plan.spec.service.get("metadata") or {}
        selector = (plan.spec.service.get("spec") or {}).get("selector") or {}
        namespace = metadata.get("namespace") or plan.metadata.namespace
        if selector:
            # Pods on nodes not in the cluster are skipped: the Cluster document's own validation reports them.
            matching = idx.matching(namespace, selector)
            ready = idx.pods_per_node(matching, POD_READY)
            terminating = idx.pods_per_node(matching, POD_TERMINATING)
            not_ready = idx.pods_per_node(matching, POD_NOT_READY)
    traffic = plan.spec.traffic
    if scenario is not None:
        for position, change in enumerate(scenario.spec.changes):
            path = f"spec.changes[{position}]"
            if isinstance(change, (NodeDown, NodeDrained)):
                i = index.get(change.node, -1)
                if i < 0:
                    errors.append(
                        not_found(
                            f"{path}.node",
                            change.node,
                            f"node {change.node!r} is not in cluster {cluster.metadata.name!r}",
                        )
                    )
                    continue
                ready[i] = terminating[i] = not_ready[i] = 0
                schedulable[i] = False
                if isinstance(change, NodeDown):
                    node_up[i] = False
            elif isinstance(change, ZoneDown):
                z = zone_index.get(change.zone, -1)
                if z < 0:
                    errors.append(
                        not_found(
                            f"{path}.zone",
                            change.zone,
                            f"no node of cluster {cluster.metadata.name!r} is in zone {change.zone!r}",
                        )
                    )
                    continue
                hit = zone == z
                ready[hit] = terminating[hit] = not_ready[hit] = 0
                node_up[hit] = False
                schedulable[hit] = False
            elif isinstance(change, ScaleTraffic):
                if change.service_plan in (None, plan.metadata.name):
                    traffic = _scaled(traffic, change.factor)
            elif isinstance(change, SetReplicas):
                if change.service_plan == plan.metadata.name:
                    ready = set_replicas(ready, node_up & schedulable, names, change.replicas)
            elif change.service_plan == plan.metadata.name:
                policy = override_policy(policy, change, path=path)
    if errors:
        raise InvalidDocument(errors, "references to unknown nodes")
    return EngineInput(
        service_name=str(plan.spec.service.get("metadata", {}).get("name") or plan.metadata.name),
        node_names=names,
        zone=zone,
        zone_names=zone_names,
        node_up=node_up,
        node_schedulable=schedulable,
        control_plane=control_plane,
        cpu_milli=cpu,
        ready=ready,
        terminating=terminating,
        not_ready=not_ready,
        policy=policy,
        traffic=traffic,
        requirements=plan.spec.requirements,
        kubernetes_minor=_kubernetes_minor(cluster.spec.kubernetes_version),
    )


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


__all__ = ["build_input", "override_policy", "service_policy", "set_replicas"]
