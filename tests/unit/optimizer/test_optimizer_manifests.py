"""Generated manifests: valid against the Kubernetes 1.33 OpenAPI schemas, kubectl key order, honest notes."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml
from optimizer_builders import cluster, equal_nodes, node, plan, request

from planner.optimizer import recommend

ANTI = {
    "affinity": {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
}


def _manifests(req):
    svc = recommend(req).services[0]
    assert svc.manifests is not None
    return svc, svc.manifests


@pytest.mark.parametrize(
    "goal",
    [
        {"plan": plan(replicas=10)},
        {"plan": plan(replicas=10), "highAvailability": {"minNodes": 3}},
        {"plan": plan(replicas=3, **ANTI)},
        {"plan": plan(replicas=6, lb={"model": "l2Leader"})},
        {"plan": plan(replicas=6, lb={"model": "nodeEqual", "crossZone": False}), "highAvailability": {"minZones": 2}},
    ],
)
def test_every_generated_manifest_validates(goal):
    nodes = [*equal_nodes(3, zones=("a",)), node("b0", "b"), node("b1", "b"), node("b2", "b")]
    _, manifests = _manifests(request(cluster(nodes), [goal]))
    docs = list(yaml.safe_load_all(manifests.yaml))
    assert [d["kind"] for d in docs] == ["Deployment", "PodDisruptionBudget", "Service"]
    for doc in docs:
        assert list(doc)[:4] == ["apiVersion", "kind", "metadata", "spec"]
        kubernetes_validate.validate(doc, "1.33", strict=True)


def test_workload_pins_chosen_nodes_and_spreads():
    # 10 replicas on 3 equal nodes -> 5/5 on two nodes; the Deployment gets replicas 10, a node affinity on those
    # two nodes and a maxSkew 1 hostname spread with matchLabelKeys pod-template-hash.
    svc, manifests = _manifests(request(cluster(equal_nodes(3)), [{"plan": plan(replicas=10)}]))
    deployment = next(yaml.safe_load_all(manifests.yaml))
    spec = deployment["spec"]
    assert spec["replicas"] == 10
    pod = spec["template"]["spec"]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": sorted(svc.pods_per_node)}
    ]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["maxSkew"] == 1
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["matchLabelKeys"] == ["pod-template-hash"]
    assert manifests.reproduces_plan
    assert "-  replicas: 10" not in manifests.diff  # replicas unchanged
    assert "+      affinity:" in manifests.diff
    assert manifests.yaml.startswith("---\n# Deployment web")


def test_anti_affinity_kept_when_one_pod_per_node():
    _, manifests = _manifests(request(cluster(equal_nodes(4)), [{"plan": plan(replicas=3, **ANTI)}]))
    pod = next(yaml.safe_load_all(manifests.yaml))["spec"]["template"]["spec"]
    terms = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert len(terms) == 1
    assert terms[0]["topologyKey"] == "kubernetes.io/hostname"


def test_unpinned_plan_reports_scheduler_outcome():
    # Cross-zone off, zones of 2 and 4 nodes, 6 replicas: plan 3 on one zone-a node, 1/1/1 in zone b (ratio 1).
    # maxSkew 1 over those 4 nodes lets the scheduler make 2/2/1/1: the zone-a Pods get 1/(2*1*2) = 1/4 each,
    # ratio (1/4)/(1/6) = 1.5, and the note must say so.
    nodes = [node("a0", "a"), node("a1", "a"), *[node(f"b{i}", "b") for i in range(4)]]
    goal = {
        "plan": plan(replicas=6, lb={"model": "nodeEqual", "crossZone": False}),
        "highAvailability": {"minZones": 2},
    }
    _, manifests = _manifests(request(cluster(nodes), [goal]))
    assert not manifests.reproduces_plan
    assert "hottest-Pod ratio 1.5000 instead of 1.0000" in manifests.scheduler_note
