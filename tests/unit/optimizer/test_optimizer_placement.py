"""Hand-derived placements under ETP Local behind an equal-per-node load balancer.

Model (traffic-semantics.md section 8, "External, ETP Local"): a Pod on node n gets 1/(K x_n) of the traffic,
K = nodes with ready Pods, x_n = Pods on node n; the mean Pod share is 1/N; the hottest ratio is N / (K min x_n).
"""

from __future__ import annotations

import msgspec
import pytest
from optimizer_builders import cluster, equal_nodes, node, plan, request

from planner.domain.documents import Cluster, ServicePlan
from planner.engine.evaluate import evaluate_plan
from planner.optimizer import recommend


def _one(req):
    result = recommend(req)
    return result, result.services[0]


def test_ten_replicas_on_three_equal_nodes_go_five_five():
    # 5/5/0: K = 2, every Pod gets 1/(2*5) = 1/10 = the mean 1/10 -> ratio 1.0.
    # 4/3/3 would give the lone Pods 1/(3*3) = 1/9 -> ratio (1/9)/(1/10) = 10/9.
    # 10/0/0 is just as even (1/10 each) but spread (stage 4) prefers two nodes.
    result, svc = _one(request(cluster(equal_nodes(3)), [{"plan": plan(replicas=10)}]))
    assert sorted(svc.pods_per_node.values()) == [5, 5]
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert svc.solver_hottest_pod_ratio == pytest.approx(1.0)
    assert result.status == "optimal"
    assert result.certificate is not None
    # the default scheduler's 4/3/3 is 10/9 hot; the plan reports it as an improvement of 10/9
    default = next(b for b in svc.baselines if b.name == "defaultScheduler")
    assert sorted(default.pods_per_node.values()) == [3, 3, 4]
    assert default.quality.hottest_pod_ratio == pytest.approx(10 / 9)
    assert default.hottest_ratio_improvement == pytest.approx(10 / 9)


def test_three_nodes_required_gives_four_three_three():
    # all three nodes must be used: K = 3, best min is floor(10/3) = 3 -> 4/3/3, hottest Pod 1/(3*3) = 1/9,
    # ratio (1/9)/(1/10) = 10/9.
    req = request(cluster(equal_nodes(3)), [{"plan": plan(replicas=10), "highAvailability": {"minNodes": 3}}])
    _, svc = _one(req)
    assert sorted(svc.pods_per_node.values()) == [3, 3, 4]
    assert svc.quality.hottest_pod_ratio == pytest.approx(10 / 9)
    assert svc.solver_hottest_pod_ratio == pytest.approx(10 / 9)


def test_replica_range_picks_nine_as_three_three_three():
    # range 9..12 on 3 required nodes: 9 = 3/3/3 and 12 = 4/4/4 are both perfectly even (ratio 1); fewest
    # replicas (stage 2) picks 9. 10 and 11 give 10/9 and 11/9.
    req = request(
        cluster(equal_nodes(3)),
        [{"plan": plan(replicas=10), "replicaRange": {"min": 9, "max": 12}, "highAvailability": {"minNodes": 3}}],
    )
    result, svc = _one(req)
    assert svc.pods_per_node == {"n0": 3, "n1": 3, "n2": 3}
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    replicas_stage = next(s for s in result.stages if s.term == "replicas")
    assert replicas_stage.status == "optimal"
    assert replicas_stage.objective == 9


def test_per_pod_capacity_below_t_over_nine_forces_twelve():
    # T = 1000 conn/s, one Pod serves 100 < 1000/9 = 111.1. 3/3/3 gives every Pod 1000/9 = 111 > 100 (no).
    # 10 (4/3/3) and 11 (4/4/3) leave Pods with 1000/9; 12 = 4/4/4 gives 1000/12 = 83.3 <= 100 -> 12.
    req = request(
        cluster(equal_nodes(3)),
        [
            {
                "plan": plan(replicas=10, rate=1000),
                "replicaRange": {"min": 9, "max": 12},
                "highAvailability": {"minNodes": 3},
                "podCapacityConnectionsPerSecond": 100,
            }
        ],
    )
    _, svc = _one(req)
    assert svc.pods_per_node == {"n0": 4, "n1": 4, "n2": 4}
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)


def test_node_that_fits_one_pod():
    # 6 replicas of 1 cpu; n0 has 1 cpu free (fits 1 Pod), n1 and n2 have 8. Using n0 puts a lone Pod there:
    # 1/5/0... best with n0 is x = (1, ., .): min 1 -> ratio 6/(K*1) >= 6/3 = 2. Without n0: 3/3 on n1, n2 ->
    # K = 2, m = 3, ratio 6/6 = 1.
    nodes = [node("n0", cpu="1"), node("n1"), node("n2")]
    _, svc = _one(request(cluster(nodes), [{"plan": plan(replicas=6, cpu="1")}]))
    assert svc.pods_per_node == {"n1": 3, "n2": 3}
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    # with three nodes required n0 must take exactly 1 Pod: 1/3/2 or 1/2/3 -> K = 3, m = 1, ratio 6/3 = 2
    req = request(cluster(nodes), [{"plan": plan(replicas=6, cpu="1"), "highAvailability": {"minNodes": 3}}])
    _, svc = _one(req)
    assert svc.pods_per_node["n0"] == 1
    assert svc.quality.hottest_pod_ratio == pytest.approx(2.0)


def test_cross_zone_off_zones_of_two_and_four_nodes():
    # Cross-zone off: each zone with Pods gets 1/2; a Pod gets 1/(2 K_z x_n). 6 replicas, zone a has 2 nodes,
    # zone b has 4, both zones required. Even means every Pod 1/6, i.e. K_z x_n = 3 in both zones:
    # zone a: one node with 3 Pods (K_a = 1, x = 3); zone b: 3 nodes with 1 Pod or 1 node with 3 Pods.
    # Spread (stage 4) prefers more nodes: zone b uses 3 nodes x 1. Ratio 1.0.
    nodes = [node("a0", "a"), node("a1", "a"), *[node(f"b{i}", "b") for i in range(4)]]
    lb = {"model": "nodeEqual", "crossZone": False}
    req = request(cluster(nodes), [{"plan": plan(replicas=6, lb=lb), "highAvailability": {"minZones": 2}}])
    _, svc = _one(req)
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    in_a = {k: v for k, v in svc.pods_per_node.items() if k.startswith("a")}
    in_b = {k: v for k, v in svc.pods_per_node.items() if k.startswith("b")}
    assert sorted(in_a.values()) == [3]
    assert sorted(in_b.values()) == [1, 1, 1]
    # the even-per-node scheduler spread (maxSkew 1 over all 6 nodes) puts 1 Pod per node: zone a Pods get
    # 1/(2*2*1) = 1/4, zone b Pods 1/(2*4*1) = 1/8; ratio (1/4)/(1/6) = 1.5.
    skew = next(b for b in svc.baselines if b.name == "spreadMaxSkew1")
    assert skew.quality.hottest_pod_ratio == pytest.approx(1.5)
    # maxSkew 1 over the chosen 4 nodes would give 2/2/1/1, so the manifests say they do not pin the plan
    assert svc.manifests is not None
    assert not svc.manifests.reproduces_plan


def test_cross_zone_off_leaves_out_a_zone_that_cannot_match_the_others():
    # Cross-zone off: a Pod gets 1/(Z K_z x_n); the ratio is N / (Z Q), Q = min over used zones of K_z m_z.
    # Room (1 cpu per Pod): zone a two nodes of 4, zone b one node of 2, zone c one node of 1; 4..8 replicas,
    # at least 2 zones. With c: Q <= 1 (one node, one Pod), so N / (3 * 1) >= 4/3. Without c: Q <= K_b m_b <= 2,
    # and N = 4 gives 4 / (2 * 2) = 1.0: b1 = 2 and zone a 2 Pods with K_a m_a = 2 (two nodes x 1 for spread).
    # Every Pod then gets 1/(2*1*2) = 1/(2*2*1) = 1/4 = the mean 1/4.
    nodes = [node("a1", "a", cpu="4"), node("a2", "a", cpu="4"), node("b1", "b", cpu="2"), node("c1", "c", cpu="1")]
    lb = {"model": "nodeEqual", "crossZone": False}
    goal = {
        "plan": plan(replicas=4, cpu="1", lb=lb),
        "replicaRange": {"min": 4, "max": 8},
        "highAvailability": {"minZones": 2},
    }
    result, svc = _one(request(cluster(nodes), [goal]))
    assert result.status == "optimal"
    assert svc.pods_per_node == {"a1": 1, "a2": 1, "b1": 2}
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert svc.solver_hottest_pod_ratio == pytest.approx(1.0)


def test_cross_zone_off_even_needs_a_multiple_of_the_zone_count_and_is_proven():
    # Cross-zone off over 3 required zones: N / (3 Q) with 3 Q <= the sum of the zones' Pods = N, so ratio 1.0
    # needs every zone at K_z m_z = N / 3, i.e. N a multiple of 3; in the range 4..8 that is 6 (4, 5, 7, 8 cannot
    # be even). Spread then takes 2 nodes x 1 Pod per zone (K_z m_z = 2) over 1 node x 2. Every stage is proven.
    nodes = [node(f"{z}{i}", z) for z in "abc" for i in range(3)]
    lb = {"model": "nodeEqual", "crossZone": False}
    goal = {
        "plan": plan(replicas=4, lb=lb),
        "replicaRange": {"min": 4, "max": 8},
        "highAvailability": {"minZones": 3},
    }
    result, svc = _one(request(cluster(nodes), [goal]))
    assert result.status == "optimal"
    assert all(st.status in {"optimal", "skipped"} for st in result.stages)
    assert svc.replicas == 6
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    per_zone = {z: sorted(v for k, v in svc.pods_per_node.items() if k.startswith(z)) for z in "abc"}
    assert per_zone == {"a": [1, 1], "b": [1, 1], "c": [1, 1]}


def test_cluster_policy_placement_cannot_help():
    # ETP Cluster: every node spreads over all N Pods, each Pod 1/N whatever the placement -> ratio 1 always.
    _, svc = _one(request(cluster(equal_nodes(3)), [{"plan": plan(replicas=10, etp="Cluster")}]))
    assert svc.balance_model == "uniform"
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert any("placement cannot improve balance" in n or "whatever" in n for n in svc.notes)


def test_l2_leader_recommends_policy_change():
    lb = {"model": "l2Leader"}
    _, svc = _one(request(cluster(equal_nodes(3)), [{"plan": plan(replicas=6, lb=lb)}]))
    assert svc.balance_model == "leader"
    assert svc.policy_recommendation is not None
    assert "externalTrafficPolicy: Cluster" in svc.policy_recommendation
    assert svc.manifests is not None
    assert "externalTrafficPolicy: Cluster" in svc.manifests.yaml


def test_fewest_moves_keeps_current_nodes():
    # 4 equal nodes, 6 replicas running as n2=3, n3=3. The balance optimum (ratio 1) has many shapes
    # (6 on one node, 3/3 on any two, 2/2/2 on any three, 1/1/1/1/1/1 impossible with 4 nodes). Spread would pick
    # 2/2/2 but moves come first: 3/3 on n2, n3 needs 0 moves, any 2/2/2 needs at least 2 new Pods.
    req = request(cluster(equal_nodes(4)), [{"plan": plan(replicas=6, placement={"n2": 3, "n3": 3})}])
    result, svc = _one(req)
    assert svc.pods_per_node == {"n2": 3, "n3": 3}
    moves = next(s for s in result.stages if s.term == "moves")
    assert moves.objective == 0
    current = next(b for b in svc.baselines if b.name == "current")
    assert current.hottest_ratio_improvement == pytest.approx(1.0)


def test_spread_first_when_reordered():
    # Same input, order spread before moves: zones x (nodes+1) + nodes is maximised first -> 2/2/2 on three nodes.
    req = request(
        cluster(equal_nodes(4)),
        [{"plan": plan(replicas=6, placement={"n2": 3, "n3": 3})}],
        objective={"order": ["balance", "spread", "moves"]},
    )
    _, svc = _one(req)
    assert sorted(svc.pods_per_node.values()) == [2, 2, 2]


def test_anti_affinity_means_one_per_node():
    pod = {
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    }
    # 3 replicas, one per node on 5 nodes: 1/1/1 -> ratio 1; a 4th replica would not fit on 3... (range 3..3)
    _, svc = _one(request(cluster(equal_nodes(5)), [{"plan": plan(replicas=3, **pod)}]))
    assert max(svc.pods_per_node.values()) == 1
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)


def test_node_loss_bound():
    # 12 replicas on 4 nodes, N-1 bound 1.2. 6/6 on two nodes: losing one leaves 6 Pods on 1 node -> ratio 1 but
    # survivors...: (N - m)/((K-1) m) = 6/6 = 1 <= 1.2 and no drop (K >= 2). Spread makes it 3/3/3/3 anyway:
    # losing one -> 9 Pods on 3 nodes of 3 -> 1.0. Now force K >= 2 bound with a tight 1.0 on 10 replicas,
    # 3 nodes: 5/5: lose one -> 5 on 1 node, ratio 1.0, fine. Check the engine agrees: worst ratio <= bound.
    req = request(
        cluster(equal_nodes(3)),
        [{"plan": plan(replicas=10), "highAvailability": {"robustness": {"nodeLossMaxRatio": 1.0}}}],
    )
    _, svc = _one(req)
    assert svc.quality.node_loss_worst_ratio is not None
    assert svc.quality.node_loss_worst_ratio <= 1.0 + 1e-9
    assert svc.quality.node_loss_dropped_fraction == pytest.approx(0.0)
    # a single node would drop everything after losing it, so the bound forces >= 2 nodes
    assert len(svc.pods_per_node) >= 2


def test_node_loss_bound_rules_out_uneven_minimum():
    # 7 replicas, 3 nodes, min 3 nodes, N-1 bound 1.2. Only shape with K = 3: 3/2/2 (ratio 7/6).
    # Conservative N-1 check: (N - m)/((K-1) m) = 5/4 = 1.25 > 1.2, and the real worst case is losing a 2-Pod
    # node: 5 Pods on 2 nodes 3/2 -> 5/(2*2) = 1.25 > 1.2: infeasible; explanation names nodeLoss and minNodes.
    req = request(
        cluster(equal_nodes(3)),
        [
            {
                "plan": plan(replicas=7),
                "highAvailability": {"minNodes": 3, "robustness": {"nodeLossMaxRatio": 1.2}},
            }
        ],
    )
    result = recommend(req)
    assert result.status == "infeasible"
    groups = {c.group for c in result.explanations[0].conflicts}
    assert "nodeLoss" in groups


def test_infeasible_zones_explained_with_taint():
    # 3 zones, but the zone-c nodes carry dedicated=ingress:NoSchedule the Pods do not tolerate: only zones a and
    # b are usable, minZones 3 cannot hold. The minimal conflict is {eligibility, minZones}; relaxing eligibility
    # means the toleration.
    taint = [{"key": "dedicated", "value": "ingress", "effect": "NoSchedule"}]
    nodes = [node("a0", "a"), node("b0", "b"), node("c0", "c", taints=taint), node("c1", "c", taints=taint)]
    req = request(cluster(nodes), [{"plan": plan(replicas=3), "highAvailability": {"minZones": 3}}])
    result = recommend(req)
    assert result.status == "infeasible"
    explanation = result.explanations[0]
    groups = {c.group for c in explanation.conflicts}
    assert groups == {"eligibility", "minZones"}
    zones_msg = next(c.message for c in explanation.conflicts if c.group == "minZones")
    assert "requires 3 zones; only 2 zone(s)" in zones_msg
    assert "dedicated=ingress:NoSchedule" in zones_msg
    joined = " | ".join(explanation.relaxations)
    assert "lower minZones to 2" in joined
    assert "key: dedicated" in joined
    assert "value: ingress" in joined


def test_capacity_infeasible_suggests_a_node():
    # 2 nodes with 1 cpu each, 4 replicas of 1 cpu: only 2 fit. Conflict: capacity with the replica range.
    nodes = [node("n0", cpu="1"), node("n1", cpu="1")]
    result = recommend(request(cluster(nodes), [{"plan": plan(replicas=4, cpu="1")}]))
    assert result.status == "infeasible"
    groups = {c.group for c in result.explanations[0].conflicts}
    assert "capacity" in groups
    assert any("add a node" in r for r in result.explanations[0].relaxations)


def test_two_services_share_capacity_with_certificate():
    # Two Services of 1 cpu on 3 nodes with 4 cpu each. Alone each wants 4 replicas as 2/2 (ratio 1) with spread
    # preferring... 4 = 2/2 on two nodes (K*m = 4) or 1/1/1/1 impossible; 4/0/0 also K*m = 4; spread -> 2/2.
    # Together: 2+2 per node at most = 4 cpu, fits anywhere -> uncoupled optima fit -> certificate.
    nodes = equal_nodes(3, cpu="4")
    goals = [{"plan": plan("web", replicas=4, cpu="1")}, {"plan": plan("api", replicas=4, cpu="1")}]
    result = recommend(request(cluster(nodes), goals))
    assert result.status == "optimal"
    assert result.statistics.decomposition == "uncoupled"
    assert result.certificate is not None
    per_node = {}
    for svc in result.services:
        assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
        for n, x in svc.pods_per_node.items():
            per_node[n] = per_node.get(n, 0) + x
    assert max(per_node.values()) <= 4


def test_plan_matches_engine_evaluate():
    # The engine's evaluate_plan on the recommended placement gives the same hottest ratio and CV.
    raw_cluster = cluster(equal_nodes(3, zones=("a", "b")))
    raw_plan = plan(replicas=10)
    for goal in ({"plan": raw_plan}, {"plan": raw_plan, "highAvailability": {"minNodes": 3}}):
        _, svc = _one(request(raw_cluster, [goal]))
        placed = {**raw_plan, "spec": {**raw_plan["spec"], "placement": {"podsPerNode": svc.pods_per_node}}}
        evaluation = evaluate_plan(msgspec.convert(raw_cluster, Cluster), msgspec.convert(placed, ServicePlan))
        summary = evaluation.policies[0].summary
        assert summary.hottest_pod_ratio == pytest.approx(svc.quality.hottest_pod_ratio)
        assert summary.coefficient_of_variation == pytest.approx(svc.quality.coefficient_of_variation)
        assert summary.dropped_fraction == pytest.approx(svc.quality.dropped_fraction)
