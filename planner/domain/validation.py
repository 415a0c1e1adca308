"""Validation and defaulting of planner documents and the Kubernetes manifests they embed.

Entry point: :func:`validate_document`. It reports every violation at once, each with its field path.
References between documents (``clusterRef``, node names in scenario changes) are checked by the storage layer,
which can see the other documents.
"""

from __future__ import annotations

from typing import Any

import msgspec

from planner.domain.documents import Cluster, ClusterNode, Document, OverridePolicy, Scenario, ServicePlan
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import duplicate, forbidden, invalid, not_found
from planner.domain.k8s import LEGACY_ZONE_LABEL, TOPOLOGY_MODE_ANNOTATION, ZONE_LABEL, ClientIPConfig, Service
from planner.domain.k8s import SessionAffinityConfig as K8sSessionAffinityConfig
from planner.domain.quantity import QuantityError, byte_count, count, millicores
from planner.domain.selectors import selector_from_map
from planner.domain.service_rules import (
    MAX_CLIENT_IP_TIMEOUT_SECONDS,
    default_service,
    externally_accessible,
    needs_health_check,
    service_errors,
    validate_service,
)
from planner.domain.workload import WorkloadInfo, parse_workload

_PARSERS = {"cpu": millicores, "memory": byte_count, "pods": count}


def _quantity_errors(resources: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, parse in _PARSERS.items():
        value = getattr(resources, name)
        if value is None:
            continue
        try:
            parse(value)
        except QuantityError as exc:
            errors.append(invalid(f"{path}.{name}", value, str(exc)))
    return errors


def _node_zone(node: ClusterNode, path: str, errors: list[FieldError]) -> ClusterNode:
    label = node.labels.get(ZONE_LABEL) or node.labels.get(LEGACY_ZONE_LABEL)
    if node.zone is None:
        return node if label is None else msgspec.structs.replace(node, zone=label)
    if label is not None and label != node.zone:
        errors.append(
            invalid(f"{path}.zone", node.zone, f"must match labels[{ZONE_LABEL}] ({label!r}) when both are set")
        )
    return node


def _validate_cluster(doc: Cluster) -> Cluster:
    errors: list[FieldError] = []
    nodes: list[ClusterNode] = []
    names: set[str] = set()
    for index, node in enumerate(doc.spec.nodes):
        path = f"spec.nodes[{index}]"
        if node.name in names:
            errors.append(duplicate(f"{path}.name", node.name))
        names.add(node.name)
        errors.extend(_quantity_errors(node.allocatable, f"{path}.allocatable"))
        nodes.append(_node_zone(node, path, errors))
    pods: set[tuple[str, str]] = set()
    for index, pod in enumerate(doc.spec.pods):
        path = f"spec.pods[{index}]"
        if pod.node not in names:
            errors.append(not_found(f"{path}.node", pod.node, "no node of this name in spec.nodes"))
        if (pod.namespace, pod.name) in pods:
            errors.append(duplicate(f"{path}.name", pod.name))
        pods.add((pod.namespace, pod.name))
        errors.extend(_quantity_errors(pod.requests, f"{path}.requests"))
    if errors:
        raise InvalidDocument(errors, summary=f"Cluster {doc.metadata.name!r} is invalid")
    return msgspec.structs.replace(doc, spec=msgspec.structs.replace(doc.spec, nodes=nodes))


def _collect(errors: list[FieldError], call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except InvalidDocument as exc:
        errors.extend(exc.errors)
        return None


def _traffic_errors(plan: ServicePlan, service: Service) -> list[FieldError]:
    errors: list[FieldError] = []
    external = plan.spec.traffic.external
    spec = service.spec
    if external is not None:
        path = "spec.traffic.external"
        if not externally_accessible(spec):
            errors.append(
                invalid(
                    path,
                    msgspec.to_builtins(external),
                    f"external traffic needs an externally-accessible Service (type LoadBalancer or NodePort, or "
                    f"externalIPs); this one is type {spec.type} without externalIPs",
                )
            )
        entry = external.entry
        if entry == "LoadBalancer" and spec.type != "LoadBalancer":
            errors.append(invalid(f"{path}.entry", entry, "needs a Service of type LoadBalancer"))
        elif entry == "NodePort" and spec.type not in ("NodePort", "LoadBalancer"):
            errors.append(invalid(f"{path}.entry", entry, "needs a Service of type NodePort or LoadBalancer"))
        elif entry == "ExternalIP" and not spec.external_ips:
            errors.append(invalid(f"{path}.entry", entry, "needs spec.externalIPs on the Service"))
        lb = external.load_balancer
        if lb.leader_node is not None and lb.model != "l2Leader":
            errors.append(invalid(f"{path}.loadBalancer.leaderNode", lb.leader_node, "only for model l2Leader"))
        if lb.preserve_client_ip is not None and lb.model != "ipTargets":
            errors.append(
                invalid(f"{path}.loadBalancer.preserveClientIP", lb.preserve_client_ip, "only for model ipTargets")
            )
        if lb.model == "podWeighted" and spec.external_traffic_policy != "Local":
            errors.append(
                invalid(f"{path}.loadBalancer.model", lb.model, "podWeighted needs externalTrafficPolicy: Local")
            )
    return errors


def _placement_errors(plan: ServicePlan) -> list[FieldError]:
    placement = plan.spec.placement
    if placement is None:
        return []
    errors: list[FieldError] = []
    for field, counts in (
        ("podsPerNode", placement.pods_per_node),
        ("terminatingPerNode", placement.terminating_per_node),
        ("notReadyPerNode", placement.not_ready_per_node),
    ):
        errors.extend(
            invalid(f"spec.placement.{field}[{node}]", value, "must be greater than or equal to 0")
            for node, value in counts.items()
            if value < 0
        )
    return errors


def plan_service(plan: ServicePlan, kubernetes_version: str = "1.35") -> Service:
    """The plan's Service, defaulted (raises InvalidDocument like :func:`validate_document`)."""
    return validate_service(plan.spec.service, path="spec.service", kubernetes_version=kubernetes_version)


def plan_workload(plan: ServicePlan) -> WorkloadInfo | None:
    """The plan's workload, parsed (``None`` when the plan has none)."""
    if plan.spec.workload is None:
        return None
    return parse_workload(plan.spec.workload, path="spec.workload")


def _validate_plan(doc: ServicePlan, kubernetes_version: str) -> ServicePlan:
    errors: list[FieldError] = []
    service: Service | None = _collect(errors, plan_service, doc, kubernetes_version)
    workload: WorkloadInfo | None = _collect(errors, plan_workload, doc)
    if service is not None:
        selector = service.spec.selector
        if workload is not None and selector and not selector_from_map(selector).matches(workload.template_labels):
            errors.append(
                invalid(
                    "spec.service.spec.selector",
                    selector,
                    f"does not select the Pods of spec.workload (template labels {workload.template_labels})",
                )
            )
        errors.extend(_traffic_errors(doc, service))
    errors.extend(_placement_errors(doc))
    if errors:
        raise InvalidDocument(errors, summary=f"ServicePlan {doc.metadata.name!r} is invalid")
    return doc


_OVERRIDE_FIELDS = {
    "spec.externalTrafficPolicy": "externalTrafficPolicy",
    "spec.internalTrafficPolicy": "internalTrafficPolicy",
    "spec.sessionAffinity": "sessionAffinity",
    "spec.sessionAffinityConfig.clientIP.timeoutSeconds": "timeoutSeconds",
    "spec.sessionAffinityConfig": "timeoutSeconds",
    "spec.trafficDistribution": "trafficDistribution",
    f"metadata.annotations[{TOPOLOGY_MODE_ANNOTATION}]": "topologyMode",
}


def _override_own_errors(change: OverridePolicy, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    timeout = change.timeout_seconds
    if timeout is not None:
        if not 0 < timeout <= MAX_CLIENT_IP_TIMEOUT_SECONDS:
            errors.append(
                invalid(
                    f"{path}.timeoutSeconds",
                    timeout,
                    f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}",
                )
            )
        if change.session_affinity == "None":
            errors.append(forbidden(f"{path}.timeoutSeconds", "must not be set when session affinity is None", timeout))
    return errors


def apply_override(
    service: Service, change: OverridePolicy, *, path: str = "", kubernetes_version: str = "1.35"
) -> Service:
    """Apply a scenario's policy override to a defaulted Service and revalidate it as the API server would.

    Fields the API server drops when they no longer apply are dropped too (``healthCheckNodePort`` once the
    Service no longer needs it; ``sessionAffinityConfig`` for ``None``).

    Raises:
        InvalidDocument: errors at ``<path>.<overridden field>`` (e.g. ``spec.changes[0].externalTrafficPolicy``).
    """
    own = _override_own_errors(change, path)
    if own:
        raise InvalidDocument(own, summary="policy override is invalid")
    spec = service.spec
    if change.external_traffic_policy is not None:
        spec = msgspec.structs.replace(spec, external_traffic_policy=change.external_traffic_policy)
    if change.internal_traffic_policy is not None:
        spec = msgspec.structs.replace(spec, internal_traffic_policy=change.internal_traffic_policy)
    if change.session_affinity is not None:
        spec = msgspec.structs.replace(spec, session_affinity=change.session_affinity)
    if change.timeout_seconds is not None:
        config = K8sSessionAffinityConfig(client_ip=ClientIPConfig(timeout_seconds=change.timeout_seconds))
        spec = msgspec.structs.replace(spec, session_affinity_config=config)
    if change.traffic_distribution is not None:
        spec = msgspec.structs.replace(spec, traffic_distribution=change.traffic_distribution)
    metadata = service.metadata
    if change.topology_mode is not None:
        annotations = dict(metadata.annotations or {})
        annotations[TOPOLOGY_MODE_ANNOTATION] = change.topology_mode
        metadata = msgspec.structs.replace(metadata, annotations=annotations)
    candidate = msgspec.structs.replace(service, metadata=metadata, spec=spec)
    if not needs_health_check(candidate.spec):  # strategy.go dropTypeDependentFields
        candidate = msgspec.structs.replace(
            candidate, spec=msgspec.structs.replace(candidate.spec, health_check_node_port=None)
        )
    candidate = default_service(candidate, kubernetes_version)
    errors = [
        msgspec.structs.replace(e, field=f"{path}.{_OVERRIDE_FIELDS[e.field]}" if path else _OVERRIDE_FIELDS[e.field])
        if e.field in _OVERRIDE_FIELDS
        else e
        for e in service_errors(candidate, kubernetes_version)
    ]
    if errors:
        raise InvalidDocument(errors, summary="policy override is invalid")
    return candidate


def _validate_scenario(doc: Scenario) -> Scenario:
    errors: list[FieldError] = []
    refs: set[str] = set()
    for index, ref in enumerate(doc.spec.service_plan_refs):
        if ref in refs:
            errors.append(duplicate(f"spec.servicePlanRefs[{index}]", ref))
        refs.add(ref)
    for index, change in enumerate(doc.spec.changes):
        path = f"spec.changes[{index}]"
        plan = getattr(change, "service_plan", None)
        if plan is not None and plan not in refs:
            errors.append(not_found(f"{path}.servicePlan", plan, "not listed in spec.servicePlanRefs"))
        if isinstance(change, OverridePolicy):
            errors.extend(_override_own_errors(change, path))
    if errors:
        raise InvalidDocument(errors, summary=f"Scenario {doc.metadata.name!r} is invalid")
    return doc


def validate_document(doc: Document, *, kubernetes_version: str = "1.35") -> Document:
    """Check cross-field rules and embedded manifests; return the document with Kubernetes defaults applied.

    The only change to the returned document is a node's ``zone`` filled from its zone label. Embedded manifests
    (``spec.service``, ``spec.workload``) are kept exactly as given; get their defaulted views from
    :func:`plan_service` and :func:`plan_workload`.

    Args:
        doc: a decoded Cluster, ServicePlan or Scenario.
        kubernetes_version: the cluster's minor version, for version-dependent Service rules.

    Raises:
        InvalidDocument: with one FieldError per violation.
    """
    if isinstance(doc, Cluster):
        return _validate_cluster(doc)
    if isinstance(doc, ServicePlan):
        return _validate_plan(doc, kubernetes_version)
    return _validate_scenario(doc)


__all__ = ["apply_override", "plan_service", "plan_workload", "validate_document"]
