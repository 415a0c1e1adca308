"""Services that compete for capacity: the joint model, hand-derived and against brute force.

Balance under ETP Local behind an equal-per-node LB: hottest ratio = N / (K min x_n) (traffic-semantics.md 8).
The joint objective is the worst ratio over the coupled Services, then their sum (``planner/optimizer/joint.py``).
"""

from __future__ import annotations

import itertools

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimizer_builders import cluster, drawn_nodes, equal_nodes, node, plan, request

from planner.optimizer import recommend
from planner.optimizer.baselines import run_shared_baselines
from planner.optimizer.even import EvenOutcome
from planner.optimizer.instance import build_instance
from planner.optimizer.quality import score
from planner.optimizer.validation import violations
from tests.bench_scripts import bench_script


@pytest.fixture
def general_path(monkeypatch):
    """The coupled-Services path (sequential re-solve, joint model), as for a request the whole-request packing of
    ``even.py`` does not apply to: these hand-derived cases are all even, which would take that packing instead."""
    monkeypatch.setattr("planner.optimizer.solve.solve_even", lambda *_, **__: EvenOutcome(None))


@pytest.mark.usefixtures("general_path")
def test_joint_model_beats_the_sequential_re_solve():
    # 3 nodes with 2 cpu each (2 Pods of 1 cpu per node, 6 slots); web wants 2 replicas, api 4.
    # Alone: web 1/1 (ratio 2/(2*1) = 1, spread prefers 2 nodes over 2/0/0), api 2/2 (4/(2*2) = 1).
    # Together they overflow (web's two nodes and api's two nodes share one: 1 + 2 = 3 Pods > 2 slots).
    # Sequential (web first, keeps 1/1): api has 1/1/2 slots left -> 1/1/2, ratio 4/(3*1) = 4/3.
    # Joint: web 2 on one node (ratio 2/(1*2) = 1), api 2/2 on the other two (ratio 1): worst 1, sum 2.
    nodes = equal_nodes(3, cpu="2")
    goals = [{"plan": plan("web", replicas=2, cpu="1")}, {"plan": plan("api", replicas=4, cpu="1")}]
    result = recommend(request(cluster(nodes), goals))
    web, api = result.services
    assert result.statistics.decomposition == "joint"
    assert result.statistics.joint_services == 2
    assert result.statistics.joint_choice == "joint"
    assert result.statistics.joint_status == "optimal"
    assert sorted(web.pods_per_node.values()) == [2]
    assert sorted(api.pods_per_node.values()) == [2, 2]
    assert not set(web.pods_per_node) & set(api.pods_per_node)
    assert web.quality.hottest_pod_ratio == pytest.approx(1.0)
    assert api.quality.hottest_pod_ratio == pytest.approx(1.0)
    # proven: no Service was fixed outside the joint model, so the whole request is optimal
    assert result.status == "optimal"
    assert result.certificate is not None
    assert "solved together" in result.certificate
    # each Service reached its own uncoupled optimum (ratio 1), so its balance gap is 0
    assert web.balance_bound == pytest.approx(1.0)
    assert api.balance_gap == pytest.approx(0.0)
    # the scheduler's default spread, run Service after Service, leaves api at 1/1/2: ratio 4/3
    default = next(b for b in api.baselines if b.name == "defaultScheduler")
    assert default.quality.hottest_pod_ratio == pytest.approx(4 / 3)


def test_capacity_that_cannot_give_both_services_their_optimum_reports_the_gap():
    # 3 nodes with 3 cpu (9 slots); web and api both want 4 replicas of 1 cpu.
    # Ratio 1 for 4 Pods needs 4 on one node (no: 3 slots) or 2/2 on two nodes. Two Services with 2/2 on two of
    # three nodes share a node (4 Pods > 3 slots), so at most one Service is even. Best: web 2/2 on n_a, n_b
    # (slots left 1, 1, 3), api 1/1/2 -> ratio 4/(3*1) = 4/3. Worst 4/3, sum 1 + 4/3 = 7/3, and no plan has a
    # worst below 4/3 (both even is impossible; 3/1 gives 4/(2*1) = 2). The gap of the uneven Service against
    # its own optimum (1.0): (4/3 - 1) / (4/3) = 0.25.
    nodes = equal_nodes(3, cpu="3")
    goals = [{"plan": plan("web", replicas=4, cpu="1")}, {"plan": plan("api", replicas=4, cpu="1")}]
    result = recommend(request(cluster(nodes), goals))
    ratios = sorted(s.quality.hottest_pod_ratio for s in result.services)
    assert ratios == pytest.approx([1.0, 4 / 3])
    gaps = sorted(s.balance_gap for s in result.services)
    assert gaps == pytest.approx([0.0, 0.25])
    assert result.status == "optimal"
    balance = next(s for s in result.stages if s.term == "balance")
    assert balance.status == "optimal"


@pytest.mark.usefixtures("general_path")
def test_fixed_service_elsewhere_keeps_the_certificate_and_one_beside_does_not():
    # Coupled as above (web 2, api 4 on n0..n2 with 2 cpu), plus "db" restricted to node d0 by a nodeSelector:
    # db's nodes are not usable by web or api, so fixing db restricts nothing: still optimal with a certificate.
    nodes = [*equal_nodes(3, cpu="2"), node("d0", cpu="8", labels={"role": "db"})]
    web_api = {"nodeSelector": {"role": "web"}}
    for n in nodes[:3]:
        n["labels"] = {"role": "web"}
    goals = [
        {"plan": plan("web", replicas=2, cpu="1", **web_api)},
        {"plan": plan("api", replicas=4, cpu="1", **web_api)},
        {"plan": plan("db", replicas=2, cpu="1", nodeSelector={"role": "db"})},
    ]
    result = recommend(request(cluster(nodes), goals))
    assert result.statistics.joint_services == 2
    assert result.status == "optimal"
    assert result.certificate is not None
    assert "other 1 Service(s)" in result.certificate


@st.composite
def two_services(draw):
    nodes = drawn_nodes(draw, (2, 3), (1, 3))
    cross = draw(st.booleans())
    goals = []
    for name in ("web", "api"):
        replicas = draw(st.integers(1, 4))
        goals.append(
            {
                "plan": plan(name, replicas=replicas, cpu="1", lb={"model": "nodeEqual", "crossZone": cross}),
                "highAvailability": {"minNodes": draw(st.integers(1, 2))},
            }
        )
    return request(cluster(nodes), goals, includeManifests=False)


def _brute_force(req) -> tuple[float, float] | None:
    """Lexicographic minimum of (worst ratio, sum of ratios) over every valid pair of placements."""
    inst = build_instance(req)
    size = inst.cluster.size
    valid: list[list[tuple[np.ndarray, float]]] = []
    for svc in inst.services:
        options = []
        for combo in itertools.product(range(svc.replicas_max + 1), repeat=size):
            pods = np.array(combo, dtype=np.int64)
            if int(pods.sum()) == svc.replicas_max and not violations(svc, inst.cluster, inst.free, pods):
                options.append((pods, score(svc, inst.cluster, pods).hottest_ratio))
        valid.append(options)
    best = None
    for (a, ra), (b, rb) in itertools.product(*valid):
        demand = a[:, None] * inst.services[0].request + b[:, None] * inst.services[1].request
        if (demand > inst.free).any():
            continue
        key = (round(max(ra, rb), 9), round(ra + rb, 9))
        best = key if best is None or key < best else best
    return best


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(two_services())
def test_joint_matches_brute_force_and_never_loses_to_a_baseline(req):
    expected = _brute_force(req)
    result = recommend(req)
    if expected is None:
        assert result.status == "infeasible"
        assert result.explanations
        return
    ratios = [s.quality.hottest_pod_ratio for s in result.services]
    assert all(s.replicas > 0 for s in result.services)
    got = (round(max(ratios), 9), round(sum(ratios), 9))
    if result.statistics.decomposition == "joint":
        # the joint model minimises exactly this key (up to its 10^-6 rounding)
        assert got[0] == pytest.approx(expected[0], abs=1e-5)
        assert got[1] == pytest.approx(expected[1], abs=2e-5)
        assert result.status == "optimal"
    else:
        # uncoupled optima fit together: each Service is at its own minimum, so worst and sum are minimal too
        assert got == pytest.approx(expected, abs=1e-9)
    # never worse than a baseline strategy that placed both Services validly with shared capacity
    inst = build_instance(req)
    shared = run_shared_baselines(inst.services, inst.cluster, inst.free)
    for name in ("defaultScheduler", "spreadMaxSkew1", "mostAllocated"):
        plans = [next(p for n, p, _ in shared[s.index] if n == name) for s in inst.services]
        if any(violations(s, inst.cluster, inst.free, p) for s, p in zip(inst.services, plans, strict=True)):
            continue
        base = [score(s, inst.cluster, p).hottest_ratio for s, p in zip(inst.services, plans, strict=True)]
        assert got[0] <= max(base) + 1e-5


def _bench():
    return bench_script("optimizer_bench")


def test_timed_out_joint_solve_repeats_exactly_and_never_loses_to_a_baseline():
    # 40 nodes whose free cpu is fragmented by other Pods, 8 Services of 1-2 cpu asking for ~90 % of it, cross-zone
    # balancing off (so the packing of the later stages does not apply), with a budget far too small to prove
    # anything: the joint model runs, stops on its deterministic limit (feasible, not optimal), repeats exactly, and
    # the engine-scored pick is never worse than a shared-capacity baseline that placed every Pod within the rules.
    # The default scheduler, Service after Service, leaves Pods Pending here.
    bench = _bench()
    req = bench.build(40, 8, (4, 12), pressure=True, node_loss=False, cross_zone=False, seed=1, time_limit=0.15)
    # only the deterministic limit may stop the search (a loaded CI machine must not change the answer)
    req = msgspec.structs.replace(req, solver=msgspec.structs.replace(req.solver, wall_clock_limit_seconds=600))
    first, second = recommend(req), recommend(req)
    assert first.statistics.decomposition == "joint"
    assert first.statistics.joint_status == "feasible"
    assert first.status == "feasible"
    assert first.statistics.joint_choice is not None
    assert [s.pods_per_node for s in first.services] == [s.pods_per_node for s in second.services]
    summary = bench.summarize(first)
    assert summary["never_worse"]
    assert summary["plan_unplaced"] == 0
    assert summary["baseline_unplaced"]["defaultScheduler"] > 0
    inst = build_instance(req)
    placed = {
        svc.index: np.array([s.pods_per_node.get(n, 0) for n in inst.cluster.node_names], dtype=np.int64)
        for svc, s in zip(inst.services, first.services, strict=True)
    }
    demand = sum(p[:, None] * inst.services[i].request[None, :] for i, p in placed.items())
    assert not (demand > inst.free).any()


def test_tiny_wall_clock_limit_is_reported_and_never_loses_to_a_baseline():
    # 100 nodes x 20 Services of the same fragmented capacity-pressure kind with a 0.05 s limit: far too little to
    # finish the
    # first pass, let alone the joint model (the 10 s deterministic budget is untouched). The wall clock must stop
    # every solve, say so, and the plan must still fit and be no worse than any baseline that placed every Pod
    # within the rules (it falls back to the best consistent baseline strategy if the solver had no time).
    bench = _bench()
    req = bench.build(100, 20, (5, 40), pressure=True, node_loss=False, seed=2, time_limit=10.0)
    req = msgspec.structs.replace(req, solver=msgspec.structs.replace(req.solver, wall_clock_limit_seconds=0.05))
    result = recommend(req)
    assert result.statistics.wall_clock_limit_reached
    assert result.statistics.wall_clock_limit_seconds == pytest.approx(0.05)
    assert result.status in {"feasible", "timedOut"}
    assert result.certificate is None
    summary = bench.summarize(result)
    assert summary["never_worse"]
    cut = [s for s in result.services if any("wall-clock limit (0.05 s) cut the search" in n for n in s.notes)]
    assert cut, "no Service says the wall clock cut its search"
    assert all(s.status != "optimal" for s in cut)
    inst = build_instance(req)
    placed = {
        svc.index: np.array([s.pods_per_node.get(n, 0) for n in inst.cluster.node_names], dtype=np.int64)
        for svc, s in zip(inst.services, result.services, strict=True)
    }
    demand = sum(p[:, None] * inst.services[i].request[None, :] for i, p in placed.items())
    assert not (demand > inst.free).any()


def test_enough_wall_clock_time_leaves_the_flag_off():
    # 3 equal nodes, 10 replicas: solved in milliseconds, so a 60 s wall-clock limit never cuts in.
    bench = _bench()
    req = bench.build(3, 1, (10, 10), pressure=False, node_loss=False, seed=1, time_limit=5.0)
    req = msgspec.structs.replace(req, solver=msgspec.structs.replace(req.solver, wall_clock_limit_seconds=60))
    result = recommend(req)
    assert result.status == "optimal"
    assert not result.statistics.wall_clock_limit_reached
    assert result.statistics.wall_clock_limit_seconds == 60


@pytest.mark.usefixtures("general_path")
def test_sequential_re_solve_at_every_services_own_optimum_is_certified_without_a_joint_model():
    # 4 nodes with 1 cpu each (one 1-cpu Pod per node). "wide" (2 replicas) may use any node, "narrow" (2 replicas)
    # only n0, n1 (nodeSelector). Alone, each is even at 1/1 on two nodes (ratio 2 / (2 x 1) = 1, spread
    # 1 zone x (4 + 1) + 2 nodes = 7), and both pick n0, n1: 2 Pods on a 1-cpu node, so they are coupled. Re-solved
    # one after another, wide first takes n0, n1 again and narrow has no room; the next round puts narrow first
    # (n0, n1) and wide on n2, n3: both at their own optimum for every term, which no shared plan can beat, so the
    # plan is certified optimal and no joint model is built.
    nodes = equal_nodes(4, cpu="1")
    for n in nodes[:2]:
        n["labels"] = {"role": "edge"}
    goals = [
        {"plan": plan("wide", replicas=2, cpu="1")},
        {"plan": plan("narrow", replicas=2, cpu="1", nodeSelector={"role": "edge"})},
    ]
    result = recommend(request(cluster(nodes), goals, includeManifests=False))
    wide, narrow = result.services
    assert narrow.pods_per_node == {"n0": 1, "n1": 1}
    assert wide.pods_per_node == {"n2": 1, "n3": 1}
    assert [wide.quality.hottest_pod_ratio, narrow.quality.hottest_pod_ratio] == pytest.approx([1.0, 1.0])
    assert result.status == "optimal"
    assert result.statistics.decomposition == "joint"
    assert result.statistics.joint_services == 2
    assert result.statistics.joint_status is None  # no joint model was needed
    assert result.statistics.joint_choice == "sequential"
    assert result.certificate is not None
    assert "re-solved one after another" in result.certificate


@pytest.mark.usefixtures("general_path")
def test_a_stage_above_the_services_own_optima_stops_using_them_as_bounds():
    # n0, n1 with 1 cpu, n2 with 2 cpu, one zone (a zone counts 3 + 1 = 4 in spread); Pods of 1 cpu. web: 2
    # replicas, running 2 on n2; api: 1 replica, running 1 on n2. Alone each stays where it runs (0 moves; spread
    # 4 + 1 = 5 each, 10 in all), and together they overflow n2 (3 Pods on 2 cpu). Even plans together:
    #   web 2 on n2 (0 moves), api on n0 or n1 (1): moves 1, spread 5 + 5 = 10
    #   web 1/1 on n2 and n0 or n1 (1 created), api on n2 (0): moves 1, spread (4 + 2) + 5 = 11
    #   web 1/1 on n0, n1 (2), api on n2 (0): moves 2
    # so the optimum is moves 1, spread 11. The moves stage ends at 1, above the own optima's 0, so the own
    # optima's spread (10) no longer bounds the spread stage.
    nodes = [node("n0", cpu="1"), node("n1", cpu="1"), node("n2", cpu="2")]
    goals = [
        {"plan": plan("web", replicas=2, cpu="1", placement={"n2": 2})},
        {"plan": plan("api", replicas=1, cpu="1", placement={"n2": 1})},
    ]
    result = recommend(request(cluster(nodes), goals, includeManifests=False))
    web, api = result.services
    assert web.pods_per_node in ({"n0": 1, "n2": 1}, {"n1": 1, "n2": 1})
    assert api.pods_per_node == {"n2": 1}
    assert result.statistics.joint_status == "optimal"
    spread = next(s for s in result.stages if s.term == "spread")
    assert spread.status == "optimal"
