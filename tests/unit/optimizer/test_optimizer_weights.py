"""Weighted objectives: a weighted sum instead of a strict order, decoded per term with the balance gap.

Ratio under ETP Local behind an equal-per-node LB: N / (K min x_n) (traffic-semantics.md 8). Moves: Pods created
on nodes beyond what they run now. Spread: zones x (nodes + 1) + nodes, counted against the sum.
"""

from __future__ import annotations

import msgspec
import pytest
from optimizer_builders import cluster, equal_nodes, plan, request

from planner.optimizer import recommend
from planner.optimizer.schema import Objective


def _running_433(objective):
    # 10 replicas running as n0=4, n1=3, n2=3 on 3 equal nodes, no HA minimum
    goal = {"plan": plan(replicas=10, placement={"n0": 4, "n1": 3, "n2": 3})}
    return recommend(request(cluster(equal_nodes(3)), [goal], objective=objective))


def test_lexicographic_moves_three_pods_for_balance():
    # balance first: 5/5/0 (ratio 1) over staying at 4/3/3 (10/9); 5/5 on n0, n1 creates 1 + 2 = 3 Pods.
    result = _running_433({"order": ["balance", "moves", "spread"]})
    svc = result.services[0]
    assert svc.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert next(s for s in result.stages if s.term == "moves").objective == 3


def test_weighted_moves_can_outweigh_balance_and_the_balance_gap_is_reported():
    # weights balance 1 per 1.0 of ratio, moves 1 per Pod: 5/5/0 costs 1 + 3 = 4, staying at 4/3/3 costs
    # 10/9 + 0 = 1.111, 10/0/0 costs 1 + 6 = 7 -> stay. The composite is proven optimal (gap 0) while balance
    # is (10/9 - 1) / (10/9) = 0.1 from its own optimum 1.0: the decoded balance stage says so.
    result = _running_433({"order": ["balance", "moves", "spread"], "weights": {"balance": 1, "moves": 1}})
    svc = result.services[0]
    assert svc.pods_per_node == {"n0": 4, "n1": 3, "n2": 3}
    assert svc.quality.hottest_pod_ratio == pytest.approx(10 / 9)
    balance = next(s for s in result.stages if s.term == "balance")
    assert balance.objective == pytest.approx(10 / 9, abs=1e-6)
    assert balance.bound == pytest.approx(1.0)
    assert balance.gap == pytest.approx(0.1, abs=1e-6)
    assert balance.note is not None
    assert "composite gap 0" in balance.note
    moves = next(s for s in result.stages if s.term == "moves")
    assert moves.objective == 0


def test_weighted_spread_term_trades_balance_for_more_nodes():
    # No running Pods. 10 replicas on 3 nodes: 5/5/0 ratio 1, spread 1 x (3 + 1) + 2 = 6; 4/3/3 ratio 10/9,
    # spread 7; 10/0/0 ratio 1, spread 5.
    # weights balance 1, spread 0.001: 5/5 -> 1 - 0.006 = 0.994 beats 4/3/3 -> 1.111 - 0.007 = 1.104.
    # weights balance 1, spread 1: 5/5 -> 1 - 6 = -5 loses to 4/3/3 -> 1.111 - 7 = -5.889.
    goal = [{"plan": plan(replicas=10)}]
    light = recommend(request(cluster(equal_nodes(3)), goal, objective={"weights": {"balance": 1, "spread": 0.001}}))
    assert sorted(light.services[0].pods_per_node.values()) == [5, 5]
    heavy = recommend(request(cluster(equal_nodes(3)), goal, objective={"weights": {"balance": 1, "spread": 1}}))
    assert sorted(heavy.services[0].pods_per_node.values()) == [3, 3, 4]
    spread = next(s for s in heavy.stages if s.term == "spread")
    assert spread.objective == 7


def test_weights_need_one_positive_weight():
    with pytest.raises(msgspec.ValidationError, match="positive weight"):
        msgspec.convert({"weights": {"balance": 0}}, Objective)
