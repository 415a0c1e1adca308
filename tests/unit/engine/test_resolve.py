"""From documents to EngineInput: placement from the plan or from matching Pods, scenario changes, errors."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.errors import InvalidDocument
from planner.engine.evaluate import compare, evaluate_plan
from planner.engine.resolve import build_input


def as_doc(cls: type[Any], raw: dict[str, Any]) -> Any:
    return msgspec.convert(raw, cls)


def make_cluster(pods: list[dict[str, Any]] | None = None) -> Cluster:
    return as_doc(
        Cluster,
        {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "prod"},
            "spec": {
                "nodes": [
                    {"name": "n0", "zone": "a", "allocatable": {"cpu": "4"}},
                    {"name": "n1", "zone": "a", "allocatable": {"cpu": "4"}},
                    {"name": "n2", "zone": "b", "allocatable": {"cpu": "4"}},
                ],
                "pods": pods or [],
            },
        },
    )


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {
        "type": "LoadBalancer",
        "selector": {"app": "web"},
        "ports": [{"port": 80}],
        "externalTrafficPolicy": "Local",
    },
}


def make_plan(placement: dict[str, Any] | None = None, service: dict[str, Any] | None = None) -> ServicePlan:
    spec: dict[str, Any] = {
        "clusterRef": "prod",
        "service": service or SERVICE,
        "traffic": {"external": {"connectionsPerSecond": 400}},
    }
    if placement is not None:
        spec["placement"] = placement
    return as_doc(
        ServicePlan,
        {"apiVersion": "trafficplanner.io/v1", "kind": "ServicePlan", "metadata": {"name": "web"}, "spec": spec},
    )


def make_scenario(*changes: dict[str, Any]) -> Scenario:
    return as_doc(
        Scenario,
        {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "Scenario",
            "metadata": {"name": "what-if"},
            "spec": {"clusterRef": "prod", "servicePlanRefs": ["web"], "changes": list(changes)},
        },
    )


def test_placement_from_matching_pods_by_state() -> None:
    pods = [
        {"name": "a", "node": "n0", "labels": {"app": "web"}},
        {"name": "b", "node": "n0", "labels": {"app": "web"}},
        {"name": "c", "node": "n1", "labels": {"app": "web"}, "terminating": True},
        {"name": "d", "node": "n1", "labels": {"app": "web"}, "ready": False},
        {"name": "e", "node": "n2", "labels": {"app": "other"}},
        {"name": "f", "node": "n2", "labels": {"app": "web"}, "namespace": "team-b"},
    ]
    inp = build_input(make_cluster(pods), make_plan())
    assert inp.ready.tolist() == [2, 0, 0]
    assert inp.terminating.tolist() == [0, 1, 0]
    assert inp.not_ready.tolist() == [0, 1, 0]
    assert inp.zone_names == ("a", "b")
    assert inp.zone.tolist() == [0, 0, 1]
    assert inp.cpu_milli.tolist() == [4000, 4000, 4000]
    assert inp.policy.external_traffic_policy == "Local"
    assert inp.policy.internal_traffic_policy == "Cluster"  # defaulted


def test_unknown_node_in_placement_names_the_field() -> None:
    with pytest.raises(InvalidDocument) as exc:
        build_input(make_cluster(), make_plan({"podsPerNode": {"n0": 1, "ghost": 2}}))
    assert [e.field for e in exc.value.errors] == ["spec.placement.podsPerNode.ghost"]


def test_invalid_service_is_reported_with_its_path() -> None:
    bad = {**SERVICE, "spec": {**SERVICE["spec"], "externalTrafficPolicy": "Nearest"}}
    with pytest.raises(InvalidDocument) as exc:
        build_input(make_cluster(), make_plan({"podsPerNode": {"n0": 1}}, bad))
    assert any(e.field == "spec.service.spec.externalTrafficPolicy" for e in exc.value.errors)


def test_node_down_and_drained() -> None:
    plan = make_plan({"podsPerNode": {"n0": 2, "n1": 1}})
    down = build_input(make_cluster(), plan, scenario=make_scenario({"type": "nodeDown", "node": "n0"}))
    assert down.ready.tolist() == [0, 1, 0]
    assert down.node_up.tolist() == [False, True, True]
    drained = build_input(make_cluster(), plan, scenario=make_scenario({"type": "nodeDrained", "node": "n0"}))
    assert drained.ready.tolist() == [0, 1, 0]
    assert drained.node_up.tolist() == [True, True, True]
    assert drained.node_schedulable.tolist() == [False, True, True]
    zone = build_input(make_cluster(), plan, scenario=make_scenario({"type": "zoneDown", "zone": "a"}))
    assert zone.ready.tolist() == [0, 0, 0]
    assert zone.node_up.tolist() == [False, False, True]


def test_set_replicas_adds_where_fewest_and_removes_from_fullest() -> None:
    plan = make_plan({"podsPerNode": {"n0": 2, "n1": 1}})
    # 3 -> 5: fewest first: n2 (0) -> 1; then n1 and n2 tie at 1, n1 first by name -> 2... n0=2, n1=2, n2=1 after
    # two adds: add #1 to n2 (0), add #2 to n1 (1, before n2 by name).
    up = build_input(
        make_cluster(), plan, scenario=make_scenario({"type": "setReplicas", "servicePlan": "web", "replicas": 5})
    )
    assert up.ready.tolist() == [2, 2, 1]
    # 3 -> 1: remove from the fullest: n0 2 -> 1, then n0 and n1 tie at 1, n0 first by name -> 0.
    down = build_input(
        make_cluster(), plan, scenario=make_scenario({"type": "setReplicas", "servicePlan": "web", "replicas": 1})
    )
    assert down.ready.tolist() == [0, 1, 0]


def test_override_policy_is_revalidated() -> None:
    plan = make_plan({"podsPerNode": {"n0": 1}})
    ok = build_input(
        make_cluster(),
        plan,
        scenario=make_scenario({"type": "overridePolicy", "servicePlan": "web", "sessionAffinity": "ClientIP"}),
    )
    assert ok.policy.session_affinity == "ClientIP"
    assert ok.policy.timeout_seconds == 10800
    with pytest.raises(InvalidDocument) as exc:
        build_input(
            make_cluster(),
            plan,
            scenario=make_scenario(
                {"type": "overridePolicy", "servicePlan": "web", "sessionAffinity": "ClientIP", "timeoutSeconds": 86401}
            ),
        )
    assert exc.value.errors[0].field == "spec.changes[0].timeoutSeconds"


def test_unknown_node_in_scenario_names_the_change() -> None:
    with pytest.raises(InvalidDocument) as exc:
        build_input(
            make_cluster(),
            make_plan({"podsPerNode": {"n0": 1}}),
            scenario=make_scenario({"type": "nodeDown", "node": "ghost"}),
        )
    assert exc.value.errors[0].field == "spec.changes[0].node"


def test_scenario_compared_with_base() -> None:
    # Base: Local, 2+1 on n0/n1 -> 25/25/50 (1.50x). Scenario: setReplicas 4 -> n2 gets 1 -> 2,1,1; all three nodes
    # healthy with 1/3 each -> per Pod 1/6, 1/6, 1/3, 1/3 -> mean 1/4, hottest 1/3 -> 1.33x.
    plan = make_plan({"podsPerNode": {"n0": 2, "n1": 1}})
    base = evaluate_plan(make_cluster(), plan)
    what_if = evaluate_plan(
        make_cluster(),
        plan,
        scenario=make_scenario(
            {"type": "setReplicas", "servicePlan": "web", "replicas": 4}, {"type": "scaleTraffic", "factor": 2}
        ),
    )
    lines = compare(base, what_if)
    assert "hottest Pod 1.50x -> 1.33x mean" in lines
    # Hottest Pod: 400/s x 1/2 = 200 -> 800/s x 1/3 = 266.7.
    assert "hottest Pod 200.0 -> 266.7 connections/s" in lines


def test_selector_needs_every_label_and_skips_gone_pods_and_unknown_values() -> None:
    # Selector app=web, tier=front (make_plan's selector plus one more key, below). Only Pods with both labels
    # count; a terminating Pod that is no longer ready is not an endpoint at all.
    pods = [
        {"name": "a", "node": "n0", "labels": {"app": "web", "tier": "front"}},
        {"name": "b", "node": "n0", "labels": {"app": "web"}},
        {"name": "c", "node": "n1", "labels": {"app": "web", "tier": "front"}, "terminating": True, "ready": False},
        {"name": "d", "node": "n2", "labels": {"app": "web", "tier": "back"}},
        {"name": "e", "node": "n2", "labels": {"app": "web", "tier": "front"}, "terminating": True},
    ]
    cluster = make_cluster(pods)
    service = copy.deepcopy(SERVICE)
    service["spec"]["selector"] = {"app": "web", "tier": "front"}
    inp = build_input(cluster, make_plan(service=service))
    assert inp.ready.tolist() == [1, 0, 0]
    assert inp.terminating.tolist() == [0, 0, 1]
    assert inp.not_ready.tolist() == [0, 0, 0]
    # A value no Pod carries matches nothing; the same Cluster object is indexed once and reused.
    service["spec"]["selector"] = {"app": "web", "tier": "middle"}
    assert build_input(cluster, make_plan(service=service)).ready.tolist() == [0, 0, 0]
