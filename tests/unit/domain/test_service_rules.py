"""Service defaulting and validation, checked against kubernetes/kubernetes:
pkg/apis/core/v1/defaults.go (SetDefaults_Service) and pkg/apis/core/validation/validation.go (ValidateService,
validateServicePort, validateClientIPAffinityConfig, validateAffinityTimeout, validateServiceExternalTrafficPolicy,
validateServiceInternalTrafficFieldsValue, validateServiceTrafficDistribution, ValidateLoadBalancerStatus).
"""

import copy

import pytest

from planner.domain.errors import InvalidDocument
from planner.domain.service_rules import default_service, validate_service


def service(**spec):
    base = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": base}


def errors_of(raw, **kwargs):
    with pytest.raises(InvalidDocument) as info:
        validate_service(raw, **kwargs)
    return {(e.field, e.type): e for e in info.value.errors}


# --- defaulting ---------------------------------------------------------------------------------------------


def test_defaults_for_a_minimal_cluster_ip_service():
    result = validate_service(service())
    spec = result.spec
    assert spec.type == "ClusterIP"
    assert spec.session_affinity == "None"
    assert spec.session_affinity_config is None
    assert spec.internal_traffic_policy == "Cluster"
    assert spec.external_traffic_policy is None  # not externally accessible: no default
    assert spec.allocate_load_balancer_node_ports is None
    assert spec.ports[0].protocol == "TCP"


def test_client_ip_affinity_defaults_timeout_to_10800():
    # defaults.go: DefaultClientIPServiceAffinitySeconds = 10800 when ClientIP and no timeout
    result = validate_service(service(sessionAffinity="ClientIP"))
    assert result.spec.session_affinity_config.client_ip.timeout_seconds == 10800
    partial = validate_service(service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {}}))
    assert partial.spec.session_affinity_config.client_ip.timeout_seconds == 10800


def test_defaulting_clears_affinity_config_when_none():
    # defaults.go clears sessionAffinityConfig for None before validation, so it never reaches Forbidden
    result = validate_service(service(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    assert result.spec.session_affinity_config is None


def test_load_balancer_defaults():
    spec = validate_service(service(type="LoadBalancer")).spec
    assert spec.external_traffic_policy == "Cluster"
    assert spec.internal_traffic_policy == "Cluster"
    assert spec.allocate_load_balancer_node_ports is True


def test_external_ips_make_cluster_ip_externally_accessible():
    # pkg/api/service/util.go ExternallyAccessible: ClusterIP with externalIPs
    spec = validate_service(service(externalIPs=["203.0.113.10"])).spec
    assert spec.external_traffic_policy == "Cluster"


def test_target_port_defaults_to_port():
    spec = validate_service(service(ports=[{"port": 443}])).spec
    assert spec.ports[0].target_port == 443


def test_ip_mode_defaults_to_vip_for_load_balancer_ingress_ips():
    raw = service(type="LoadBalancer")
    raw["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}, {"hostname": "lb.example.com"}]}}
    ingress = validate_service(raw).status.load_balancer.ingress
    assert ingress[0].ip_mode == "VIP"
    assert ingress[1].ip_mode is None


def test_raw_manifest_is_not_modified():
    raw = service(type="LoadBalancer", sessionAffinity="ClientIP")
    before = copy.deepcopy(raw)
    validate_service(raw)
    assert raw == before


def test_default_service_is_idempotent():
    once = validate_service(service(type="NodePort", sessionAffinity="ClientIP"))
    assert default_service(once) == once


# --- validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -5, 86401, 90000])
def test_affinity_timeout_out_of_range(timeout):
    found = errors_of(
        service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": timeout}})
    )
    error = found["spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid"]
    # validateAffinityTimeout: `timeout <= 0 || timeout > 86400`, message says "less than 86400"
    assert error.message == "must be greater than 0 and less than 86400"
    assert error.value == timeout


@pytest.mark.parametrize("timeout", [1, 86400])
def test_affinity_timeout_bounds_are_valid(timeout):
    result = validate_service(
        service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": timeout}})
    )
    assert result.spec.session_affinity_config.client_ip.timeout_seconds == timeout


def test_unsupported_session_affinity():
    error = errors_of(service(sessionAffinity="Cookie"))["spec.sessionAffinity", "NotSupported"]
    assert error.message == 'supported values: "ClientIP", "None"'


def test_unsupported_type():
    error = errors_of(service(type="Ingress"))["spec.type", "NotSupported"]
    assert error.value == "Ingress"


def test_node_port_forbidden_on_cluster_ip():
    error = errors_of(service(ports=[{"port": 80, "nodePort": 30080}]))["spec.ports[0].nodePort", "Forbidden"]
    assert error.message == "may not be used when `type` is 'ClusterIP'"


def test_duplicate_node_port_per_protocol():
    ports = [
        {"name": "a", "port": 80, "nodePort": 30080},
        {"name": "b", "port": 81, "nodePort": 30080},
        {"name": "c", "port": 82, "nodePort": 30080, "protocol": "UDP"},  # same nodePort, other protocol: fine
    ]
    found = errors_of(service(type="NodePort", ports=ports))
    assert ("spec.ports[1].nodePort", "Duplicate") in found
    assert ("spec.ports[2].nodePort", "Duplicate") not in found


def test_headless_not_allowed_for_node_port_and_load_balancer():
    found = errors_of(service(type="NodePort", clusterIP="None"))
    assert found["spec.clusterIP", "Invalid"].message == "may not be set to 'None' for NodePort services"
    found = errors_of(service(type="LoadBalancer", clusterIP="None", clusterIPs=["None"]))
    assert found["spec.clusterIPs[0]", "Invalid"].message == "may not be set to 'None' for LoadBalancer services"


def test_headless_cluster_ip_service_is_valid_without_ports():
    assert validate_service(service(clusterIP="None", ports=None)).spec.cluster_ip == "None"


def test_external_traffic_policy_only_for_externally_accessible():
    error = errors_of(service(externalTrafficPolicy="Local"))["spec.externalTrafficPolicy", "Invalid"]
    assert error.message == "may only be set for externally-accessible services"


def test_external_traffic_policy_values():
    error = errors_of(service(type="NodePort", externalTrafficPolicy="Global"))[
        "spec.externalTrafficPolicy", "NotSupported"
    ]
    assert error.message == 'supported values: "Cluster", "Local"'


def test_health_check_node_port_needs_load_balancer_and_local():
    found = errors_of(service(type="NodePort", externalTrafficPolicy="Local", healthCheckNodePort=31000))
    assert found["spec.healthCheckNodePort", "Invalid"].message == (
        "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
    )
    ok = validate_service(service(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=31000))
    assert ok.spec.health_check_node_port == 31000


def test_health_check_node_port_must_be_a_port():
    found = errors_of(service(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=70000))
    assert found["spec.healthCheckNodePort", "Invalid"].message == "must be between 1 and 65535, inclusive"


def test_unset_health_check_node_port_is_allocated_not_required():
    # the registry allocates it before validation; planner needs no number
    spec = validate_service(service(type="LoadBalancer", externalTrafficPolicy="Local")).spec
    assert spec.health_check_node_port is None


def test_internal_traffic_policy_values():
    assert ("spec.internalTrafficPolicy", "NotSupported") in errors_of(service(internalTrafficPolicy="Node"))


@pytest.mark.parametrize("value", ["PreferSameZone", "PreferSameNode", "PreferClose"])
def test_traffic_distribution_current_values(value):
    assert validate_service(service(trafficDistribution=value)).spec.traffic_distribution == value


@pytest.mark.parametrize(
    ("version", "gates", "accepted"),
    [
        ("1.32", None, False),
        ("1.33", None, False),  # PreferSameTrafficDistribution alpha, off by default in 1.33
        ("1.33", {"PreferSameTrafficDistribution": True}, True),
        ("1.34", None, True),  # beta, on by default (kubernetes/website feature-gates/PreferSameTrafficDistribution.md)
    ],
)
def test_prefer_same_zone_depends_on_version(version, gates, accepted):
    raw = service(trafficDistribution="PreferSameZone")
    if accepted:
        validate_service(raw, kubernetes_version=version, feature_gates=gates)
    else:
        error = errors_of(raw, kubernetes_version=version, feature_gates=gates)[
            "spec.trafficDistribution", "NotSupported"
        ]
        assert error.message == 'supported values: "PreferClose"'


def test_unknown_traffic_distribution():
    assert ("spec.trafficDistribution", "NotSupported") in errors_of(service(trafficDistribution="Nearest"))


def test_load_balancer_source_ranges():
    found = errors_of(service(loadBalancerSourceRanges=["10.0.0.0/8"]))
    assert (
        found["spec.loadBalancerSourceRanges", "Forbidden"].message == "may only be used when `type` is 'LoadBalancer'"
    )
    found = errors_of(service(type="LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/8", "10.0.0.300/8", "1.2.3.4"]))
    assert ("spec.loadBalancerSourceRanges[1]", "Invalid") in found
    assert ("spec.loadBalancerSourceRanges[2]", "Invalid") in found
    assert ("spec.loadBalancerSourceRanges[0]", "Invalid") not in found


def test_allocate_load_balancer_node_ports_only_for_load_balancer():
    found = errors_of(service(type="NodePort", allocateLoadBalancerNodePorts=False))
    assert ("spec.allocateLoadBalancerNodePorts", "Forbidden") in found


def test_topology_annotations_must_agree():
    raw = service()
    raw["metadata"]["annotations"] = {
        "service.kubernetes.io/topology-mode": "Auto",
        "service.kubernetes.io/topology-aware-hints": "Disabled",
    }
    error = errors_of(raw)["metadata.annotations[service.kubernetes.io/topology-mode]", "Invalid"]
    assert error.message == "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified"
    raw["metadata"]["annotations"]["service.kubernetes.io/topology-aware-hints"] = "Auto"
    validate_service(raw)


def test_kubelet_port_rule_applies_before_1_33():
    # removed by kubernetes/kubernetes#129174 (merged 2024-12, first in 1.33)
    raw = service(type="LoadBalancer", ports=[{"port": 10250}])
    error = errors_of(raw, kubernetes_version="1.32")["spec.ports[0]", "Invalid"]
    assert error.message == "may not expose port 10250 externally since it is used by kubelet"
    validate_service(raw, kubernetes_version="1.35")


def test_ip_mode_values():
    raw = service(type="LoadBalancer")
    raw["status"] = {
        "loadBalancer": {"ingress": [{"ip": "198.51.100.7", "ipMode": "Direct"}, {"hostname": "h", "ipMode": "VIP"}]}
    }
    found = errors_of(raw)
    assert ("status.loadBalancer.ingress[0].ipMode", "NotSupported") in found
    assert ("status.loadBalancer.ingress[1].ipMode", "Forbidden") in found


def test_ports_required_and_port_rules():
    assert ("spec.ports", "Required") in errors_of(service(ports=[]))
    found = errors_of(service(ports=[{"port": 80}, {"port": 70000, "name": "b", "protocol": "HTTP"}]))
    assert ("spec.ports[0].name", "Required") in found  # names are required with more than one port
    assert ("spec.ports[1].port", "Invalid") in found
    assert ("spec.ports[1].protocol", "NotSupported") in found


def test_every_violation_is_reported_at_once():
    raw = service(
        type="ClusterIP",
        ports=[{"port": 80, "nodePort": 30001}],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 90000}},
        externalTrafficPolicy="Local",
        healthCheckNodePort=31000,
        trafficDistribution="Nearest",
    )
    found = errors_of(raw, path="spec.service")
    assert set(found) == {
        ("spec.service.spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid"),
        ("spec.service.spec.ports[0].nodePort", "Forbidden"),
        ("spec.service.spec.externalTrafficPolicy", "Invalid"),
        ("spec.service.spec.healthCheckNodePort", "Invalid"),
        ("spec.service.spec.trafficDistribution", "NotSupported"),
    }


def test_wrong_types_are_type_invalid_with_path():
    found = errors_of(service(ports=[{"port": "80"}]), path="spec.service")
    error = found["spec.service.spec.ports[0].port", "TypeInvalid"]
    assert "Expected `int`" in error.message


def test_kind_and_api_version_are_checked():
    raw = service()
    raw["kind"] = "Deployment"
    del raw["apiVersion"]
    found = errors_of(raw, path="spec.service")
    assert ("spec.service.kind", "NotSupported") in found
    assert ("spec.service.apiVersion", "Required") in found


def test_service_name_must_be_a_dns_1035_label():
    raw = service()
    raw["metadata"]["name"] = "1web"
    assert ("metadata.name", "Invalid") in errors_of(raw)


def test_node_port_outside_range():
    found = errors_of(service(type="NodePort", ports=[{"port": 80, "nodePort": 8080}]))
    assert found["spec.ports[0].nodePort", "Invalid"].message.startswith("provided port is not in the valid range")
