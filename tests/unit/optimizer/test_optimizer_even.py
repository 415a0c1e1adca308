"""The whole request at a hottest-Pod ratio of 1.0 (``even.py``): when every Service is even alone and the first
pass overflows a node, one exact packing over all Services gives the lexicographic optimum of the whole request.

nodeEqual with cross-zone balancing: hottest ratio = N / (K m), m the fewest Pods on a used node, so 1.0 means the
same m Pods on each of K = N / m nodes. Spread = (nodes + 1) per used zone + one per used node.
"""

from __future__ import annotations

import itertools
from unittest import mock

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from optimizer_builders import (
    cluster,
    drawn_nodes,
    equal_nodes,
    more_replicas_request,
    moving_request,
    plan,
    request,
)

from planner.optimizer import recommend
from planner.optimizer import solve as solve_module
from planner.optimizer.even import EvenOutcome, patterns, qualifies, solve_even
from planner.optimizer.instance import build_instance
from planner.optimizer.model import RATIO_SCALE
from planner.optimizer.packing import CANONICAL
from tests.bench_scripts import bench_script

EVEN_CERTIFICATE = "Every one of the"


class Spy:
    """Records what ``solve_even`` returned inside ``recommend``."""

    def __init__(self) -> None:
        self.outcomes: list[EvenOutcome] = []

    def __call__(self, *args, **kwargs) -> EvenOutcome:
        outcome = solve_even(*args, **kwargs)
        self.outcomes.append(outcome)
        return outcome


def _recommend(req, *, even: bool = True):
    """``recommend`` with the whole-request packing (spied on), or without it (the coupled-Services path)."""
    spy = Spy()
    replacement = spy if even else (lambda *_, **__: EvenOutcome(None))
    with mock.patch.object(solve_module, "solve_even", replacement):
        return recommend(req), spy.outcomes


def test_two_services_on_three_nodes_take_the_one_packing_with_fewest_moves():
    # Alone each is even where it runs (web 1/1 on n0, n1; api 2/2 on n1, n2), and together they overflow n1
    # (1 + 2 Pods of 1 cpu on 2 cpu). Even together: api needs m | 4 with m <= 2 Pods per node (2 cpu), and m = 1
    # needs 4 of the 3 nodes, so api is 2/2 on two nodes, which fills them; web gets the third node whole, m = 2
    # (1/1 needs two nodes with room). Pods created, max(0, m - current) per used node:
    #   web on n0 (2 - 1 = 1), api on n1, n2 (0 + 0): 1
    #   web on n1 (2 - 1 = 1), api on n0 (2), n2 (0): 3
    #   web on n2 (2 - 0 = 2), api on n0 (2), n1 (0): 4
    # so the optimum moves 1 Pod: web 2 on n0, api 2/2 on n1, n2. Spread (3 nodes, so a zone counts 4): web
    # 4 + 1 = 5, api 4 + 2 = 6, 11 in all.
    result, outcomes = _recommend(moving_request())
    assert [o.plan is not None for o in outcomes] == [True]
    web, api = result.services
    assert web.pods_per_node == {"n0": 2}
    assert api.pods_per_node == {"n1": 2, "n2": 2}
    assert result.status == "optimal"
    assert [s.status for s in result.services] == ["optimal", "optimal"]
    assert result.certificate is not None
    assert result.certificate.startswith(EVEN_CERTIFICATE)
    assert result.statistics.joint_services == 2
    assert result.statistics.joint_status == "optimal"
    assert result.statistics.joint_choice == "joint"
    plan_found = outcomes[0].plan
    assert plan_found is not None
    assert (plan_found.moves, plan_found.spread) == (1, 11)
    moves = next(s for s in result.stages if s.term == "moves")
    assert moves.status == "optimal"
    # each Service is at 1.0 and so at its own balance bound: gap 0
    assert [s.quality.hottest_pod_ratio for s in result.services] == pytest.approx([1.0, 1.0])
    assert [s.balance_gap for s in result.services] == pytest.approx([0.0, 0.0])


def test_the_same_answer_as_the_coupled_services_path_and_the_same_twice():
    # the coupled-Services path proves the same plan on this request (its joint model covers both Services)
    first, _ = _recommend(moving_request())
    second, _ = _recommend(moving_request())
    general, outcomes = _recommend(moving_request(), even=False)
    assert outcomes == []
    assert general.status == "optimal"
    assert general.certificate is not None
    assert not general.certificate.startswith(EVEN_CERTIFICATE)
    assert [s.pods_per_node for s in first.services] == [s.pods_per_node for s in second.services]
    assert [s.pods_per_node for s in first.services] == [s.pods_per_node for s in general.services]


def test_no_even_plan_at_the_fewest_replicas_falls_back_to_the_coupled_services_path():
    # web alone: 3 Pods are even as 1/1/1 (or 3 on n2): own fewest replicas 3. api alone: 3 on n2. Alone, web
    # spreads over all three nodes, so they overflow n2 (1 + 3 Pods on 3 cpu). Together n2 is full, and 3
    # web Pods on n0, n1 (2 cpu each) are never even (1/1 or 2/2, not 3), so the packing at web's own 3 replicas is
    # infeasible: the whole-request packing returns nothing and the coupled-Services path finds web 2/2 on n0, n1
    # at 4 replicas (what it runs now: no Pod moved), proven by its joint model.
    result, outcomes = _recommend(more_replicas_request())
    assert len(outcomes) == 1
    assert outcomes[0].plan is None
    web, api = result.services
    assert web.pods_per_node == {"n0": 2, "n1": 2}
    assert api.pods_per_node == {"n2": 3}
    assert result.status == "optimal"
    assert result.statistics.joint_status == "optimal"
    assert result.certificate is not None
    assert "solved together" in result.certificate


@pytest.mark.parametrize(
    ("lb", "etp"),
    [
        ({"model": "nodeEqual", "crossZone": False}, "Local"),  # 1.0 means equal Pods per zone, not per node
        ({"model": "podWeighted"}, "Local"),  # every Pod gets 1/N: no balance term
        ({"model": "nodeEqual"}, "Cluster"),  # every Pod gets 1/N: no balance term
    ],
)
def test_a_service_without_the_equal_per_node_structure_keeps_the_general_path(lb, etp):
    nodes = equal_nodes(3, cpu="2")
    goals = [
        {"plan": plan("web", replicas=2, cpu="1", lb=lb, etp=etp, placement={"n0": 1, "n1": 1})},
        {"plan": plan("api", replicas=4, cpu="1", placement={"n1": 2, "n2": 2})},
    ]
    req = request(cluster(nodes), goals, includeManifests=False)
    inst = build_instance(req)
    assert [qualifies(svc) for svc in inst.services] == [False, True]
    result, outcomes = _recommend(req)
    assert [o.plan for o in outcomes] in ([], [None])
    assert result.certificate is None or not result.certificate.startswith(EVEN_CERTIFICATE)


def test_a_service_above_one_alone_keeps_the_general_path():
    # odd: 3 replicas, at least 2 nodes, only n0, n1 (nodeSelector): 2/1 is its best, ratio 3 / (2 x 1) = 1.5.
    # web: 4 replicas on any of the 3 nodes of 2 cpu (2/2: ratio 1). Alone web takes two nodes and odd both of its
    # nodes, so they overflow one node (2 + 1 or 2 + 2 Pods of 1 cpu on 2 cpu) and are coupled; odd's own optimum
    # is above 1.0, so the whole-request packing does not apply.
    nodes = equal_nodes(3, cpu="2")
    for n in nodes[:2]:
        n["labels"] = {"role": "odd"}
    goals = [
        {"plan": plan("odd", replicas=3, cpu="1", nodeSelector={"role": "odd"}), "highAvailability": {"minNodes": 2}},
        {"plan": plan("web", replicas=4, cpu="1")},
    ]
    result, outcomes = _recommend(request(cluster(nodes), goals, includeManifests=False))
    assert result.statistics.decomposition == "joint"
    assert [o.plan for o in outcomes] == [None]
    assert outcomes[0].spent == 0  # nothing was solved
    odd = result.services[0]
    assert odd.quality.hottest_pod_ratio == pytest.approx(1.5)


def test_weights_or_another_order_keep_the_general_path():
    req = moving_request()
    inst = build_instance(req)
    optima = {0: {"balance": RATIO_SCALE, "moves": 0}, 1: {"balance": RATIO_SCALE, "moves": 0}}
    kw = {"budget": 5.0, "seed": 1, "wall": 60.0}
    assert solve_even(inst, list(CANONICAL), None, optima, **kw).plan is not None
    assert solve_even(inst, list(CANONICAL), {"balance": 1.0, "moves": 1.0}, optima, **kw).plan is None
    assert solve_even(inst, ["balance", "moves", "replicas", "spread"], None, optima, **kw).plan is None
    # a Service without its own optimum (not proven alone)
    assert solve_even(inst, list(CANONICAL), None, {0: optima[0]}, **kw).plan is None


def _goal_service(**goal):
    req = request(cluster(equal_nodes(4, cpu="8")), [{"plan": plan("web", replicas=4, cpu="1"), **goal}])
    return build_instance(req).services[0]


def test_patterns_follow_every_rule_of_the_model():
    # 4 replicas, 4 usable nodes taking up to 4 Pods each: m in {1, 2, 4} (K = 4, 2, 1 nodes)
    svc = _goal_service()
    assert patterns(svc, 4, 4, 4) == [1, 2, 4]
    # at least 2 nodes: K = 1 goes
    svc = _goal_service(highAvailability={"minNodes": 2})
    assert patterns(svc, 4, 4, 4) == [1, 2]
    # an N-1 bound needs K >= 2 (at ratio 1 every other node keeps m Pods: ratio 1 after the loss)
    svc = _goal_service(highAvailability={"robustness": {"nodeLossMaxRatio": 1.0}})
    assert patterns(svc, 4, 4, 4) == [1, 2]
    # at most 2 Pods on a usable node
    assert patterns(_goal_service(), 4, 2, 4) == [1, 2]
    # per-Pod capacity 300 conn/s at 1000 conn/s: the hottest Pod gets 1000 / N, so N >= ceil(3.33) = 4
    svc = _goal_service(podCapacityConnectionsPerSecond=300)
    assert patterns(svc, 4, 4, 4) == [1, 2, 4]
    assert patterns(svc, 3, 3, 4) == []
    # RollingUpdate (Deployment default maxUnavailable 25% of 4 = 1 Pod down), bound 1.5: the model's condition
    # 10^6 N <= B (K - floor(U / m)) max(1, m - U):
    #   m = 1, K = 4: 4 <= 1.5 x (4 - 1) x 1 = 4.5 yes
    #   m = 2, K = 2: 4 <= 1.5 x (2 - 0) x 1 = 3 no
    #   m = 4, K = 1: 4 <= 1.5 x (1 - 0) x 3 = 4.5 yes
    svc = _goal_service(highAvailability={"robustness": {"rolloutMaxRatio": 1.5}})
    assert patterns(svc, 4, 4, 4) == [1, 4]
    # only two usable nodes: K = 4 goes
    assert patterns(svc, 4, 4, 2) == [4]


def test_the_capacity_pressure_bench_case_is_proven_whole_on_every_service():
    # 40 nodes x 8 Services under capacity pressure (the bench's generator): every Service is even alone, and
    # the packing over all of them is proven, so the whole request is optimal with the even certificate, the same
    # way twice; the engine scores every Service at 1.0 and the plan is never worse than a baseline.
    bench = bench_script("optimizer_bench")
    req = bench.build(40, 8, (4, 12), pressure=True, node_loss=True, seed=1, time_limit=5.0)
    req = msgspec.structs.replace(req, solver=msgspec.structs.replace(req.solver, wall_clock_limit_seconds=600))
    first, outcomes = _recommend(req)
    second, _ = _recommend(req)
    assert [o.plan is not None for o in outcomes] == [True]
    assert first.status == "optimal"
    assert first.certificate is not None
    assert first.certificate.startswith(EVEN_CERTIFICATE)
    assert [s.pods_per_node for s in first.services] == [s.pods_per_node for s in second.services]
    summary = bench.summarize(first)
    assert summary["never_worse"]
    assert summary["plan_unplaced"] == 0
    assert summary["plan_worst"] == pytest.approx(1.0)
    assert summary["plan_n1_worst"] == pytest.approx(1.0)


def _values(req, result) -> tuple[float, float, int, int, int]:
    """The joint model's stage values for a plan: worst ratio, sum of ratios (engine-measured), replicas of the
    Services with a range, Pods created, spread."""
    inst = build_instance(req)
    ratios, replicas, moves, spread = [], 0, 0, 0
    names = inst.cluster.node_names
    for svc, rec in zip(inst.services, result.services, strict=True):
        pods = np.array([rec.pods_per_node.get(n, 0) for n in names], dtype=np.int64)
        ratios.append(rec.quality.hottest_pod_ratio)
        if svc.replicas_min != svc.replicas_max:
            replicas += int(pods.sum())
        if int(svc.current.sum()) > 0:
            moves += int(np.maximum(pods - svc.current, 0).sum())
        used = pods > 0
        spread += (inst.cluster.size + 1) * len({int(z) for z in inst.cluster.zone[used]}) + int(used.sum())
    return round(max(ratios), 9), round(sum(ratios), 9), replicas, moves, spread


@st.composite
def small_requests(draw):
    nodes = drawn_nodes(draw, (3, 4), (1, 4))
    count = len(nodes)
    goals = []
    for name in ("web", "api", "db")[: draw(st.integers(2, 3))]:
        low = draw(st.integers(1, 4))
        running = draw(st.lists(st.integers(0, 2), min_size=count, max_size=count))
        placement = {f"n{i}": k for i, k in enumerate(running) if k}
        goals.append(
            {
                "plan": plan(name, replicas=low, cpu="1", placement=placement or None),
                "highAvailability": {"minNodes": draw(st.integers(1, 2)), "minZones": draw(st.integers(1, 2))},
                "replicaRange": {"min": low, "max": low + draw(st.integers(0, 2))},
            }
        )
    return request(cluster(nodes), goals, includeManifests=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_requests())
def test_the_whole_request_packing_gives_the_general_paths_values(req):
    fast, outcomes = _recommend(req)
    if not outcomes or outcomes[0].plan is None:
        event("general path")
        return
    event("whole-request packing")
    general, _ = _recommend(req, even=False)
    assert fast.status == "optimal"
    if general.status == "optimal":
        # both proven: the same lexicographic optimum, stage by stage
        assert _values(req, fast) == _values(req, general)
    else:
        # the general path proved less (a Service fixed outside its joint model, or a budget): never better
        fast_values, general_values = _values(req, fast), _values(req, general)
        assert (fast_values[0], fast_values[1], fast_values[2], fast_values[3], -fast_values[4]) <= (
            general_values[0],
            general_values[1],
            general_values[2],
            general_values[3],
            -general_values[4],
        )


def test_brute_force_agrees_on_a_three_node_case():
    # every pair of valid even plans of the moving request, scored (moves, -spread): the best is the packing's
    req = moving_request()
    inst = build_instance(req)
    web, api = inst.services
    best = None
    for a, b in itertools.product(itertools.product(range(3), repeat=3), itertools.product(range(5), repeat=3)):
        pa, pb = np.array(a), np.array(b)
        if pa.sum() != 2 or pb.sum() != 4 or ((pa + pb) > 2).any():
            continue
        if len(set(pa[pa > 0].tolist())) != 1 or len(set(pb[pb > 0].tolist())) != 1:
            continue  # not even
        moves = int(np.maximum(pa - web.current, 0).sum() + np.maximum(pb - api.current, 0).sum())
        spread = 2 * 4 + int((pa > 0).sum() + (pb > 0).sum())
        key = (moves, -spread)
        best = key if best is None or key < best else best
    assert best == (1, -11)
