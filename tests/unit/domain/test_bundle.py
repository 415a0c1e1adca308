"""Classifying mixed input streams and building plans from them."""

import copy
from pathlib import Path

import pytest

from planner.domain.bundle import bundle_from_objects, plans_from_bundle
from planner.domain.errors import InvalidDocument
from planner.domain.loading import load_objects

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kubectl"
NODE = "ip-10-0-{}.eu-west-1.compute.internal".format


def objects(*names):
    loaded = []
    for name in names:
        loaded += load_objects((FIXTURES / name).read_text(), name)
    return loaded


def test_classification():
    bundle = bundle_from_objects(objects("nodes.yaml", "pods.json", "manifests.yaml"))
    assert len(bundle.nodes) == 6
    assert len(bundle.pods) == 8
    assert [s.name for s in bundle.services] == ["web", "api"]
    assert sorted(w.kind for w in bundle.workloads) == ["DaemonSet", "Deployment", "StatefulSet"]
    assert [p.name for p in bundle.profiles] == ["web"]
    (ignored,) = bundle.ignored
    assert (ignored.kind, ignored.name, ignored.source) == ("ConfigMap", "web-config", "manifests.yaml")
    assert ignored.line == 214  # the line where the ConfigMap document starts in manifests.yaml
    assert bundle.nodes[2].path == "items[2]"


def test_planner_documents_are_classified():
    text = "apiVersion: trafficplanner.io/v1\nkind: Scenario\nmetadata: {name: s}\nspec: {}\n"
    bundle = bundle_from_objects(load_objects(text))
    assert [d.kind for d in bundle.documents] == ["Scenario"]


def test_missing_kind_and_unknown_planner_kind_are_errors():
    text = "apiVersion: v1\nmetadata: {name: x}\n---\napiVersion: trafficplanner.io/v1\nkind: Widget\n"
    with pytest.raises(InvalidDocument) as info:
        bundle_from_objects(load_objects(text, "in.yaml"))
    assert {(e.field, e.type, e.line) for e in info.value.errors} == {
        ("kind", "Required", 1),
        ("kind", "NotSupported", 5),
    }


def test_plans_from_nodes_pods_services_workloads_and_profile():
    bundle = bundle_from_objects(objects("nodes.yaml", "pods.json", "manifests.yaml"))
    cluster, plans = plans_from_bundle(bundle, "prod", namespace="shop")
    assert cluster.metadata.name == "prod"
    web, api = plans
    assert web.metadata.name == "web"
    assert web.metadata.namespace == "shop"
    assert web.spec.workload["kind"] == "Deployment"
    assert web.spec.traffic.external.connections_per_second == 1200
    assert web.spec.requirements.max_hottest_pod_ratio == 1.5
    # from pods.json: 2 ready on 1-21, 1 ready + 1 terminating on 2-47, 1 not ready on 3-52
    assert web.spec.placement.pods_per_node == {NODE("1-21"): 2, NODE("2-47"): 1}
    assert web.spec.placement.terminating_per_node == {NODE("2-47"): 1}
    assert web.spec.placement.not_ready_per_node == {NODE("3-52"): 1}
    assert api.spec.workload["kind"] == "StatefulSet"
    assert api.spec.placement.pods_per_node == {NODE("2-33"): 1}
    assert api.spec.traffic.external is None  # the profile names only "web"


def test_without_pods_placement_is_unset():
    bundle = bundle_from_objects(objects("nodes.json", "manifests.yaml"))
    _, plans = plans_from_bundle(bundle, "prod")
    assert all(p.spec.placement is None for p in plans)


def test_errors_point_to_file_and_line():
    loaded = objects("nodes.yaml", "manifests.yaml")
    web = loaded[1].raw
    web["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = 90000
    with pytest.raises(InvalidDocument) as info:
        plans_from_bundle(bundle_from_objects(loaded), "prod")
    (error,) = info.value.errors
    assert error.field == "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    assert error.source == "manifests.yaml"
    lines = (FIXTURES / "manifests.yaml").read_text().splitlines()
    assert lines[error.line - 1].strip() == "timeoutSeconds: 10800"  # the line as written in the file


def test_node_errors_point_to_the_node_item():
    loaded = objects("nodes.yaml", "manifests.yaml")
    nodes = copy.deepcopy(loaded[0])
    nodes.raw["items"][1]["status"]["allocatable"]["cpu"] = "many"
    loaded[0] = nodes
    with pytest.raises(InvalidDocument) as info:
        plans_from_bundle(bundle_from_objects(loaded), "prod")
    (error,) = info.value.errors
    assert error.field == "items[1].status.allocatable.cpu"
    assert error.source == "nodes.yaml"
    assert (FIXTURES / "nodes.yaml").read_text().splitlines()[error.line - 1].strip() == "cpu: 3920m"


def test_no_cluster_information():
    bundle = bundle_from_objects(objects("manifests.yaml"))
    with pytest.raises(InvalidDocument):
        plans_from_bundle(bundle, "prod")
