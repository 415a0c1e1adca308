"""The packing behind the joint model's fewest-replicas, fewest-moves and spread stages (``packing.py``).

Once every coupled nodeEqual Service with cross-zone balancing sits at a ratio of exactly 1.0 (N / (K m) = 1),
each used node holds the same m Pods. The packing picks (N, m) and the nodes per Service; its optimum bounds the
joint stage, and its plan becomes the stage's hint.
"""

from __future__ import annotations

import itertools
import math

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
from ortools.sat.python import cp_model

from planner.optimizer import packing as packing_module
from planner.optimizer import recommend
from planner.optimizer.instance import build_instance
from planner.optimizer.joint import build_joint, joint_terms
from planner.optimizer.model import RATIO_SCALE
from planner.optimizer.packing import CANONICAL, Packing, build_packing, pack
from planner.optimizer.quality import score
from planner.optimizer.validation import violations
from tests.bench_scripts import bench_script

EVEN = RATIO_SCALE
"""A ratio of exactly 1.0, scaled as in the model."""


def _order(jm):
    """The joint model's stages in the default objective order (only the terms some Service has)."""
    return [t.term for t in joint_terms(jm, list(CANONICAL), None)[0]]


def _bench():
    return bench_script("optimizer_bench")


def _joint(req):
    inst = build_instance(req)
    jm = build_joint(list(inst.services), inst, inst.free)
    binding = {nodes: jm.free[nodes[0]] for nodes, b in zip(jm.classes, jm.binding, strict=True) if b}
    return inst, jm, binding


def test_moves_bound_above_the_services_own_optima_derived_by_hand():
    # Alone, each is even without moving a Pod (web 1/1 on n0, n1; api 2/2 on n1, n2): own moves 0 + 0 = 0, the
    # joint model's bound before the packing. Together and even: api needs m | 4 with m <= 2 Pods per node; m = 1
    # needs 4 nodes (there are 3), so api is 2/2 on two nodes, which fills them; web gets the third node, all of
    # it: m = 2 there (1/1 needs two nodes). Pods created are max(0, m - current) per used node:
    #   web on n0 (2 - 1 = 1), api on n1, n2 (2 - 2 = 0 each): 1
    #   web on n1 (1), api on n0 (2), n2 (0): 3
    #   web on n2 (2), api on n0 (2), n1 (0): 4
    # so the stage's optimum and the packing's bound are 1, and the plan is web 2 on n0, api 2/2 on n1, n2.
    _, jm, binding = _joint(moving_request())
    optima = {0: {"balance": EVEN, "moves": 0}, 1: {"balance": EVEN, "moves": 0}}
    pk = build_packing(jm.parts, binding, optima, [("balance", EVEN), ("balance", 2 * EVEN)], "moves", order=_order(jm))
    assert pk is not None
    result = pack(pk, budget=5.0, seed=1, wall=60.0)
    assert result.optimal
    assert result.value == 1
    assert result.bound == 1
    assert result.nodes is not None
    web = {jm.parts[0].classes[i].nodes: m for (p, i, m), k in result.nodes.items() if p == 0 and k}
    api = {jm.parts[1].classes[i].nodes: m for (p, i, m), k in result.nodes.items() if p == 1 and k}
    assert web == {(0,): 2}
    assert api == {(1,): 2, (2,): 2}


def test_recommendation_reaches_the_hand_derived_plan():
    result = recommend(moving_request())
    web, api = result.services
    assert web.pods_per_node == {"n0": 2}
    assert api.pods_per_node == {"n1": 2, "n2": 2}
    assert result.status == "optimal"
    assert result.statistics.joint_status == "optimal"


def test_a_service_pushed_above_its_own_replicas_may_move_fewer_pods_than_its_own_optimum():
    # web alone: 3 Pods even is 1/1/1 (3 on one node does not fit 2 cpu), so on n0, n1 and n2: 1 Pod created on n2;
    # own optimum replicas 3, moves 1. api alone: 3 on n2. Together n2 is full, so web cannot be even with 3 Pods
    # (two nodes of 2 cpu take 1/1 or 2/2, never 3 evenly) and needs 4: 2/2 on n0, n1, which it runs now: 0 moves,
    # below its own optimum of 1. The replicas stage's bound is 3 (own optima), the packing proves 4; the moves
    # bound must then not count web's own 1 (it holds only at web's own 3 replicas): it is 0, reached by the plan.
    req = more_replicas_request()
    _, jm, binding = _joint(req)
    assert _order(jm) == ["balance", "balance", "replicas", "moves", "spread"]
    optima = {0: {"balance": EVEN, "replicas": 3, "moves": 1}, 1: {"balance": EVEN}}
    balance = [("balance", EVEN), ("balance", 2 * EVEN)]
    pk = build_packing(jm.parts, binding, optima, balance, "replicas", order=_order(jm))
    assert pk is not None
    replicas = pack(pk, budget=5.0, seed=1, wall=60.0)
    assert (replicas.value, replicas.bound, replicas.optimal) == (4, 4, True)
    pk = build_packing(jm.parts, binding, optima, [*balance, ("replicas", 4)], "moves", order=_order(jm))
    assert pk is not None
    moves = pack(pk, budget=5.0, seed=1, wall=60.0)
    assert (moves.value, moves.bound, moves.optimal) == (0, 0, True)
    result = recommend(req)
    web, api = result.services
    assert web.pods_per_node == {"n0": 2, "n1": 2}
    assert api.pods_per_node == {"n2": 3}
    assert result.statistics.joint_status == "optimal"


def test_packing_too_large_to_solve_quickly_is_not_built(monkeypatch):
    # one column per Service, node class and m: web has m = 1 or 2 on 3 single-node classes, api only m = 2 (m = 1
    # needs 4 nodes of the 3, m = 4 exceeds the cap of 2 per node): 6 + 3 = 9 columns
    _, jm, binding = _joint(moving_request())
    optima = {0: {"balance": EVEN, "moves": 0}, 1: {"balance": EVEN, "moves": 0}}
    balance = [("balance", EVEN), ("balance", 2 * EVEN)]
    pk = build_packing(jm.parts, binding, optima, balance, "moves", order=_order(jm))
    assert pk is not None
    assert len(pk.columns) == 9
    monkeypatch.setattr("planner.optimizer.packing.MAX_COLUMNS", 8)
    assert build_packing(jm.parts, binding, optima, balance, "moves", order=_order(jm)) is None


def test_packing_applies_only_where_the_earlier_stages_force_equal_pods_per_node():
    _, jm, binding = _joint(moving_request())
    # both replica counts are fixed, so the stages are: worst ratio, sum of ratios, moves, spread
    assert _order(jm) == ["balance", "balance", "moves", "spread"]
    even = {0: {"balance": EVEN, "moves": 0}, 1: {"balance": EVEN, "moves": 0}}
    balance = [("balance", EVEN), ("balance", 2 * EVEN)]
    assert build_packing(jm.parts, binding, even, balance, "moves", order=_order(jm)) is not None
    # a ratio above 1.0 allows uneven nodes (N / (K m) = 1.2 with m the smallest node): no packing
    uneven = {0: {"balance": EVEN, "moves": 0}, 1: {"balance": 1_200_000, "moves": 0}}
    assert build_packing(jm.parts, binding, uneven, balance, "moves", order=_order(jm)) is None
    # balance not fixed before the stage, or stages out of the default order: no packing
    assert build_packing(jm.parts, binding, even, [], "moves", order=_order(jm)) is None
    assert build_packing(jm.parts, binding, even, balance, "moves", order=["moves", "balance", "spread"]) is None
    # with moves before replicas, a Service's own fewest replicas assume its own fewest moves: no packing
    later = ["balance", "moves", "replicas", "spread"]
    assert build_packing(jm.parts, binding, even, [*balance, ("moves", 1)], "replicas", order=later) is None
    # a Service without its own optimum for moves
    assert build_packing(jm.parts, binding, {0: even[0]}, balance, "moves", order=_order(jm)) is None
    # IP targets without cross-zone balancing: a ratio of 1.0 means equal Pods per zone, not per node
    nodes = equal_nodes(3, cpu="2")
    lb = {"model": "ipTargets", "crossZone": False}
    goals = [
        {"plan": plan("web", replicas=2, cpu="1", lb=lb, placement={"n0": 1, "n1": 1})},
        {"plan": plan("api", replicas=4, cpu="1", placement={"n1": 2, "n2": 2})},
    ]
    _, jm, binding = _joint(request(cluster(nodes), goals))
    assert build_packing(jm.parts, binding, even, balance, "moves", order=_order(jm)) is None


@st.composite
def even_pairs(draw):
    nodes = drawn_nodes(draw, (3, 4), (1, 4))
    count = len(nodes)
    goals = []
    for name in ("web", "api"):
        low = draw(st.integers(1, 4))
        high = low + draw(st.integers(0, 2))
        running = draw(st.lists(st.integers(0, 2), min_size=count, max_size=count))
        placement = {f"n{i}": k for i, k in enumerate(running) if k}
        goal = {
            "plan": plan(name, replicas=low, cpu="1", placement=placement or None),
            "highAvailability": {"minNodes": draw(st.integers(1, 2)), "minZones": draw(st.integers(1, 2))},
            "replicaRange": {"min": low, "max": high},
        }
        goals.append(goal)
    return request(cluster(nodes), goals, includeManifests=False)


def _even_options(svc, inst):
    """Every valid placement of the Service alone whose engine-scored hottest ratio is exactly 1."""
    out = []
    for combo in itertools.product(range(svc.replicas_max + 1), repeat=inst.cluster.size):
        pods = np.array(combo, dtype=np.int64)
        if not svc.replicas_min <= int(pods.sum()) <= svc.replicas_max:
            continue
        if violations(svc, inst.cluster, inst.free, pods):
            continue
        if score(svc, inst.cluster, pods).hottest_ratio == pytest.approx(1.0, abs=1e-9):
            out.append(pods)
    return out


def _moves(svc, pods):
    return int(np.maximum(pods - svc.current, 0).sum())


def _spread(inst, pods):
    used = pods > 0
    return (inst.cluster.size + 1) * len({int(z) for z in inst.cluster.zone[used]}) + int(used.sum())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(even_pairs())
def test_packing_bounds_never_beat_brute_force_and_its_plans_reach_it(req):
    inst, jm, binding = _joint(req)
    options = [_even_options(svc, inst) for svc in inst.services]
    if not all(options):
        event("not even alone")
        return  # some Service cannot be even alone: the packing does not apply
    ranged = [svc.replicas_min != svc.replicas_max for svc in inst.services]
    running = [int(svc.current.sum()) > 0 for svc in inst.services]
    # each Service's own lexicographic optimum after balance (ratio 1): fewest replicas, then fewest moves
    optima = {}
    for svc, opts, r, m in zip(inst.services, options, ranged, running, strict=True):
        own = {"balance": EVEN}
        fewest = min(int(p.sum()) for p in opts)
        if r:
            own["replicas"] = fewest
        if m:
            own["moves"] = min(_moves(svc, p) for p in opts if int(p.sum()) == fewest)
        optima[svc.index] = own
    # the joint lexicographic optimum over every pair of even plans that fit together
    best = None
    web, api = inst.services
    for a, b in itertools.product(*options):
        if ((a[:, None] * web.request + b[:, None] * api.request) > inst.free).any():
            continue
        replicas = sum(int(p.sum()) for p, r in zip((a, b), ranged, strict=True) if r)
        moves = sum(_moves(s, p) for s, p, m in zip(inst.services, (a, b), running, strict=True) if m)
        key = (replicas, moves, -(_spread(inst, a) + _spread(inst, b)))
        best = key if best is None or key < best else best
    if best is None:
        event("not even together")
        return  # both cannot be even together: the balance stages miss their bound and the packing never runs
    replicas, moves, spread = best[0], best[1], -best[2]
    stages = [("balance", EVEN), ("balance", 2 * EVEN)]
    # replicas and moves are minimised (the bound is at most the optimum), spread maximised (at least it)
    for term, optimum, present in (
        ("replicas", replicas, any(ranged)),
        ("moves", moves, any(running)),
        ("spread", spread, True),
    ):
        if not present:
            continue
        pk = build_packing(jm.parts, binding, optima, stages, term, order=_order(jm))
        assert pk is not None
        result = pack(pk, budget=5.0, seed=1, wall=60.0)
        assert result.bound is not None
        assert result.bound >= optimum if term == "spread" else result.bound <= optimum
        assert result.value == optimum
        stages.append((term, optimum))


def test_capacity_pressure_is_proven_within_a_small_budget_and_repeats_exactly():
    # The same 40 nodes x 8 Services under capacity pressure as the timed-out joint test, cross-zone balancing on:
    # every coupled Service is even at its own optimum (ratio 1.0), so the packing bounds and hints the replicas,
    # moves and spread stages, and the joint model proves all of them within 0.15 s of deterministic budget, the
    # same way twice. Only the deterministic limit may stop the search (the wall clock is set far away).
    bench = _bench()
    req = bench.build(40, 8, (4, 12), pressure=True, node_loss=False, seed=1, time_limit=0.15)
    req = msgspec.structs.replace(req, solver=msgspec.structs.replace(req.solver, wall_clock_limit_seconds=600))
    first, second = recommend(req), recommend(req)
    assert first.statistics.decomposition == "joint"
    assert first.statistics.joint_choice == "joint"
    assert first.statistics.joint_status == "optimal"
    assert [s.status for s in first.stages] == ["optimal"] * 4
    assert [s.pods_per_node for s in first.services] == [s.pods_per_node for s in second.services]
    summary = bench.summarize(first)
    assert summary["never_worse"]
    assert summary["plan_unplaced"] == 0
    assert summary["plan_worst"] == pytest.approx(1.0)


def _through_the_modelling_layer(pk: Packing, hint: dict[int, int]) -> cp_model.CpModel:
    """The packing written one modelling-layer call per row (how ``_model`` wrote it before proto text)."""
    model = cp_model.CpModel()
    xs = [model.new_int_var(0, u, "") for u in pk.upper]
    for v, value in hint.items():
        model.add_hint(xs[v], value)
    for terms, lo, hi in pk.rows:
        expr = sum(coef * xs[v] for v, coef in terms)
        if lo == hi:
            model.add(expr == int(lo))
            continue
        if lo != -math.inf:
            model.add(expr >= math.ceil(lo))
        if hi != math.inf:
            model.add(expr <= math.floor(hi))
    model.minimize(sum(c * xs[v] for v, c in enumerate(pk.cost) if c))
    return model


def test_proto_text_is_the_modelling_layers_model():
    # rows of every kind: written as text (an equality, a lower bound, an upper bound, both, terms out of order) and
    # through the modelling layer (a repeated variable, a zero coefficient), which must keep the rows' order
    pk = Packing()
    a, b, c = pk.var(3, cost=2), pk.var(4, cost=-1), pk.var(5)
    pk.row([(a, 1), (b, 1)], 2, 2)
    pk.row([(c, 2), (a, 1)], 1.5, math.inf)
    pk.row([(b, 1), (b, 2)], -math.inf, 7)
    pk.row([(a, 3), (c, 0)], 1, 6.5)
    pk.row([(c, 1)], -math.inf, 4)
    hint = {a: 1, b: 1, c: 1}
    ours = packing_module._model(pk, hint)
    assert str(ours.proto) == str(_through_the_modelling_layer(pk, hint).proto)
    # minimise 2a - b with a + b = 2, 2c + a >= 2, 3b <= 7, 1 <= 3a <= 6, c <= 4: b = 2 (3b <= 7) leaves a = 0, but
    # 3a >= 1 needs a >= 1, so a = 1, b = 1 (2 - 1 = 1), c >= 1/2 so c >= 1: objective 2 - 1 = 1
    result = pack(pk, budget=1.0, seed=1, wall=5.0)
    assert result.optimal
    assert result.value == 1
