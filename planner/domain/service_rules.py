"""Service defaulting and validation, as the Kubernetes API server applies them on create.

Follows ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Service``) and ``pkg/apis/core/validation/validation.go``
(``ValidateService``, ``validateServicePort``, ``validateClientIPAffinityConfig``, ``validateAffinityTimeout``,
``validateServiceExternalTrafficPolicy``, ``validateServiceInternalTrafficFieldsValue``,
``validateServiceTrafficDistribution``, ``ValidateLoadBalancerStatus``) in ``kubernetes/kubernetes``, for every
field planner models. Every violation is reported at once.

Deliberate differences, each because planner is not an API server:

- ``nodePort`` and ``healthCheckNodePort`` left unset are not errors: the API server allocates them before
  validation, and planner needs no concrete number.
- The headless check reports at ``spec.clusterIP`` when the manifest has no ``clusterIPs`` (the API server copies
  ``clusterIP`` into ``clusterIPs`` first and reports ``spec.clusterIPs[0]``).
- ``loadBalancerSourceRanges`` errors use the field's wire name; upstream spells the path
  ``spec.LoadBalancerSourceRanges``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import (
    convert_view,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    prefixed,
    required,
)
from planner.domain.k8s import (
    TOPOLOGY_HINTS_ANNOTATION,
    TOPOLOGY_MODE_ANNOTATION,
    ClientIPConfig,
    LoadBalancerIngress,
    LoadBalancerStatus,
    Service,
    ServicePort,
    ServiceSpec,
    ServiceStatus,
    SessionAffinityConfig,
)
from planner.domain.selectors import label_key_error, label_value_error

DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800
"""``v1.DefaultClientIPServiceAffinitySeconds`` (3 hours)."""
MAX_CLIENT_IP_TIMEOUT_SECONDS = 86400
"""``core.MaxClientIPServiceAffinitySeconds`` (1 day); 86400 itself is valid."""
KUBELET_PORT = 10250
NODE_PORT_RANGE = (30000, 32767)
"""kube-apiserver ``--service-node-port-range`` default."""
LOAD_BALANCER_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
IP_MODES = ("Proxy", "VIP")

_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

_PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"
_IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def parse_minor_version(version: str) -> tuple[int, int]:
    """``"1.35"``, ``"v1.35.2"`` -> ``(1, 35)``.

    Raises:
        ValueError: not a Kubernetes version.
    """
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", version.strip())
    if match is None:
        msg = f"not a Kubernetes version: {version!r}"
        raise ValueError(msg)
    return int(match.group(1)), int(match.group(2))


def traffic_distribution_values(kubernetes_version: str, feature_gates: Mapping[str, bool] | None = None) -> list[str]:
    """Values ``spec.trafficDistribution`` accepts on a cluster of this version.

    ``PreferSameZone``/``PreferSameNode`` need the ``PreferSameTrafficDistribution`` gate: alpha (off) in 1.33, beta
    (on by default) in 1.34, GA in 1.35 (kubernetes/website feature-gates/PreferSameTrafficDistribution.md).
    """
    gates = feature_gates or {}
    version = parse_minor_version(kubernetes_version)
    same = gates.get("PreferSameTrafficDistribution", version >= (1, 34)) and version >= (1, 33)
    return ["PreferClose", "PreferSameNode", "PreferSameZone"] if same else ["PreferClose"]


def externally_accessible(spec: ServiceSpec) -> bool:
    """``pkg/api/service/util.go`` ``ExternallyAccessible``: LoadBalancer, NodePort, or ClusterIP with externalIPs."""
    return spec.type in ("LoadBalancer", "NodePort") or (spec.type == "ClusterIP" and bool(spec.external_ips))


def needs_health_check(spec: ServiceSpec) -> bool:
    """``NeedsHealthCheck``: ``type: LoadBalancer`` with ``externalTrafficPolicy: Local``."""
    return spec.type == "LoadBalancer" and spec.external_traffic_policy == "Local"


def is_headless(spec: ServiceSpec) -> bool:
    first = spec.cluster_ips[0] if spec.cluster_ips else spec.cluster_ip
    return first == "None"


# --- defaulting ------------------------------------------------------------------------------------------------


def default_service(service: Service, kubernetes_version: str = "1.35") -> Service:
    """Apply ``SetDefaults_Service``; returns a new Service and leaves the input untouched."""
    spec = service.spec
    session_affinity = spec.session_affinity or "None"
    affinity_config = spec.session_affinity_config
    if session_affinity == "None":
        affinity_config = None
    elif session_affinity == "ClientIP" and (
        affinity_config is None
        or affinity_config.client_ip is None
        or affinity_config.client_ip.timeout_seconds is None
    ):
        affinity_config = SessionAffinityConfig(
            client_ip=ClientIPConfig(timeout_seconds=DEFAULT_CLIENT_IP_TIMEOUT_SECONDS)
        )
    service_type = spec.type or "ClusterIP"
    ports = None
    if spec.ports is not None:
        ports = [
            msgspec.structs.replace(
                p,
                protocol=p.protocol or "TCP",
                target_port=p.port if p.target_port in (None, 0, "") else p.target_port,
            )
            for p in spec.ports
        ]
    spec = msgspec.structs.replace(
        spec, type=service_type, session_affinity=session_affinity, session_affinity_config=affinity_config, ports=ports
    )
    if externally_accessible(spec) and not spec.external_traffic_policy:
        spec = msgspec.structs.replace(spec, external_traffic_policy="Cluster")
    if spec.internal_traffic_policy is None and service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec = msgspec.structs.replace(spec, internal_traffic_policy="Cluster")
    if service_type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        spec = msgspec.structs.replace(spec, allocate_load_balancer_node_ports=True)
    status = service.status
    # LoadBalancerIPMode: beta and on by default since 1.30 (KEP-1860)
    if service_type == "LoadBalancer" and parse_minor_version(kubernetes_version) >= (1, 30):
        status = _default_ip_mode(status)
    return msgspec.structs.replace(service, spec=spec, status=status)


def _default_ip_mode(status: ServiceStatus | None) -> ServiceStatus | None:
    if status is None or status.load_balancer is None or not status.load_balancer.ingress:
        return status
    ingress = [
        msgspec.structs.replace(i, ip_mode="VIP") if i.ip and i.ip_mode is None else i
        for i in status.load_balancer.ingress
    ]
    return msgspec.structs.replace(status, load_balancer=LoadBalancerStatus(ingress=ingress))


# --- validation ------------------------------------------------------------------------------------------------


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _valid_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _labels_errors(labels: Mapping[str, str], field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in labels.items():
        if (problem := label_key_error(key)) is not None:
            errors.append(invalid(field, key, problem))
        if (problem := label_value_error(value)) is not None:
            errors.append(invalid(field, value, problem))
    return errors


def _metadata_errors(service: Service) -> list[FieldError]:
    errors: list[FieldError] = []
    name = service.metadata.name
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    elif len(name) > 63 or not _DNS1035_LABEL.match(name):
        errors.append(
            invalid(
                "metadata.name",
                name,
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            )
        )
    annotations = service.metadata.annotations or {}
    if (
        TOPOLOGY_MODE_ANNOTATION in annotations
        and TOPOLOGY_HINTS_ANNOTATION in annotations
        and annotations[TOPOLOGY_MODE_ANNOTATION] != annotations[TOPOLOGY_HINTS_ANNOTATION]
    ):
        errors.append(
            invalid(
                f"metadata.annotations[{TOPOLOGY_MODE_ANNOTATION}]",
                annotations[TOPOLOGY_MODE_ANNOTATION],
                f"must match annotations[{TOPOLOGY_HINTS_ANNOTATION}] when both are specified",
            )
        )
    return errors


def _port_errors(port: ServicePort, path: str, require_name: bool, names: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    if require_name and not port.name:
        errors.append(required(f"{path}.name"))
    elif port.name:
        if len(port.name) > 63 or not _DNS1123_LABEL.match(port.name):
            errors.append(
                invalid(
                    f"{path}.name",
                    port.name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                    "start and end with an alphanumeric character",
                )
            )
        if port.name in names:
            errors.append(duplicate(f"{path}.name", port.name))
        names.add(port.name)
    if not 1 <= port.port <= 65535:
        errors.append(invalid(f"{path}.port", port.port, _PORT_RANGE_MESSAGE))
    if not port.protocol:
        errors.append(required(f"{path}.protocol"))
    elif port.protocol not in PORT_PROTOCOLS:
        errors.append(not_supported(f"{path}.protocol", port.protocol, PORT_PROTOCOLS))
    target = port.target_port
    if isinstance(target, int):
        if not 1 <= target <= 65535:
            errors.append(invalid(f"{path}.targetPort", target, _PORT_RANGE_MESSAGE))
    elif target is not None and (
        len(target) > 15 or not _IANA_SVC_NAME.match(target) or "--" in target or not re.search("[a-z]", target)
    ):
        errors.append(
            invalid(
                f"{path}.targetPort",
                target,
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, "
                "at least one letter, and no consecutive hyphens",
            )
        )
    return errors


def _cluster_ip_errors(spec: ServiceSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    field = "spec.clusterIPs[0]" if spec.cluster_ips else "spec.clusterIP"
    first = spec.cluster_ips[0] if spec.cluster_ips else spec.cluster_ip
    if spec.type == "ExternalName":
        if spec.cluster_ip or spec.cluster_ips:
            errors.append(
                forbidden(
                    "spec.clusterIPs" if spec.cluster_ips else "spec.clusterIP",
                    "may not be set for ExternalName services",
                )
            )
        cname = (spec.external_name or "").removesuffix(".")
        if not cname:
            errors.append(required("spec.externalName"))
        elif len(cname) > 253 or not _DNS1123_SUBDOMAIN.match(cname):
            errors.append(
                invalid(
                    "spec.externalName",
                    spec.external_name,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                    "and must start and end with an alphanumeric character",
                )
            )
        return errors
    if spec.type in ("LoadBalancer", "NodePort") and first == "None":
        errors.append(invalid(field, first, f"may not be set to 'None' for {spec.type} services"))
    if spec.cluster_ip and spec.cluster_ips and spec.cluster_ip != spec.cluster_ips[0]:
        errors.append(invalid("spec.clusterIPs", spec.cluster_ips, "element [0] must match clusterIP"))
    for index, ip in enumerate(spec.cluster_ips or ([spec.cluster_ip] if spec.cluster_ip else [])):
        if ip == "None" and index == 0:
            continue
        if not _valid_ip(ip):
            path = f"spec.clusterIPs[{index}]" if spec.cluster_ips else "spec.clusterIP"
            errors.append(invalid(path, ip, _IP_MESSAGE))
    return errors


def _session_affinity_errors(spec: ServiceSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    path = "spec.sessionAffinityConfig"
    if not spec.session_affinity:
        errors.append(required("spec.sessionAffinity"))
    elif spec.session_affinity not in SESSION_AFFINITIES:
        errors.append(not_supported("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES))
    if spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        when = "when session affinity type is ClientIP"
        if config is None:
            errors.append(required(path, when))
        elif config.client_ip is None:
            errors.append(required(f"{path}.clientIP", when))
        elif config.client_ip.timeout_seconds is None:
            errors.append(required(f"{path}.clientIP.timeoutSeconds", when))
        elif not 0 < config.client_ip.timeout_seconds <= MAX_CLIENT_IP_TIMEOUT_SECONDS:
            errors.append(
                invalid(
                    f"{path}.clientIP.timeoutSeconds",
                    config.client_ip.timeout_seconds,
                    f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}",
                )
            )
    elif spec.session_affinity == "None" and spec.session_affinity_config is not None:
        errors.append(forbidden(path, "must not be set when session affinity is None"))
    return errors


def _node_port_errors(spec: ServiceSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str | None, int]] = set()
    low, high = NODE_PORT_RANGE
    for index, port in enumerate(spec.ports or []):
        if not port.node_port:
            continue
        path = f"spec.ports[{index}].nodePort"
        if spec.type == "ClusterIP":
            errors.append(forbidden(path, "may not be used when `type` is 'ClusterIP'", port.node_port))
        elif spec.type in ("NodePort", "LoadBalancer") and not low <= port.node_port <= high:
            # registry allocator (pkg/registry/core/service/portallocator): "provided port is not in the valid range"
            errors.append(
                invalid(
                    path,
                    port.node_port,
                    f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
                )
            )
        key = (port.protocol, port.node_port)
        if key in seen:
            errors.append(duplicate(path, port.node_port))
        seen.add(key)
    ports_seen: set[tuple[str | None, int]] = set()
    for index, port in enumerate(spec.ports or []):
        key = (port.protocol, port.port)
        if key in ports_seen:
            errors.append(duplicate(f"spec.ports[{index}]", {"protocol": port.protocol, "port": port.port}))
        ports_seen.add(key)
    return errors


def _load_balancer_errors(service: Service, kubernetes_version: str) -> list[FieldError]:
    spec = service.spec
    errors: list[FieldError] = []
    lb = spec.type == "LoadBalancer"
    # The kubelet-port rule was removed in 1.33 (kubernetes/kubernetes#129174, fixes #115896).
    if lb and parse_minor_version(kubernetes_version) < (1, 33):
        errors.extend(
            invalid(
                f"spec.ports[{i}]", p.port, f"may not expose port {KUBELET_PORT} externally since it is used by kubelet"
            )
            for i, p in enumerate(spec.ports or [])
            if p.port == KUBELET_PORT
        )
    annotations = service.metadata.annotations or {}
    if spec.load_balancer_source_ranges:
        path = "spec.loadBalancerSourceRanges"
        if not lb:
            errors.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for index, value in enumerate(spec.load_balancer_source_ranges):
            if not _valid_cidr(value.strip()):
                errors.append(invalid(f"{path}[{index}]", value, _CIDR_MESSAGE))
    elif LOAD_BALANCER_SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{LOAD_BALANCER_SOURCE_RANGES_ANNOTATION}]"
        if not lb:
            errors.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        text = annotations[LOAD_BALANCER_SOURCE_RANGES_ANNOTATION].strip()
        errors.extend(
            invalid(path, cidr.strip(), _CIDR_MESSAGE)
            for cidr in (text.split(",") if text else [])
            if not _valid_cidr(cidr.strip())
        )
    if spec.allocate_load_balancer_node_ports is not None and not lb:
        errors.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if lb and spec.allocate_load_balancer_node_ports is None:
        errors.append(required("spec.allocateLoadBalancerNodePorts"))
    return errors


def _traffic_policy_errors(
    spec: ServiceSpec, kubernetes_version: str, feature_gates: Mapping[str, bool] | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not externally_accessible(spec):
        if spec.external_traffic_policy:
            errors.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    spec.external_traffic_policy,
                    "may only be set for externally-accessible services",
                )
            )
    elif not spec.external_traffic_policy:
        errors.append(required("spec.externalTrafficPolicy"))
    elif spec.external_traffic_policy not in TRAFFIC_POLICIES:
        errors.append(not_supported("spec.externalTrafficPolicy", spec.external_traffic_policy, TRAFFIC_POLICIES))
    hcnp = spec.health_check_node_port
    if not needs_health_check(spec):
        if hcnp:
            errors.append(
                invalid(
                    "spec.healthCheckNodePort",
                    hcnp,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif hcnp is not None and not 1 <= hcnp <= 65535:
        errors.append(invalid("spec.healthCheckNodePort", hcnp, _PORT_RANGE_MESSAGE))
    itp = spec.internal_traffic_policy
    if itp is None and spec.type in ("ClusterIP", "NodePort", "LoadBalancer"):
        errors.append(required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in TRAFFIC_POLICIES:
        errors.append(not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    distribution = spec.traffic_distribution
    if distribution is not None:
        allowed = traffic_distribution_values(kubernetes_version, feature_gates)
        if distribution not in allowed:
            errors.append(not_supported("spec.trafficDistribution", distribution, allowed))
    return errors


def _status_errors(status: ServiceStatus | None) -> list[FieldError]:
    if status is None or status.load_balancer is None:
        return []
    errors: list[FieldError] = []
    ingress: list[LoadBalancerIngress] = status.load_balancer.ingress or []
    for index, item in enumerate(ingress):
        path = f"status.loadBalancer.ingress[{index}]"
        if item.ip and not _valid_ip(item.ip):
            errors.append(invalid(f"{path}.ip", item.ip, _IP_MESSAGE))
        if item.ip_mode is None:
            if item.ip:
                errors.append(required(f"{path}.ipMode", "must be specified when `ip` is set"))
        elif not item.ip:
            errors.append(forbidden(f"{path}.ipMode", "may not be specified when `ip` is not set"))
        elif item.ip_mode not in IP_MODES:
            errors.append(not_supported(f"{path}.ipMode", item.ip_mode, IP_MODES))
    return errors


def service_errors(
    service: Service, kubernetes_version: str = "1.35", feature_gates: Mapping[str, bool] | None = None
) -> list[FieldError]:
    """Every ``ValidateService`` violation of an already-defaulted Service, with paths relative to the manifest."""
    spec = service.spec
    errors = _metadata_errors(service)
    if not spec.ports and not is_headless(spec) and spec.type != "ExternalName":
        errors.append(required("spec.ports"))
    errors.extend(_cluster_ip_errors(spec))
    names: set[str] = set()
    ports = spec.ports or []
    for index, port in enumerate(ports):
        errors.extend(_port_errors(port, f"spec.ports[{index}]", len(ports) > 1, names))
    if spec.selector is not None:
        errors.extend(_labels_errors(spec.selector, "spec.selector"))
    errors.extend(_session_affinity_errors(spec))
    for index, ip in enumerate(spec.external_ips or []):
        if not _valid_ip(ip):
            errors.append(invalid(f"spec.externalIPs[{index}]", ip, _IP_MESSAGE))
    if not spec.type:
        errors.append(required("spec.type"))
    elif spec.type not in SERVICE_TYPES:
        errors.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    errors.extend(_node_port_errors(spec))
    errors.extend(_load_balancer_errors(service, kubernetes_version))
    errors.extend(_traffic_policy_errors(spec, kubernetes_version, feature_gates))
    errors.extend(_status_errors(service.status))
    return errors


def _type_meta_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    kind = raw.get("kind")
    if not kind:
        errors.append(required("kind"))
    elif kind != "Service":
        errors.append(not_supported("kind", kind, ["Service"]))
    api_version = raw.get("apiVersion")
    if not api_version:
        errors.append(required("apiVersion"))
    elif api_version != "v1":
        errors.append(not_supported("apiVersion", api_version, ["v1"]))
    return errors


def validate_service(
    raw: dict[str, Any],
    *,
    path: str = "",
    kubernetes_version: str = "1.35",
    feature_gates: Mapping[str, bool] | None = None,
) -> Service:
    """Default and validate a Service manifest; return the defaulted typed view (``raw`` is not modified).

    Args:
        raw: the manifest as given (``kind: Service``, ``apiVersion: v1``).
        path: prefix for field paths, e.g. ``spec.service`` inside a ServicePlan.
        kubernetes_version: the cluster's minor version; decides version-dependent rules.
        feature_gates: explicit gate settings (e.g. ``{"PreferSameTrafficDistribution": True}`` on 1.33).

    Raises:
        InvalidDocument: one FieldError per violation, paths prefixed with ``path``.
    """
    if not isinstance(raw, dict):
        raise InvalidDocument(
            [FieldError(field=path, type="TypeInvalid", message="Expected `object`", value=type(raw).__name__)]
        )
    type_meta = prefixed(_type_meta_errors(raw), path)
    try:
        service = convert_view(raw, Service, path)
    except InvalidDocument as exc:
        raise InvalidDocument(type_meta + exc.errors, summary="Service is invalid") from exc
    defaulted = default_service(service, kubernetes_version)
    errors = type_meta + prefixed(service_errors(defaulted, kubernetes_version, feature_gates), path)
    if errors:
        raise InvalidDocument(errors, summary="Service is invalid")
    return defaulted


__all__ = [
    "DEFAULT_CLIENT_IP_TIMEOUT_SECONDS",
    "MAX_CLIENT_IP_TIMEOUT_SECONDS",
    "default_service",
    "externally_accessible",
    "is_headless",
    "needs_health_check",
    "parse_minor_version",
    "service_errors",
    "traffic_distribution_values",
    "validate_service",
]
