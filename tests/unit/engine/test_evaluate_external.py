"""External traffic through the LB and kube-proxy; expected numbers derived by hand from traffic-semantics.md
sections 3, 5 and 8 (arithmetic in the comments)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from engine_builders import make_input

from planner.domain.traffic import LoadBalancer, Requirements
from planner.engine.evaluate import evaluate_input
from planner.engine.inputs import ServicePolicy
from planner.engine.results import PolicyResult

LOCAL = ServicePolicy(type="LoadBalancer", external_traffic_policy="Local")
CLUSTER = ServicePolicy(type="LoadBalancer", external_traffic_policy="Cluster")


def per_pod(result: PolicyResult) -> list[float]:
    assert result.nodes is not None
    return result.nodes.per_pod_connections_per_second


def finding_ids(evaluation: object) -> set[str]:
    return {f.id for f in evaluation.findings}  # type: ignore[attr-defined]


def test_local_one_pod_on_one_of_three_nodes_with_health_checks() -> None:
    # Only n0 answers 200 on healthCheckNodePort, so the LB sends all 300/s there; its single Pod serves all.
    ev = evaluate_input(make_input([1, 0, 0], policy=LOCAL, external=300, lb=LoadBalancer(health_check=True)))
    cur = ev.policies[0]
    assert cur.current
    assert cur.policy.external_traffic_policy == "Local"
    assert cur.nodes is not None
    assert cur.nodes.received_connections_per_second == pytest.approx([300, 0, 0])
    assert per_pod(cur) == pytest.approx([300, 0, 0])
    assert cur.summary.dropped_fraction == 0
    assert cur.summary.hottest_pod_ratio == pytest.approx(1.0)
    assert cur.summary.client_ip_visible_fraction == 1.0


def test_local_one_pod_on_one_of_three_nodes_without_health_checks_drops_two_thirds() -> None:
    # The LB keeps all three nodes: 100/s each. n1 and n2 have no local endpoint: DROP (not reject) -> 200/s lost.
    ev = evaluate_input(make_input([1, 0, 0], policy=LOCAL, external=300, lb=LoadBalancer(health_check=False)))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.dropped_connections_per_second == pytest.approx([0, 100, 100])
    assert cur.summary.dropped_fraction == pytest.approx(2 / 3)
    assert cur.summary.rejected is False
    assert per_pod(cur) == pytest.approx([100, 0, 0])
    tp002 = next(f for f in ev.findings if f.id == "TP002")
    assert tp002.severity == "error"
    assert "DROP" in tp002.message
    assert tp002.evidence["droppedFraction"] == pytest.approx(2 / 3)


def test_local_two_plus_one_node_equal_is_25_25_50() -> None:
    # nodeEqual over the 2 healthy nodes: 1/2 each. n0: 1/2 over 2 Pods = 1/4 each; n1: 1/2 for its one Pod.
    # Mean per Pod = 1/3, hottest 1/2 -> ratio 1.5.
    ev = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=400))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.per_pod_share == pytest.approx([0.25, 0.5, 0])
    assert cur.summary.hottest_pod_ratio == pytest.approx(1.5)
    assert cur.summary.extra_hop_fraction == 0
    tp001 = next(f for f in ev.findings if f.id == "TP001")
    # The same 3 replicas one per node on the 3 up nodes (3 = 3 x 1; the largest divisor of 3 not above 3 nodes):
    # every node 1/3 of the LB traffic, every Pod 1/3. The message also names the proportional alternative:
    # Pods proportional to the LB's per-node share (1/2, 1/2) with at least the 3 Pods there are: 2 and 2.
    assert tp001.fix is not None
    assert tp001.fix.replicas == {"n0": 1, "n1": 1, "n2": 1}
    assert "{'n0': 2, 'n1': 2}" in tp001.message
    # With n2 cordoned only two nodes can take Pods and 3 has no divisor 2: the proportional 2 + 2 remains.
    cordoned = make_input([2, 1, 0], policy=LOCAL, external=400)
    cordoned = msgspec.structs.replace(cordoned, node_schedulable=np.array([True, True, False]))
    tp001 = next(f for f in evaluate_input(cordoned).findings if f.id == "TP001")
    assert tp001.fix is not None
    assert tp001.fix.replicas == {"n0": 2, "n1": 2}


def test_local_two_plus_one_pod_weighted_is_a_third_each() -> None:
    # GKE weighted LB: node weight = local Ready Pods -> n0 2/3, n1 1/3; per Pod 1/3 each.
    ev = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=300, lb=LoadBalancer(model="podWeighted")))
    cur = ev.policies[0]
    assert per_pod(cur) == pytest.approx([100, 100, 0])
    assert cur.summary.hottest_pod_ratio == pytest.approx(1.0)
    assert "TP001" not in finding_ids(ev)


def test_cluster_two_plus_one_is_a_third_each_with_two_thirds_extra_hop() -> None:
    # Cluster: all three nodes get 1/3 from the LB; each node picks uniformly over the 3 Pods -> 1/3 per Pod.
    # Extra hop: n0 keeps 2/3 of its traffic (hops 1/3), n1 keeps 1/3 (hops 2/3), n2 hops all:
    # (1/3 + 2/3 + 1) / 3 = 2/3.
    ev = evaluate_input(make_input([2, 1, 0], policy=CLUSTER, external=300))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.received_connections_per_second == pytest.approx([100, 100, 100])
    assert cur.nodes.forwarded_connections_per_second == pytest.approx([100 / 3, 200 / 3, 100])
    assert per_pod(cur) == pytest.approx([100, 100, 0])
    assert cur.summary.extra_hop_fraction == pytest.approx(2 / 3)
    # kube-proxy masquerades external traffic under Cluster even for the local endpoint.
    assert cur.summary.client_ip_visible_fraction == 0.0
    assert cur.summary.client_ip.in_cluster_cluster_ip == 1.0


def test_cross_zone_off_with_unequal_zones() -> None:
    # Zone a has n0, n1; zone b has n2; one Pod each, ETP Local, nodeEqual, cross-zone off:
    # each zone gets 1/2; zone a splits it over 2 nodes -> 1/4, 1/4; zone b's only node gets 1/2.
    # Mean 1/3 -> hottest ratio (1/2)/(1/3) = 1.5.
    ev = evaluate_input(
        make_input([1, 1, 1], zones=["a", "a", "b"], policy=LOCAL, external=400, lb=LoadBalancer(cross_zone=False))
    )
    cur = ev.policies[0]
    assert per_pod(cur) == pytest.approx([100, 100, 200])
    assert cur.summary.hottest_pod_ratio == pytest.approx(1.5)
    tp001 = next(f for f in ev.findings if f.id == "TP001")
    # Even per Pod needs Pods proportional to 1/4 : 1/4 : 1/2 with >= 3 Pods in all: 1, 1, 2.
    assert tp001.fix is not None
    assert tp001.fix.replicas == {"n0": 1, "n1": 1, "n2": 2}


def test_ip_targets_cross_zone_off_split_per_zone_then_per_pod() -> None:
    # NLB IP targets: zone a (n0: 2 Pods, n1: 1 Pod) gets 1/2 over its 3 Pods = 1/6 each; zone b (n2: 1 Pod) 1/2.
    # No kube-proxy: no extra hop; IP targets hide the client IP unless preserve_client_ip is on.
    lb = LoadBalancer(model="ipTargets", cross_zone=False)
    ev = evaluate_input(make_input([2, 1, 1], zones=["a", "a", "b"], policy=CLUSTER, external=600, lb=lb))
    cur = ev.policies[0]
    assert per_pod(cur) == pytest.approx([100, 100, 300])
    assert cur.summary.extra_hop_fraction == 0
    assert cur.summary.client_ip_visible_fraction == 0.0
    # ETP does not matter: the Local alternative gives the same loads.
    local = next(p for p in ev.policies if p.policy.external_traffic_policy == "Local" and p.policy.topology == "none")
    assert local.summary.hottest_pod_ratio == pytest.approx(cur.summary.hottest_pod_ratio)
    preserved = evaluate_input(
        make_input([2, 1, 1], policy=CLUSTER, external=600, lb=LoadBalancer(model="ipTargets", preserve_client_ip=True))
    )
    assert preserved.policies[0].summary.client_ip_visible_fraction == 1.0


def test_l2_leader_local_worst_case_is_the_node_with_fewest_pods() -> None:
    # MetalLB L2 + Local: leader elected among nodes with Ready Pods; unknown hash -> worst case n1 (1 Pod).
    # n1's Pod takes all 300/s; mean over 3 Pods is 100 -> ratio 3.
    lb = LoadBalancer(model="l2Leader", provider="metallb")
    ev = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=300, lb=lb))
    cur = ev.policies[0]
    assert per_pod(cur) == pytest.approx([0, 300, 0])
    assert cur.summary.hottest_pod_ratio == pytest.approx(3.0)
    assert "TP003" in finding_ids(ev)
    # Under Cluster the leader (worst: fewest Pods among all nodes = n2) spreads over all 3 Pods -> even.
    cluster = next(
        p for p in ev.policies if p.policy.external_traffic_policy == "Cluster" and p.policy.topology == "none"
    )
    assert cluster.summary.hottest_pod_ratio == pytest.approx(1.0)
    assert cluster.summary.extra_hop_fraction == pytest.approx(1.0)


def test_cilium_dsr_keeps_client_ip_under_cluster_and_snat_only_for_remote_backends() -> None:
    dsr = evaluate_input(make_input([2, 1, 0], policy=CLUSTER, external=300, data_plane="ciliumDSR"))
    assert dsr.policies[0].summary.client_ip_visible_fraction == 1.0
    # Cilium SNAT mode only SNATs when the backend is remote: visible = 1 - extra hop = 1/3.
    snat = evaluate_input(make_input([2, 1, 0], policy=CLUSTER, external=300, data_plane="ciliumSNAT"))
    assert snat.policies[0].summary.client_ip_visible_fraction == pytest.approx(1 / 3)


def test_proxying_lb_hides_client_ip_even_under_local_and_proxy_protocol_is_reported() -> None:
    ev = evaluate_input(make_input([1, 1], policy=LOCAL, external=10, lb=LoadBalancer(client_ip="proxy")))
    assert ev.policies[0].summary.client_ip_visible_fraction == 0.0
    pp = evaluate_input(make_input([1, 1], policy=LOCAL, external=10, lb=LoadBalancer(client_ip="proxyProtocol")))
    assert pp.policies[0].summary.client_ip.in_proxy_protocol_header is True


def test_client_ip_required_fails_under_cluster_with_finding_and_local_passes() -> None:
    req = Requirements(client_ip_required=True, max_hottest_pod_ratio=1.2)
    ev = evaluate_input(make_input([2, 1, 0], policy=CLUSTER, external=300, requirements=req))
    assert ev.verdict == "fail"
    assert any("client IP visible on 0%" in f for f in ev.failures)
    tp004 = next(f for f in ev.findings if f.id == "TP004")
    assert tp004.fix is not None
    assert (tp004.fix.field, tp004.fix.value) == ("spec.externalTrafficPolicy", "Local")
    # Local keeps the client IP but 25/25/50 breaks the 1.2x limit: fails on the ratio only.
    local = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=300, requirements=req))
    assert local.verdict == "fail"
    assert local.failures == ["hottest Pod 1.50x mean > 1.20x"]
    even = evaluate_input(make_input([1, 1, 0], policy=LOCAL, external=300, requirements=req))
    assert even.verdict == "pass"


def test_failure_of_busiest_node_loses_rate_times_share_times_detection() -> None:
    # GKE Local health check: 3 s x 2 = 6 s. 2+1 Pods, nodeEqual: n0 and n1 each get 1/2 of 300/s.
    # Worst node (largest inflow, ties by order) n0: 150/s x 6 s = 900 connections lost.
    # Survivors: n1's single Pod takes everything; the only Pod left -> ratio 1.
    lb = LoadBalancer(provider="gke")
    ev = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=300, lb=lb))
    failure = ev.policies[0].failure
    assert failure is not None
    assert failure.node == "n0"
    assert failure.detection_seconds == 6.0
    assert failure.connections_lost_during_detection == pytest.approx(900)
    assert failure.survivors_hottest_pod_ratio == pytest.approx(1.0)
    # Drain: the terminating Pods keep serving n0's share during detection -> 900 served, none dropped.
    assert failure.drain_connections_served_by_terminating == pytest.approx(900)
    assert failure.drain_dropped_connections_per_second == 0
    # Cluster alternative: GKE's kube-proxy /healthz check takes 8 s x 3 = 24 s; each node 1/3 -> 100/s x 24.
    cluster = next(p for p in ev.policies if p.policy.external_traffic_policy == "Cluster")
    assert cluster.failure is not None
    assert cluster.failure.connections_lost_during_detection == pytest.approx(2400)


def test_matrix_has_every_alternative_once_with_current_first() -> None:
    # Externally accessible on 1.35: ETP 2 x ITP 2 x affinity 2 x topology (none, PreferSameZone, PreferSameNode,
    # Auto) 4 = 32 policies.
    ev = evaluate_input(make_input([1, 1, 1], policy=LOCAL, external=1))
    assert len(ev.policies) == 32
    assert len({msgspec.json.encode(p.policy) for p in ev.policies}) == 32
    assert [p.current for p in ev.policies].count(True) == 1
    assert ev.policies[0].current
    # 1.31: only PreferClose exists besides Auto -> 2 x 2 x 2 x 3 = 24.
    old = evaluate_input(make_input([1, 1, 1], policy=LOCAL, external=1, minor=31))
    assert len(old.policies) == 24
    assert {p.policy.topology for p in old.policies} == {"none", "PreferClose", "Auto"}


def test_result_encodes_with_camel_case_fields() -> None:
    ev = evaluate_input(make_input([2, 1, 0], policy=LOCAL, external=300))
    data = msgspec.json.decode(msgspec.json.encode(ev))
    assert data["verdict"] == "pass"
    first = data["policies"][0]
    assert first["summary"]["hottestPodRatio"] == pytest.approx(1.5)
    assert first["policy"]["externalTrafficPolicy"] == "Local"
    assert first["nodes"]["perPodConnectionsPerSecond"] == pytest.approx([75, 150, 0])
    assert data["policies"][1]["nodes"] is None


def test_shares_are_fractions_of_offered_traffic_so_shares_plus_dropped_is_one() -> None:
    # Local without health checks, one Pod on n0 of three nodes: the LB sends 1/3 of 300/s to each node, n1 and n2
    # DROP theirs. The Pod serves 100 of the 300 offered: share 100 / 300 = 1/3; dropped 200 / 300 = 2/3.
    ev = evaluate_input(make_input([1, 0, 0], policy=LOCAL, external=300, lb=LoadBalancer(health_check=False)))
    cur = ev.policies[0]
    assert cur.nodes is not None
    assert cur.nodes.per_pod_share == pytest.approx([1 / 3, 0, 0])
    assert cur.summary.hottest_pod_share == pytest.approx(1 / 3)
    # 1 Pod x 1/3 + dropped 2/3 = 1.
    assert sum(s * k for s, k in zip(cur.nodes.per_pod_share, cur.nodes.ready_pods, strict=True)) + (
        cur.summary.dropped_fraction
    ) == pytest.approx(1.0)
    ext = cur.summary.external
    assert ext is not None
    assert (ext.hottest_pod_share, ext.mean_pod_share, ext.coldest_pod_share) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert cur.summary.internal is None  # no internal traffic in the profile


def test_per_path_summaries_keep_external_and_internal_apart() -> None:
    # ETP Local + ITP Cluster, nodeEqual with health checks, Pods 2 + 1 + 0, external 400/s, internal 300/s from
    # callers on every node (100/s each).
    # External: n0 and n1 get 200/s each -> n0's Pods 100 each, n1's Pod 200: ratio 200 / (400/3) = 1.5, no hop.
    # Internal (Cluster): 1/3 per Pod = 100/s each, ratio 1; hop: n0 keeps 2/3 of 100, n1 1/3, n2 none:
    # forwarded 100/3 + 200/3 + 100 = 200 of 300 -> 2/3.
    # All traffic: Pods 200, 200, 300 of 700 -> ratio 300 / (700/3) = 9/7; hop 200 / 700 = 2/7.
    policy = ServicePolicy(type="LoadBalancer", external_traffic_policy="Local", internal_traffic_policy="Cluster")
    ev = evaluate_input(make_input([2, 1, 0], policy=policy, external=400, internal=300))
    cur = ev.policies[0]
    ext, internal = cur.summary.external, cur.summary.internal
    assert ext is not None
    assert internal is not None
    assert ext.hottest_pod_ratio == pytest.approx(1.5)
    assert ext.extra_hop_fraction == 0
    assert ext.hottest_pod_connections_per_second == pytest.approx(200)
    assert ext.hottest_pod_share == pytest.approx(0.5)  # 200 of 400 offered
    assert ext.client_ip_visible_fraction == 1.0  # ETP Local, passthrough LB
    assert internal.hottest_pod_ratio == pytest.approx(1.0)
    assert internal.extra_hop_fraction == pytest.approx(2 / 3)
    assert internal.offered_connections_per_second == pytest.approx(300)
    assert internal.client_ip_visible_fraction == 1.0  # Pod -> ClusterIP sees the Pod IP
    assert cur.summary.hottest_pod_ratio == pytest.approx(9 / 7)
    assert cur.summary.extra_hop_fraction == pytest.approx(2 / 7)
    assert cur.nodes is not None
    assert cur.nodes.external_per_pod_connections_per_second == pytest.approx([100, 200, 0])
    assert cur.nodes.internal_per_pod_connections_per_second == pytest.approx([100, 100, 0])
    # TP001 talks about external traffic: its evidence is the external 1.5x, not the combined 9/7.
    tp001 = next(f for f in ev.findings if f.id == "TP001")
    assert tp001.evidence["hottestPodRatio"] == pytest.approx(1.5)


def test_kubernetes_acronyms_in_json_keys() -> None:
    ev = evaluate_input(make_input([1, 1], policy=CLUSTER, external=10, internal=10))
    data = msgspec.json.decode(msgspec.json.encode(ev))
    summary = data["policies"][0]["summary"]
    assert set(summary["clientIP"]) == {
        "loadBalancer",
        "nodePort",
        "externalIP",
        "inClusterClusterIP",
        "inClusterLoadBalancerIP",
        "inProxyProtocolHeader",
    }
    assert "clientIPVisibleFraction" in summary
    assert "clientIPVisibleFraction" in summary["external"]
    encoded = msgspec.json.encode(ev).decode()
    assert 'Ip"' not in encoded
    assert 'Ips"' not in encoded


def test_summary_says_when_the_more_even_policy_loses_the_client_ip() -> None:
    # 2 + 1 Pods under Local: 1.5x (see above). Cluster evens it to 1.0x but masquerades external traffic, so
    # with clientIP required the summary must not offer it as a plain improvement.
    ev = evaluate_input(
        make_input([2, 1, 0], policy=LOCAL, external=300, requirements=Requirements(client_ip_required=True))
    )
    assert "More even (but the client IP is lost): externalTrafficPolicy=Cluster" in ev.summary
