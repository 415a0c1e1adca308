"""RollingUpdate worst states and the PodDisruptionBudget drain check, with hand-derived numbers.

Shares under ETP Local behind an equal-per-node LB (traffic-semantics.md 8): a Pod on node n gets 1/(K x_n).
The rollout ratio is the hottest Pod's share over the steady-state mean 1/N (``planner/optimizer/rollout.py``).
Rounding of maxSurge (up) and maxUnavailable (down), and maxUnavailable 1 when both resolve to 0:
kubernetes/kubernetes pkg/controller/deployment/util/deployment_util.go ``ResolveFenceposts``; Deployment
defaults 25% / 25% (pkg/apis/apps/v1/defaults.go). PDB eviction: disruptionsAllowed = currentHealthy -
desiredHealthy (pkg/controller/disruption/disruption.go).
"""

from __future__ import annotations

import pytest
import yaml
from optimizer_builders import cluster, equal_nodes, plan, request

from planner.optimizer import recommend
from planner.optimizer.instance import build_instance
from planner.optimizer.rollout import rollout_params


def _svc(goal, nodes=None):
    result = recommend(request(cluster(nodes or equal_nodes(3)), [goal]))
    return result, result.services[0]


def test_default_deployment_rollout_on_five_five():
    # 10 replicas, defaults 25%: maxSurge ceil(2.5) = 3, maxUnavailable floor(2.5) = 2. Plan 5/5/0 (K = 2).
    # Worst: 2 Pods down on one node -> 3/5: its Pods get 1/(2*3) = 1/6, x N = 10/6 = 5/3 (166.7 conn/s of 1000).
    # (4/5 gives 1/8 -> 1.25; no node can be emptied with 2 Pods down.)
    _, svc = _svc({"plan": plan(replicas=10)})
    assert sorted(svc.pods_per_node.values()) == [5, 5]
    assert svc.quality.rollout_max_surge == 3
    assert svc.quality.rollout_max_unavailable == 2
    assert svc.quality.rollout_worst_ratio == pytest.approx(5 / 3)
    assert svc.rollout is not None
    assert "166.667 conn/s" in svc.rollout
    assert not any("RollingUpdate" in n for n in svc.not_evaluated)


def test_rollout_on_four_three_three_empties_nothing_but_hits_a_three():
    # minNodes 3 -> 4/3/3 (K = 3). 2 Pods down on a 3-Pod node leave 1 Pod: 1/(3*1) = 1/3, x 10 = 10/3.
    _, svc = _svc({"plan": plan(replicas=10), "highAvailability": {"minNodes": 3}})
    assert sorted(svc.pods_per_node.values()) == [3, 3, 4]
    assert svc.quality.rollout_worst_ratio == pytest.approx(10 / 3)


def test_rollout_bound_as_a_constraint_moves_the_plan():
    # Bound 1.5 during rollouts. Ratio-1 shapes of 10 Pods on 3 nodes: 5/5 (K m = 10) and 10/0/0.
    # 5/5 rolls out at 5/3 > 1.5 (above). 10 on one node: 2 down -> 8, share 1/8, x 10 = 1.25 <= 1.5.
    # The model's sufficient condition agrees: N <= B (K - floor(U/m)) max(1, m - U):
    # 5/5: 1.5 * 2 * 3 = 9 < 10 (rejected); 10/0/0: 1.5 * 1 * 8 = 12 >= 10 (kept).
    goal = {"plan": plan(replicas=10), "highAvailability": {"robustness": {"rolloutMaxRatio": 1.5}}}
    result, svc = _svc(goal)
    assert result.status == "optimal"
    assert list(svc.pods_per_node.values()) == [10]
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert svc.quality.rollout_worst_ratio == pytest.approx(1.25)
    # without the bound 5/5 is chosen (spread prefers two nodes) and rolls out at 5/3
    _, free = _svc({"plan": plan(replicas=10)})
    assert free.quality.rollout_worst_ratio == pytest.approx(5 / 3)


def test_rollout_bound_that_cannot_hold_is_explained():
    # 3 replicas with maxUnavailable 1 on 3 nodes, minNodes 3: 1/1/1, one Pod down empties a node: 1/(2*1),
    # x 3 = 1.5 > bound 1.2; no other shape uses 3 nodes -> infeasible, and the conflict names the rollout rule.
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    goal = {
        "plan": plan(replicas=3),
        "highAvailability": {"minNodes": 3, "robustness": {"rolloutMaxRatio": 1.2}},
    }
    goal["plan"]["spec"]["workload"]["spec"]["strategy"] = strategy
    result, _ = _svc(goal)
    assert result.status == "infeasible"
    groups = {c.group for c in result.explanations[0].conflicts}
    assert "rollout" in groups


def test_recreate_and_fencepost_rounding():
    # Recreate takes every Pod down at once: no ratio, the text says traffic is dropped.
    goal = {"plan": plan(replicas=4)}
    goal["plan"]["spec"]["workload"]["spec"]["strategy"] = {"type": "Recreate"}
    _, svc = _svc(goal)
    assert svc.quality.rollout_worst_ratio is None
    assert svc.rollout is not None
    assert "dropped" in svc.rollout
    # maxSurge 0 and maxUnavailable 10% of 4 = floor(0.4) = 0: both zero -> maxUnavailable 1 (ResolveFenceposts)
    goal = {"plan": plan(replicas=4)}
    goal["plan"]["spec"]["workload"]["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"},
    }
    inst = build_instance(request(cluster(equal_nodes(3)), [goal]))
    params = rollout_params(inst.services[0], 4)
    assert params is not None
    assert (params.max_surge, params.max_unavailable) == (0, 1)
    # 30% of 4: surge ceil(1.2) = 2, unavailable floor(1.2) = 1
    goal["plan"]["spec"]["workload"]["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "30%", "maxUnavailable": "30%"}
    inst = build_instance(request(cluster(equal_nodes(3)), [goal]))
    params = rollout_params(inst.services[0], 4)
    assert params is not None
    assert (params.max_surge, params.max_unavailable) == (2, 1)


def test_pdb_blocks_drain_with_spread_is_detected_and_the_pdb_adjusted():
    # 3 nodes with 2 cpu, 6 replicas of 1 cpu, minNodes 3: the only shape is 2/2/2 (every slot used).
    # Draining a node evicts its 2 Pods; no other chosen node has room, so replacements stay Pending. With
    # maxUnavailable 1: first eviction ok, then currentHealthy 5 - desiredHealthy (6 - 1) = 0 -> the drain hangs.
    # maxUnavailable 2 lets both go (desiredHealthy 4), so the emitted PDB says 2.
    goal = {"plan": plan(replicas=6, cpu="1"), "highAvailability": {"minNodes": 3}}
    _, svc = _svc(goal, equal_nodes(3, cpu="2"))
    assert sorted(svc.pods_per_node.values()) == [2, 2, 2]
    assert svc.disruption is not None
    assert "pdb-blocks-drain-with-spread" in svc.disruption
    assert "leaves 2 of its Pods Pending" in svc.disruption
    assert svc.manifests is not None
    docs = list(yaml.safe_load_all(svc.manifests.yaml))
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 2
    assert not any("PodDisruptionBudget" in n for n in svc.not_evaluated)


def test_drain_with_room_keeps_the_one_pod_pdb():
    # 5/5/0 on 8-cpu nodes (16 Pods of 500m fit): draining one chosen node moves its 5 Pods to the other chosen
    # node (the cordoned node is out of the skew with nodeTaintsPolicy Honor), so maxUnavailable 1 suffices.
    _, svc = _svc({"plan": plan(replicas=10)})
    assert svc.disruption is not None
    assert "Every chosen node can be drained" in svc.disruption
    docs = list(yaml.safe_load_all(svc.manifests.yaml))
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    spread = docs[0]["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["nodeTaintsPolicy"] == "Honor"


def test_balance_bound_that_allows_no_disruption_says_the_pdb_would_block_drains():
    # 10 replicas, minNodes 3 -> 4/3/3, node-loss bound 1.2 (losing a 3-Pod node: 7 Pods on 4/3 ->
    # 7/(2*3) = 1.167 <= 1.2, so the plan is valid). One Pod evicted from a 3-Pod node: 4/2/3 -> 1/(3*2) x 10
    # = 1.667 > 1.2: keeping the bound would need maxUnavailable 0, which blocks every drain.
    goal = {"plan": plan(replicas=10), "highAvailability": {"minNodes": 3, "robustness": {"nodeLossMaxRatio": 1.2}}}
    _, svc = _svc(goal)
    assert sorted(svc.pods_per_node.values()) == [3, 3, 4]
    assert svc.disruption is not None
    assert "maxUnavailable 0" in svc.disruption
    assert "blocks every node drain" in svc.disruption
