"""Small builders for optimizer tests: clusters, Service plans and requests as plain documents."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import strategies as st

from planner.optimizer.schema import RecommendRequest


def node(name: str, zone: str = "a", *, cpu: str = "8", memory: str = "32Gi", pods: str = "110", **extra: Any) -> dict:
    return {"name": name, "zone": zone, "allocatable": {"cpu": cpu, "memory": memory, "pods": pods}, **extra}


def cluster(nodes: list[dict], pods: list[dict] | None = None) -> dict:
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "prod"},
        "spec": {"nodes": nodes, "pods": pods or []},
    }


def deployment(name: str = "web", *, replicas: int = 3, cpu: str = "500m", memory: str = "256Mi", **pod: Any) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": name, "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
                    ],
                    **pod,
                },
            },
        },
    }


def service(name: str = "web", *, etp: str = "Local") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": name},
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "externalTrafficPolicy": etp,
        },
    }


def plan(
    name: str = "web",
    *,
    replicas: int = 3,
    etp: str = "Local",
    lb: dict | None = None,
    rate: float = 1000.0,
    cpu: str = "500m",
    memory: str = "256Mi",
    placement: dict[str, int] | None = None,
    **pod: Any,
) -> dict:
    spec: dict[str, Any] = {
        "clusterRef": "prod",
        "service": service(name, etp=etp),
        "workload": deployment(name, replicas=replicas, cpu=cpu, memory=memory, **pod),
        "traffic": {"external": {"connectionsPerSecond": rate, "loadBalancer": lb or {"model": "nodeEqual"}}},
    }
    if placement is not None:
        spec["placement"] = {"podsPerNode": placement}
    return {"apiVersion": "trafficplanner.io/v1", "kind": "ServicePlan", "metadata": {"name": name}, "spec": spec}


def request(cluster_doc: dict, goals: list[dict], **extra: Any) -> RecommendRequest:
    raw = {
        "cluster": cluster_doc,
        "services": goals,
        "solver": {"timeLimitSeconds": 5, "numWorkers": 1, "randomSeed": 7},
        **extra,
    }
    return msgspec.convert(raw, RecommendRequest)


def equal_nodes(count: int, zones: tuple[str, ...] = ("a",), **kw: Any) -> list[dict]:
    return [node(f"n{i}", zones[i % len(zones)], **kw) for i in range(count)]


def moving_request() -> RecommendRequest:
    """Two Services that are even alone but overflow a node together: 3 nodes of 2 cpu (two 1-cpu Pods each), one
    zone; web: 2 replicas, running 1/1 on n0, n1; api: 4 replicas, running 2/2 on n1, n2 (n1 would need 3 cpu)."""
    goals = [
        {"plan": plan("web", replicas=2, cpu="1", placement={"n0": 1, "n1": 1})},
        {"plan": plan("api", replicas=4, cpu="1", placement={"n1": 2, "n2": 2})},
    ]
    return request(cluster(equal_nodes(3, cpu="2")), goals, includeManifests=False)


def more_replicas_request() -> RecommendRequest:
    """n0, n1 with 2 cpu, n2 with 3 cpu; Pods of 1 cpu. web: 3..4 replicas, running 2/2 on n0, n1. api: 3 replicas,
    only on n2 (nodeSelector), nothing running."""
    nodes = [node("n0", cpu="2"), node("n1", cpu="2"), node("n2", cpu="3", labels={"role": "api"})]
    goals = [
        {"plan": plan("web", replicas=3, cpu="1", placement={"n0": 2, "n1": 2}), "replicaRange": {"min": 3, "max": 4}},
        {"plan": plan("api", replicas=3, cpu="1", nodeSelector={"role": "api"})},
    ]
    return request(cluster(nodes), goals, includeManifests=False)


def drawn_nodes(draw, counts: tuple[int, int], cpus: tuple[int, int]) -> list[dict]:
    """Hypothesis: between ``counts`` nodes in zones a and b, each with a whole number of cpu in ``cpus``."""
    count = draw(st.integers(*counts))
    cpu = draw(st.lists(st.integers(*cpus), min_size=count, max_size=count))
    zones = draw(st.lists(st.sampled_from("ab"), min_size=count, max_size=count))
    return [node(f"n{i}", zones[i], cpu=str(cpu[i])) for i in range(count)]
