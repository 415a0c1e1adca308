"""ClusterIP traffic, topology hints, terminating fallback and session-affinity findings; expected numbers derived
by hand from traffic-semantics.md sections 2, 3.5, 4 and 8 (kube-proxy: pkg/proxy/topology.go)."""

from __future__ import annotations

import pytest
from engine_builders import make_input

from planner.domain.traffic import Callers, ClientPopulation, LoadBalancer
from planner.engine.evaluate import evaluate_input
from planner.engine.inputs import ServicePolicy
from planner.engine.results import Evaluation, PolicyResult

ITP_LOCAL = ServicePolicy(type="ClusterIP", internal_traffic_policy="Local")
ITP_CLUSTER = ServicePolicy(type="ClusterIP", internal_traffic_policy="Cluster")


def find(ev: Evaluation, **fields: object) -> PolicyResult:
    return next(p for p in ev.policies if all(getattr(p.policy, k) == v for k, v in fields.items()))


def test_itp_local_drops_callers_on_a_node_without_endpoints() -> None:
    # Callers: podsPerNode n0=1, n1=1, n2=2 -> shares 1/4, 1/4, 1/2 of 400/s = 100, 100, 200.
    # ITP Local: n0 and n1 serve locally; n2 has no endpoint -> its 200/s are dropped (1/2).
    callers = Callers(pods_per_node={"n0": 1, "n1": 1, "n2": 2})
    ev = evaluate_input(make_input([1, 1, 0], policy=ITP_LOCAL, internal=400, callers=callers))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.dropped_connections_per_second == pytest.approx([0, 0, 200])
    assert cur.summary.dropped_fraction == pytest.approx(0.5)
    assert cur.summary.client_ip_visible_fraction == 1.0  # Pod -> ClusterIP: Pod IP, no SNAT
    tp007 = next(f for f in ev.findings if f.id == "TP007")
    assert tp007.evidence["droppedCallerFraction"] == pytest.approx(0.5)
    assert tp007.fix is not None
    assert tp007.fix.replicas == {"n2": 1}
    # PreferSameNode instead: n2 has no local endpoint, falls back to its zone (all one zone): 1/2, 1/2.
    # n0: 100 + 100 = 200, n1: 200; nothing dropped.
    same_node = find(ev, internal_traffic_policy="Cluster", topology="PreferSameNode", session_affinity="None")
    assert same_node.summary.dropped_fraction == 0
    assert same_node.summary.hottest_pod_ratio == pytest.approx(1.0)
    assert same_node.summary.extra_hop_fraction == pytest.approx(0.5)  # only n2's 200 of 400 hop


def test_prefer_same_zone_with_a_zone_without_endpoints() -> None:
    # Zones: a = n0 (1 Pod), n1 (1 Pod); b = n2 (1 Pod); c = n3 (no Pod). Callers even: 1/4 each.
    # n0, n1 -> zone a Pods (1/2 each); n2 -> zone b's Pod; n3: its zone has no hinted endpoint -> all 3 Pods.
    # Per Pod: n0 = 1/8 + 1/8 + 1/12 = 1/3; n1 = 1/3; n2 = 1/4 + 1/12 = 1/3.
    # Extra hop: n0 and n1 forward half of 1/4 each (1/8 + 1/8), n3 forwards all 1/4 -> 1/2.
    policy = ServicePolicy(type="ClusterIP", traffic_distribution="PreferSameZone")
    ev = evaluate_input(make_input([1, 1, 1, 0], zones=["a", "a", "b", "c"], policy=policy, internal=1200))
    cur = ev.policies[0]
    assert cur.policy.topology == "PreferSameZone"
    assert cur.nodes is not None
    assert cur.nodes.per_pod_connections_per_second == pytest.approx([400, 400, 400, 0])
    assert cur.summary.extra_hop_fraction == pytest.approx(0.5)
    assert cur.topology.engaged is True
    assert cur.topology.engaged_node_fraction == pytest.approx(0.75)


def test_prefer_same_zone_ignored_when_an_endpoint_has_no_zone() -> None:
    # An endpoint on a node without a zone label gets no hint; one missing hint -> kube-proxy ignores all hints.
    # Uniform over the 2 Pods: n0 keeps 1/2 of its 1/2, n1 keeps 1/2 of its 1/2 -> extra hop 1/2.
    policy = ServicePolicy(type="ClusterIP", traffic_distribution="PreferSameZone")
    ev = evaluate_input(make_input([1, 1], zones=["a", None], policy=policy, internal=100))
    cur = ev.policies[0]
    assert cur.topology.engaged is False
    assert cur.summary.extra_hop_fraction == pytest.approx(0.5)
    assert "TP008" in {f.id for f in ev.findings}


def test_prefer_same_node_needs_the_gate_from_134() -> None:
    # 1.33: PreferSameTrafficDistribution is alpha (off): no node hints -> zone hints only, one zone -> uniform.
    policy = ServicePolicy(type="ClusterIP", traffic_distribution="PreferSameNode")
    on = evaluate_input(make_input([1, 1], policy=policy, internal=100, minor=35)).policies[0]
    off = evaluate_input(make_input([1, 1], policy=policy, internal=100, minor=33)).policies[0]
    assert on.summary.extra_hop_fraction == 0  # node mode everywhere: both nodes have a Pod
    assert off.summary.extra_hop_fraction == pytest.approx(0.5)


def test_terminating_fallback_under_local_and_cluster() -> None:
    # n0: no Ready Pod, 2 serving-terminating; n1: 1 Ready. Callers even (1/2 each).
    # ITP Local: n0 uses its terminating Pods (1/4 each); n1 its Ready Pod (1/2). Nothing dropped.
    ev = evaluate_input(make_input([0, 1], terminating=[2, 0], policy=ITP_LOCAL, internal=400))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.terminating_per_pod_connections_per_second == pytest.approx([100, 0])
    assert cur.nodes.per_pod_connections_per_second == pytest.approx([0, 200])
    assert cur.summary.dropped_fraction == 0
    # ITP Cluster: a Ready endpoint exists, so terminating ones get no new connections: n1's Pod takes all 400.
    cluster = find(ev, internal_traffic_policy="Cluster", topology="none", session_affinity="None")
    assert cluster.summary.hottest_pod_connections_per_second == pytest.approx(400)
    assert cluster.summary.served_connections_per_second == pytest.approx(400)
    # No Ready endpoint anywhere: Cluster falls back to every serving-terminating endpoint (3 -> 1/3 each).
    none_ready = evaluate_input(make_input([0, 0], terminating=[2, 1], policy=ITP_CLUSTER, internal=300))
    cur = none_ready.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.terminating_per_pod_connections_per_second == pytest.approx([100, 100])
    assert cur.summary.dropped_fraction == 0


def test_no_endpoints_at_all_is_rejected() -> None:
    ev = evaluate_input(make_input([0, 0], policy=ITP_CLUSTER, internal=10))
    cur = ev.policies[0]
    assert cur.summary.rejected is True
    assert cur.summary.dropped_fraction == 1.0
    assert "TP012" in {f.id for f in ev.findings}


def test_client_ip_affinity_behind_one_nat_address_is_flagged() -> None:
    # All 5000 clients behind one NAT address: ClientIP keys on it, so each node pins everything to one Pod.
    policy = ServicePolicy(
        type="LoadBalancer", external_traffic_policy="Cluster", session_affinity="ClientIP", timeout_seconds=10800
    )
    ev = evaluate_input(
        make_input([1, 1, 1], policy=policy, external=100, clients=ClientPopulation(count=5000, nat_addresses=1))
    )
    tp005 = next(f for f in ev.findings if f.id == "TP005")
    assert tp005.evidence == {"sourceAddresses": 1.0, "readyPods": 3.0}
    # A proxying LB collapses every client onto its own address too.
    proxied = evaluate_input(make_input([1, 1, 1], policy=policy, external=100, lb=LoadBalancer(client_ip="proxy")))
    assert "TP005" in {f.id for f in proxied.findings}


def test_affinity_on_headless_service_has_no_effect() -> None:
    policy = ServicePolicy(type="ClusterIP", headless=True, session_affinity="ClientIP", timeout_seconds=10800)
    ev = evaluate_input(make_input([1, 1], policy=policy, internal=10))
    assert len(ev.policies) == 1  # kube-proxy skips it: no policy alternatives
    assert "TP006" in {f.id for f in ev.findings}


def test_xt_recent_limit_and_timeout_range_findings() -> None:
    # 10,000 client IPs over 3 endpoints: ~3333 per endpoint per node > 100 xt_recent entries.
    policy = ServicePolicy(type="ClusterIP", session_affinity="ClientIP", timeout_seconds=86400)
    ev = evaluate_input(make_input([1, 1, 1], policy=policy, internal=10, clients=ClientPopulation(count=10_000)))
    ids = {f.id for f in ev.findings}
    assert {"TP010", "TP011"} <= ids
    nft = evaluate_input(
        make_input([1, 1, 1], policy=policy, internal=10, clients=ClientPopulation(count=10_000), data_plane="nftables")
    )
    assert "TP010" not in {f.id for f in nft.findings}
    ipvs = evaluate_input(make_input([1, 1, 1], policy=policy, internal=10, data_plane="ipvs"))
    assert "TP009" in {f.id for f in ipvs.findings}


def test_itp_local_drop_finding_uses_internal_numbers_only() -> None:
    # ETP Cluster external 600/s (never dropped: the Service has Pods) + ITP Local internal 400/s from callers on
    # every node (1/4 each = 100/s): n2 and n3 have no endpoint, so 200 of the 400 internal connections drop.
    # Internal dropped fraction 200 / 400 = 1/2; over all traffic it would be 200 / 1000 = 1/5.
    policy = ServicePolicy(type="LoadBalancer", external_traffic_policy="Cluster", internal_traffic_policy="Local")
    ev = evaluate_input(make_input([1, 1, 0, 0], policy=policy, external=600, internal=400))
    cur = ev.policies[0]
    assert cur.summary.dropped_fraction == pytest.approx(0.2)
    assert cur.summary.internal is not None
    assert cur.summary.internal.dropped_fraction == pytest.approx(0.5)
    assert cur.summary.external is not None
    assert cur.summary.external.dropped_fraction == 0
    tp007 = next(f for f in ev.findings if f.id == "TP007")
    assert tp007.evidence["droppedCallerFraction"] == pytest.approx(0.5)
    assert tp007.evidence["droppedConnectionsPerSecond"] == pytest.approx(200)
    assert tp007.fix is not None
    assert tp007.fix.replicas == {"n2": 1, "n3": 1}
