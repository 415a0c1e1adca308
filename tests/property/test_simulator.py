"""Independent check of the closed-form engine: a seeded connection-level simulator.

The simulator is written from traffic-semantics.md sections 2-5 without using any engine code: every new connection
picks an entry node the way the load balancer does (or a caller node), then an endpoint the way kube-proxy on that
node does (Local: a local Ready Pod or DROP; Cluster: uniform over Ready Pods, narrowed to the entry node's zone when
PreferSameZone hints engage), with ClientIP affinity state kept per (node, client). The empirical shares must match
the engine's expected shares.

Tolerance: with 20,000 connections a share p has standard error sqrt(p(1-p)/20000) <= 0.0036; affinity pins whole
clients (2,000 uniform clients) so per-Pod shares move in steps of ~1/2000 with standard error <= 0.011. We allow
0.03 absolute (about 3 standard errors for the affinity case, 8 without).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.domain.traffic import ClientPopulation, LoadBalancer
from planner.engine.evaluate import evaluate_input
from planner.engine.inputs import ServicePolicy
from tests.unit.engine.engine_builders import make_input

CONNECTIONS = 20_000
CLIENTS = 2_000
TOLERANCE = 0.03


def simulate(case: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    ready: list[int] = case["ready"]
    zones: list[str] = case["zones"]
    n = len(ready)
    pods = [(node, i) for node in range(n) for i in range(ready[node])]
    external = case["external"]
    policy = case["etp"] if external else case["itp"]
    model, cross_zone, health_check = case["model"], case["cross_zone"], case["health_check"]
    # --- entry node choice ----------------------------------------------------------------------------------------
    if external:
        targets = [m for m in range(n) if ready[m] > 0] if policy == "Local" and health_check else list(range(n))
        weight = {m: (ready[m] if model == "podWeighted" and policy == "Local" else 1) for m in targets}
        weight = {m: w for m, w in weight.items() if w > 0}
        by_zone: dict[str, list[int]] = {}
        for m in weight:
            by_zone.setdefault(zones[m], []).append(m)
    served = [0] * n
    dropped = hops = 0
    pins: dict[tuple[int, int], tuple[int, int]] = {}

    def pick_entry(client: int) -> int | None:
        if not external:
            return rng.randrange(n)  # callers evenly on every node
        if not weight:
            return None
        candidates = list(weight) if cross_zone else by_zone[rng.choice(sorted(by_zone))]
        return rng.choices(candidates, weights=[weight[m] for m in candidates])[0]

    def candidates_at(node: int) -> list[tuple[int, int]]:
        if policy == "Local":
            return [p for p in pods if p[0] == node]
        if case["topology"] == "PreferSameZone":
            same = [p for p in pods if zones[p[0]] == zones[node]]
            if same:  # every endpoint has a zone here; the entry node's zone has a hinted endpoint
                return same
        return pods

    for _ in range(CONNECTIONS):
        client = rng.randrange(CLIENTS)
        node = pick_entry(client)
        if node is None:
            dropped += 1
            continue
        usable = candidates_at(node)
        if not usable:
            dropped += 1
            continue
        pod = pins.get((node, client)) if case["affinity"] else None
        if pod is None or pod not in usable:
            pod = rng.choice(usable)
            if case["affinity"]:
                pins[(node, client)] = pod
        served[pod[0]] += 1
        hops += pod[0] != node
    total_served = sum(served)
    return {
        "served": [s / CONNECTIONS for s in served],
        "dropped": dropped / CONNECTIONS,
        "extra_hop": hops / total_served if total_served else 0.0,
    }


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=2, max_value=5))
    ready = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=n, max_size=n))
    if sum(ready) == 0:
        ready[draw(st.integers(min_value=0, max_value=n - 1))] = 1
    return {
        "ready": ready,
        "zones": draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)),
        "external": draw(st.booleans()),
        "etp": draw(st.sampled_from(["Cluster", "Local"])),
        "itp": draw(st.sampled_from(["Cluster", "Local"])),
        "model": draw(st.sampled_from(["nodeEqual", "podWeighted"])),
        "cross_zone": draw(st.booleans()),
        "health_check": draw(st.booleans()),
        "topology": draw(st.sampled_from(["none", "PreferSameZone"])),
        "affinity": draw(st.booleans()),
    }


def engine(case: dict[str, Any]) -> dict[str, Any]:
    policy = ServicePolicy(
        type="LoadBalancer",
        external_traffic_policy=case["etp"],
        internal_traffic_policy=case["itp"],
        session_affinity="ClientIP" if case["affinity"] else "None",
        timeout_seconds=10800 if case["affinity"] else None,
        traffic_distribution="PreferSameZone" if case["topology"] == "PreferSameZone" else None,
    )
    lb = LoadBalancer(model=case["model"], cross_zone=case["cross_zone"], health_check=case["health_check"])
    inp = make_input(
        case["ready"],
        zones=case["zones"],
        policy=policy,
        external=1.0 if case["external"] else None,
        internal=None if case["external"] else 1.0,
        lb=lb,
        clients=ClientPopulation(count=CLIENTS),
    )
    current = evaluate_input(inp).policies[0]
    assert current.nodes is not None
    return {
        "served": current.nodes.served_connections_per_second,
        "dropped": current.summary.dropped_fraction,
        "extra_hop": current.summary.extra_hop_fraction,
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), seed=st.integers(min_value=0, max_value=2**31))
def test_simulator_agrees_with_engine(case: dict[str, Any], seed: int) -> None:
    expected = engine(case)
    observed = simulate(case, seed)
    assert np.allclose(observed["served"], expected["served"], atol=TOLERANCE), (observed, expected)
    assert abs(observed["dropped"] - expected["dropped"]) <= TOLERANCE
    assert abs(observed["extra_hop"] - expected["extra_hop"]) <= TOLERANCE


def test_simulator_matches_the_25_25_50_example() -> None:
    # Sanity of the simulator itself on the documented MetalLB BGP example: 2 Pods on A, 1 on B, Local, nodeEqual.
    case = {
        "ready": [2, 1, 0],
        "zones": ["a", "a", "a"],
        "external": True,
        "etp": "Local",
        "itp": "Cluster",
        "model": "nodeEqual",
        "cross_zone": True,
        "health_check": True,
        "topology": "none",
        "affinity": False,
    }
    observed = simulate(case, seed=7)
    assert np.allclose(observed["served"], [0.5, 0.5, 0.0], atol=0.02)
