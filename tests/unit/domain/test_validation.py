"""validate_document: Cluster, ServicePlan and Scenario rules with exact field paths."""

import copy

import msgspec
import pytest

from planner.domain.documents import Cluster, OverridePolicy, Scenario, ServicePlan
from planner.domain.errors import InvalidDocument
from planner.domain.service_rules import validate_service
from planner.domain.validation import apply_override, plan_service, plan_workload, validate_document


def cluster(**spec):
    base = {
        "nodes": [
            {
                "name": "n1",
                "labels": {"topology.kubernetes.io/zone": "a"},
                "allocatable": {"cpu": "4", "memory": "16Gi"},
            },
            {"name": "n2", "zone": "b", "allocatable": {"cpu": "4"}},
        ],
        "pods": [{"name": "web-1", "node": "n1", "requests": {"cpu": "250m"}}],
    }
    base.update(spec)
    return msgspec.convert(
        {"apiVersion": "trafficplanner.io/v1", "kind": "Cluster", "metadata": {"name": "prod"}, "spec": base}, Cluster
    )


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
}
WORKLOAD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}},
    },
}


def plan(service=SERVICE, workload=WORKLOAD, **spec):
    body = {"clusterRef": "prod", "service": copy.deepcopy(service), "workload": copy.deepcopy(workload)}
    body.update(spec)
    return msgspec.convert(
        {"apiVersion": "trafficplanner.io/v1", "kind": "ServicePlan", "metadata": {"name": "web"}, "spec": body},
        ServicePlan,
    )


def errors_of(doc, **kwargs):
    with pytest.raises(InvalidDocument) as info:
        validate_document(doc, **kwargs)
    return {(e.field, e.type): e for e in info.value.errors}


# --- Cluster ------------------------------------------------------------------------------------------------


def test_zone_filled_from_labels():
    result = validate_document(cluster())
    assert [n.zone for n in result.spec.nodes] == ["a", "b"]


def test_cluster_rules():
    doc = cluster(
        nodes=[
            {"name": "n1", "allocatable": {"cpu": "4 cores"}},
            {"name": "n1", "zone": "b", "labels": {"topology.kubernetes.io/zone": "c"}},
        ],
        pods=[{"name": "p", "node": "n9", "requests": {"memory": "1GB"}}, {"name": "p", "node": "n1"}],
    )
    assert set(errors_of(doc)) == {
        ("spec.nodes[0].allocatable.cpu", "Invalid"),
        ("spec.nodes[1].name", "Duplicate"),
        ("spec.nodes[1].zone", "Invalid"),
        ("spec.pods[0].node", "NotFound"),
        ("spec.pods[0].requests.memory", "Invalid"),
        ("spec.pods[1].name", "Duplicate"),
    }


# --- ServicePlan --------------------------------------------------------------------------------------------


def test_valid_plan_is_returned_unchanged():
    doc = plan()
    assert validate_document(doc) is doc
    assert doc.spec.service == SERVICE  # the manifest is kept as given, not defaulted
    assert plan_service(doc).spec.external_traffic_policy == "Cluster"
    assert plan_workload(doc).replicas == 3


def test_service_errors_carry_the_spec_service_prefix():
    service = copy.deepcopy(SERVICE)
    service["spec"]["sessionAffinity"] = "ClientIP"
    service["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 0}}
    found = errors_of(plan(service=service))
    assert ("spec.service.spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid") in found


def test_service_must_be_a_v1_service():
    found = errors_of(plan(service=WORKLOAD))
    assert ("spec.service.kind", "NotSupported") in found
    assert ("spec.service.apiVersion", "NotSupported") in found


def test_workload_errors_carry_the_spec_workload_prefix():
    workload = copy.deepcopy(WORKLOAD)
    workload["spec"]["replicas"] = -2
    assert ("spec.workload.spec.replicas", "Invalid") in errors_of(plan(workload=workload))


def test_service_selector_must_select_the_workload():
    service = copy.deepcopy(SERVICE)
    service["spec"]["selector"] = {"app": "api"}
    assert ("spec.service.spec.selector", "Invalid") in errors_of(plan(service=service))


def test_external_traffic_needs_an_externally_accessible_service():
    service = copy.deepcopy(SERVICE)
    service["spec"]["type"] = "ClusterIP"
    found = errors_of(plan(service=service, traffic={"external": {"connectionsPerSecond": 100}}))
    assert ("spec.traffic.external", "Invalid") in found
    with_ips = copy.deepcopy(service)
    with_ips["spec"]["externalIPs"] = ["203.0.113.4"]
    validate_document(plan(service=with_ips, traffic={"external": {"connectionsPerSecond": 100}}))


def test_load_balancer_model_options():
    traffic = {
        "external": {
            "connectionsPerSecond": 100,
            "loadBalancer": {"model": "podWeighted", "leaderNode": "n1", "preserveClientIP": True},
        }
    }
    found = errors_of(plan(traffic=traffic))
    assert set(found) == {
        ("spec.traffic.external.loadBalancer.leaderNode", "Invalid"),
        ("spec.traffic.external.loadBalancer.preserveClientIP", "Invalid"),
        ("spec.traffic.external.loadBalancer.model", "Invalid"),  # podWeighted needs ETP Local
    }


def test_entry_must_fit_the_service_type():
    service = copy.deepcopy(SERVICE)
    service["spec"]["type"] = "NodePort"
    found = errors_of(plan(service=service, traffic={"external": {"connectionsPerSecond": 1, "entry": "LoadBalancer"}}))
    assert ("spec.traffic.external.entry", "Invalid") in found


def test_version_dependent_rules_use_the_given_version():
    service = copy.deepcopy(SERVICE)
    service["spec"]["trafficDistribution"] = "PreferSameNode"
    validate_document(plan(service=service))
    assert ("spec.service.spec.trafficDistribution", "NotSupported") in errors_of(
        plan(service=service), kubernetes_version="1.32"
    )


# --- Scenario -----------------------------------------------------------------------------------------------


def scenario(changes, refs=("web", "api")):
    return msgspec.convert(
        {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "Scenario",
            "metadata": {"name": "s"},
            "spec": {"clusterRef": "prod", "servicePlanRefs": list(refs), "changes": changes},
        },
        Scenario,
    )


def test_scenario_rules():
    doc = scenario(
        [
            {"type": "overridePolicy", "servicePlan": "web", "timeoutSeconds": 90000},
            {"type": "nodeDown", "node": "n1"},
            {"type": "setReplicas", "servicePlan": "db", "replicas": 2},
            {"type": "scaleTraffic", "factor": 2, "servicePlan": "cache"},
            {"type": "overridePolicy", "servicePlan": "api", "sessionAffinity": "None", "timeoutSeconds": 60},
        ],
        refs=("web", "api", "web"),
    )
    found = errors_of(doc)
    assert set(found) == {
        ("spec.servicePlanRefs[2]", "Duplicate"),
        ("spec.changes[0].timeoutSeconds", "Invalid"),
        ("spec.changes[2].servicePlan", "NotFound"),
        ("spec.changes[3].servicePlan", "NotFound"),
        ("spec.changes[4].timeoutSeconds", "Forbidden"),
    }
    assert found["spec.changes[0].timeoutSeconds", "Invalid"].message == "must be greater than 0 and less than 86400"


def test_apply_override_revalidates_like_the_api_server():
    lb_local = copy.deepcopy(SERVICE)
    lb_local["spec"].update(externalTrafficPolicy="Local", healthCheckNodePort=31000)
    service = validate_service(lb_local)
    to_cluster = apply_override(service, OverridePolicy(service_plan="web", external_traffic_policy="Cluster"))
    # healthCheckNodePort is dropped when no longer needed (registry strategy dropTypeDependentFields)
    assert to_cluster.spec.external_traffic_policy == "Cluster"
    assert to_cluster.spec.health_check_node_port is None
    sticky = apply_override(service, OverridePolicy(service_plan="web", session_affinity="ClientIP"))
    assert sticky.spec.session_affinity_config.client_ip.timeout_seconds == 10800


def test_apply_override_on_a_cluster_ip_service_reports_the_change_field():
    cluster_ip = copy.deepcopy(SERVICE)
    cluster_ip["spec"]["type"] = "ClusterIP"
    service = validate_service(cluster_ip)
    change = OverridePolicy(service_plan="web", external_traffic_policy="Local")
    with pytest.raises(InvalidDocument) as info:
        apply_override(service, change, path="spec.changes[1]")
    assert [(e.field, e.type) for e in info.value.errors] == [("spec.changes[1].externalTrafficPolicy", "Invalid")]
