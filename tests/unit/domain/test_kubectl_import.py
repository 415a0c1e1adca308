"""kubectl get nodes/pods output -> Cluster (fixtures written as kubectl prints them)."""

import copy
from pathlib import Path

import pytest

from planner.domain.errors import InvalidDocument
from planner.domain.kubectl_import import cluster_from_kubectl
from planner.domain.loading import load_objects

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kubectl"


def load(name):
    return load_objects((FIXTURES / name).read_text(), name)[0].raw


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_node_list_in_both_formats(suffix):
    cluster = cluster_from_kubectl("prod", load(f"nodes.{suffix}"))
    nodes = {n.name: n for n in cluster.spec.nodes}
    assert len(nodes) == 6
    control = nodes["ip-10-0-1-10.eu-west-1.compute.internal"]
    assert control.zone == "eu-west-1a"
    assert "node-role.kubernetes.io/control-plane" in control.labels
    assert [(t.key, t.effect) for t in control.taints] == [("node-role.kubernetes.io/control-plane", "NoSchedule")]
    assert control.allocatable.cpu == "3920m"
    assert control.allocatable.memory == "15147852Ki"
    assert control.allocatable.pods == "110"
    assert nodes["ip-10-0-3-52.eu-west-1.compute.internal"].unschedulable
    assert not nodes["ip-10-0-3-68.eu-west-1.compute.internal"].ready  # Ready condition status Unknown
    assert nodes["ip-10-0-1-21.eu-west-1.compute.internal"].ready
    assert cluster.spec.kubernetes_version == "1.34"  # newest kubelet v1.34.2


def test_json_and_yaml_give_the_same_cluster():
    assert cluster_from_kubectl("a", load("nodes.json"), load("pods.json")) == cluster_from_kubectl(
        "a", load("nodes.yaml"), load("pods.yaml")
    )


def test_pods():
    cluster = cluster_from_kubectl("prod", load("nodes.json"), load("pods.yaml"))
    pods = {p.name: p for p in cluster.spec.pods}
    # Pending (no nodeName) and Succeeded Pods use no capacity and are skipped
    assert "web-7c9d8b6f5d-zz81k" not in pods
    assert "db-migrate-28733410-6jv2s" not in pods
    assert len(pods) == 6
    assert pods["web-7c9d8b6f5d-lr6cd"].terminating
    assert not pods["web-7c9d8b6f5d-q9m2v"].ready
    assert pods["web-7c9d8b6f5d-2xkqp"].ready
    assert pods["web-7c9d8b6f5d-2xkqp"].namespace == "shop"
    # api-0: containers 500m + sidecar 100m = 600m < init wait-db 1000m -> 1 core; memory 1Gi + 128Mi
    assert pods["api-0"].requests.cpu == "1"
    assert pods["api-0"].requests.memory == "1152Mi"


def test_single_node_with_capacity_only_and_legacy_zone_label():
    cluster = cluster_from_kubectl("kind", load("node-capacity-only.json"))
    (node,) = cluster.spec.nodes
    assert node.zone == "local-a"  # failure-domain.beta.kubernetes.io/zone fallback
    assert node.allocatable.cpu == "8"  # SetDefaults_NodeStatus copies capacity when allocatable is absent
    assert cluster.spec.kubernetes_version == "1.33"


def test_single_node_yaml():
    cluster = cluster_from_kubectl("one", load("node.yaml"))
    assert [n.name for n in cluster.spec.nodes] == ["ip-10-0-1-21.eu-west-1.compute.internal"]


def test_malformed_quantity_is_a_field_error_with_the_item_path():
    nodes = copy.deepcopy(load("nodes.json"))
    nodes["items"][3]["status"]["allocatable"]["cpu"] = "four"
    nodes["items"][5]["status"]["allocatable"]["memory"] = "15Gb"
    with pytest.raises(InvalidDocument) as info:
        cluster_from_kubectl("prod", nodes)
    fields = {(e.field, e.type) for e in info.value.errors}
    assert fields == {("items[3].status.allocatable.cpu", "Invalid"), ("items[5].status.allocatable.memory", "Invalid")}


def test_wrong_type_and_bad_taint_effect():
    nodes = copy.deepcopy(load("nodes.json"))
    nodes["items"][0]["spec"]["unschedulable"] = "yes"
    nodes["items"][2]["spec"]["taints"][0]["effect"] = "NoRun"
    with pytest.raises(InvalidDocument) as info:
        cluster_from_kubectl("prod", nodes)
    fields = {e.field for e in info.value.errors}
    assert fields == {"items[0].spec.unschedulable", "items[2].spec.taints[0].effect"}


def test_duplicate_node_and_pod_on_unknown_node():
    nodes = copy.deepcopy(load("nodes.json"))
    nodes["items"].append(copy.deepcopy(nodes["items"][1]))
    pods = copy.deepcopy(load("pods.json"))
    pods["items"][0]["spec"]["nodeName"] = "ghost"
    with pytest.raises(InvalidDocument) as info:
        cluster_from_kubectl("prod", nodes, pods, pods_path="pods")
    fields = {(e.field, e.type) for e in info.value.errors}
    assert fields == {("items[6].metadata.name", "Duplicate"), ("pods.items[0].spec.nodeName", "NotFound")}


def test_wrong_kind_in_node_list():
    nodes = {"apiVersion": "v1", "kind": "List", "items": [load("pods.json")["items"][0]]}
    with pytest.raises(InvalidDocument) as info:
        cluster_from_kubectl("prod", nodes)
    assert [(e.field, e.type) for e in info.value.errors] == [("items[0].kind", "NotSupported")]


def test_empty_node_list():
    with pytest.raises(InvalidDocument):
        cluster_from_kubectl("prod", {"apiVersion": "v1", "kind": "NodeList", "items": []})
