"""Workload parsing and scheduling predicates.

Sources (kubernetes/kubernetes): pkg/apis/apps/validation/validation.go, pkg/controller/deployment/util/
deployment_util.go (ResolveFenceposts), staging/src/k8s.io/component-helpers/resource/helpers.go (PodRequests),
staging/src/k8s.io/api/core/v1/toleration.go (ToleratesTaint), pkg/controller/daemon/util/daemonset_util.go.
"""

import copy
from pathlib import Path

import pytest

from planner.domain.documents import ClusterNode, NodeTaint
from planner.domain.errors import InvalidDocument
from planner.domain.k8s import NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration
from planner.domain.loading import load_objects
from planner.domain.workload import (
    node_eligible,
    node_ineligibility_reason,
    node_matches_affinity,
    parse_workload,
    resolve_int_or_percent,
    tolerates,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kubectl"
MANIFESTS = {
    o.raw["metadata"]["name"] + "/" + o.raw["kind"]: o.raw
    for o in load_objects((FIXTURES / "manifests.yaml").read_text())
}


def deployment(**spec):
    base = {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
        },
    }
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": base}


def errors_of(raw, **kwargs):
    with pytest.raises(InvalidDocument) as info:
        parse_workload(raw, **kwargs)
    return {(e.field, e.type): e for e in info.value.errors}


def test_deployment_fixture():
    info = parse_workload(MANIFESTS["web/Deployment"])
    assert (info.kind, info.name, info.namespace, info.replicas) == ("Deployment", "web", "shop", 6)
    assert info.cpu_millis == 250
    assert info.memory_bytes == 256 * 2**20
    assert info.max_per_node == 1  # required anti-affinity on kubernetes.io/hostname selecting its own Pods
    assert info.spread_max_skew("topology.kubernetes.io/zone") == 1
    # 25% of 6 = 1.5: surge rounds up to 2, unavailable rounds down to 1 (ResolveFenceposts)
    assert (info.max_surge, info.max_unavailable) == (2, 1)


def test_statefulset_fixture_effective_requests():
    info = parse_workload(MANIFESTS["api/StatefulSet"])
    # containers 500m + sidecar proxy 100m = 600m; init wait-db 1000m (no sidecar before it) -> max = 1000m
    assert info.cpu_millis == 1000
    # memory: 1Gi + 128Mi = 1152Mi vs init 64Mi -> 1152Mi
    assert info.memory_bytes == 1152 * 2**20
    assert info.replicas == 3
    assert (info.max_surge, info.max_unavailable) == (0, 1)  # StatefulSets update one Pod at a time
    assert len(info.required_node_terms) == 1


def test_daemonset_fixture():
    info = parse_workload(MANIFESTS["node-exporter/DaemonSet"])
    assert info.replicas is None
    # requests.cpu 100m given; memory request defaults to the 180Mi limit (SetDefaults_Pod)
    assert info.cpu_millis == 100
    assert info.memory_bytes == 180 * 2**20
    assert (info.max_surge_value, info.max_unavailable_value) == (0, 1)
    assert (info.max_surge, info.max_unavailable) == (None, None)  # resolved against the node count later


def test_sidecar_started_before_an_init_container_counts_during_init():
    raw = deployment()
    raw["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
        {"name": "migrate", "resources": {"requests": {"cpu": "800m"}}},
    ]
    raw["spec"]["template"]["spec"]["overhead"] = {"cpu": "50m", "memory": "10Mi"}
    info = parse_workload(raw)
    # running: 250 + 300 = 550; init peak: migrate 800 + sidecar 300 = 1100 -> 1100, + overhead 50 = 1150
    assert info.cpu_millis == 1150
    assert info.memory_bytes == 256 * 2**20 + 10 * 2**20


def test_pod_level_requests_replace_the_container_sum():
    raw = deployment()
    raw["spec"]["template"]["spec"]["resources"] = {"requests": {"cpu": "2"}}
    assert parse_workload(raw).cpu_millis == 2000


def test_replicas_default_to_one():
    raw = deployment()
    del raw["spec"]["replicas"]
    info = parse_workload(raw)
    assert info.replicas == 1
    # 25% of 1: surge ceil(0.25) = 1, unavailable floor(0.25) = 0
    assert (info.max_surge, info.max_unavailable) == (1, 0)


def test_fenceposts_never_both_zero():
    raw = deployment(replicas=3, strategy={"rollingUpdate": {"maxSurge": "10%", "maxUnavailable": 0}})
    # ceil(0.3) = 1 surge: fine. With maxSurge 0% of 3 and maxUnavailable 10% of 3 -> floor(0.3) = 0 -> forced 1
    assert parse_workload(raw).max_surge == 1
    raw = deployment(replicas=3, strategy={"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "10%"}})
    assert (parse_workload(raw).max_surge, parse_workload(raw).max_unavailable) == (0, 1)


def test_recreate_strategy():
    info = parse_workload(deployment(strategy={"type": "Recreate"}))
    assert (info.max_surge, info.max_unavailable) == (0, 4)


def test_rolling_update_validation():
    found = errors_of(deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}))
    assert found["spec.strategy.rollingUpdate.maxUnavailable", "Invalid"].message == "may not be 0 when `maxSurge` is 0"
    found = errors_of(deployment(strategy={"rollingUpdate": {"maxSurge": "x", "maxUnavailable": "150%"}}))
    assert ("spec.strategy.rollingUpdate.maxSurge", "Invalid") in found
    assert found["spec.strategy.rollingUpdate.maxUnavailable", "Invalid"].message == "must not be greater than 100%"


def test_selector_must_match_template_labels():
    raw = deployment(selector={"matchLabels": {"app": "api"}})
    error = errors_of(raw, path="spec.workload")["spec.workload.spec.template.metadata.labels", "Invalid"]
    assert error.message == "`selector` does not match template `labels`"


def test_selector_required_and_non_empty():
    raw = deployment()
    del raw["spec"]["selector"]
    assert ("spec.selector", "Required") in errors_of(raw)
    found = errors_of(deployment(selector={}))
    assert found["spec.selector", "Invalid"].message == "empty selector is invalid for deployment"


def test_negative_replicas():
    assert ("spec.replicas", "Invalid") in errors_of(deployment(replicas=-1))


def test_unsupported_kind():
    raw = deployment()
    raw["kind"] = "ReplicaSet"
    error = errors_of(raw, path="spec.workload")["spec.workload.kind", "NotSupported"]
    assert error.value == "ReplicaSet"


def test_malformed_request_is_a_field_error():
    raw = deployment()
    raw["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots"
    assert ("spec.template.spec.containers[0].resources.requests.cpu", "Invalid") in errors_of(raw)


def test_resolve_int_or_percent():
    assert resolve_int_or_percent("25%", 10, round_up=True) == 3
    assert resolve_int_or_percent("25%", 10, round_up=False) == 2
    assert resolve_int_or_percent(2, 10, round_up=False) == 2


# --- predicates ---------------------------------------------------------------------------------------------


def test_tolerations():
    taint = Taint(key="dedicated", value="ingress", effect="NoSchedule")
    assert not tolerates([], [taint])
    assert tolerates([Toleration(key="dedicated", operator="Equal", value="ingress", effect="NoSchedule")], [taint])
    assert tolerates([Toleration(key="dedicated", operator="Exists")], [taint])  # empty effect tolerates every effect
    assert tolerates([Toleration(operator="Exists")], [taint])  # empty key + Exists tolerates everything
    assert not tolerates([Toleration(key="dedicated", value="batch", effect="NoSchedule")], [taint])
    assert not tolerates([Toleration(key="dedicated", operator="Exists", effect="NoExecute")], [taint])
    assert tolerates([], [Taint(key="spot", effect="PreferNoSchedule")])  # PreferNoSchedule never blocks


def test_node_affinity_terms():
    term = NodeSelectorTerm(
        match_expressions=[NodeSelectorRequirement(key="topology.kubernetes.io/zone", operator="In", values=["a", "b"])]
    )
    gt = NodeSelectorTerm(match_expressions=[NodeSelectorRequirement(key="cores", operator="Gt", values=["4"])])
    by_name = NodeSelectorTerm(
        match_fields=[NodeSelectorRequirement(key="metadata.name", operator="In", values=["n9"])]
    )
    assert node_matches_affinity({"topology.kubernetes.io/zone": "a"}, "n1", [term])
    assert not node_matches_affinity({"topology.kubernetes.io/zone": "c"}, "n1", [term])
    assert node_matches_affinity({"topology.kubernetes.io/zone": "c"}, "n9", [term, by_name])  # terms are ORed
    assert node_matches_affinity({"cores": "8"}, "n1", [gt])
    assert not node_matches_affinity({"cores": "4"}, "n1", [gt])
    assert not node_matches_affinity({}, "n1", [NodeSelectorTerm()])  # an empty term matches nothing
    assert node_matches_affinity({}, "n1", [])  # no terms: no constraint


def node(name="n1", **kwargs):
    return ClusterNode(name=name, **kwargs)


def test_eligibility_reasons():
    info = parse_workload(deployment())
    assert node_eligible(node(), info)
    assert node_ineligibility_reason(node(ready=False), info) == "NotReady"
    assert node_ineligibility_reason(node(unschedulable=True), info) == "unschedulable"
    tainted = node(taints=[NodeTaint(key="dedicated", value="ingress", effect="NoSchedule")])
    assert node_ineligibility_reason(tainted, info) == "taint dedicated=ingress:NoSchedule not tolerated"
    picky = parse_workload(
        deployment(
            template={
                **deployment()["spec"]["template"],
                "spec": {**deployment()["spec"]["template"]["spec"], "nodeSelector": {"disktype": "ssd"}},
            }
        )
    )
    assert node_ineligibility_reason(node(), picky) == "nodeSelector disktype=ssd not matched"
    assert node_eligible(node(labels={"disktype": "ssd"}), picky)


def test_zone_field_counts_as_the_zone_label_for_affinity():
    info = parse_workload(MANIFESTS["api/StatefulSet"])  # requires zone in (eu-west-1a, eu-west-1b)
    assert node_eligible(node(zone="eu-west-1a"), info)
    assert node_ineligibility_reason(node(zone="eu-west-1c"), info) == "required node affinity not matched"


def test_daemonset_pods_tolerate_cordoned_nodes_but_not_not_ready():
    info = parse_workload(MANIFESTS["node-exporter/DaemonSet"])
    assert node_eligible(node(unschedulable=True), info)
    assert node_ineligibility_reason(node(ready=False), info) == "NotReady"


def test_raw_workload_is_not_modified():
    raw = MANIFESTS["web/Deployment"]
    before = copy.deepcopy(raw)
    parse_workload(raw)
    assert raw == before
