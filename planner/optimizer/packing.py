"""The joint model's later stages once balance is settled: a packing that bounds them and hints them.

When the joint model's balance stages sit at their known bounds, every coupled Service is at its own optimal ratio
(``joint.joint_terms``). For the nodeEqual model with cross-zone balancing, a scaled ratio R = 10^6 (exactly 1.0)
means equal Pods on every used node: R D >= 10^6 N with D = K m (m at most the smallest used node) gives
K m >= N, and N is the sum of K nodes that each hold at least m Pods, so every used node holds exactly m, and m
divides N. No other load-balancer model, and no larger ratio, implies this. The fewest-replicas, fewest-moves and
spread stages are then a packing: each Service picks a replica count N and m, and N / m nodes that each take m
of its Pods, within the joint capacity of the nodes where capacity binds.

Disaggregated formulation: w_{s,N,m} = 1 when Service s runs N replicas with m per node, z_{s,c,m} = nodes of class
c holding m Pods of s (binary on the single-node classes where capacity binds)::

    sum_{N,m} w_{s,N,m} = 1                      sum_c z_{s,c,m} = sum_N (N / m) w_{s,N,m}
    z_{s,c,m} <= |c| sum_N w_{s,N,m}             sum_m z_{s,c,m} <= |c|
    sum_{c in zone} z_{s,c,m} <= sum_N (N / m - (minZones - 1)) w_{s,N,m}   (minZones >= 2: no zone has all)
    sum_{s,m} request_{s,r} m z_{s,c,m} <= free_{c,r}    (every node where capacity binds, every resource)

N ranges from the Service's own fewest replicas (at its own ratio no shared plan needs fewer) to its maximum,
less what the other Services need when the replicas stage is done (their sum is at most that stage's value).
Pods created on class c are max(0, m - current_c) per node (the model's max(0, y_c - current_c u_c) with
y_c = m u_c), at least the Service's own fewest moves when it runs its own fewest replicas, and in sum at most the
moves stage's value once that stage is done. Spread is (nodes + 1) per used zone plus one per used node.

Every constraint holds for every joint plan that meets the earlier stages, so the packing relaxes the stage:
CP-SAT's bound on it (its optimum, when proven) is a bound for the stage. It is small (one variable per Service,
class and m) and CP-SAT solves it quickly, and its plan, completed into a full joint solution, hints the stage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from planner.engine.metrics import IntArray
from planner.optimizer.cpmodel import CpModel
from planner.optimizer.model import RATIO_SCALE, ServiceModel
from planner.optimizer.schema import ObjectiveTerm

CANONICAL: tuple[ObjectiveTerm, ...] = ("balance", "replicas", "moves", "spread")
"""The stage order the formulation is derived for (the default objective order)."""
MAX_COLUMNS = 20_000
"""Largest packing built (one column per Service, class and m): 100 nodes x 20 Services under capacity pressure
give 1,500-2,600, solved in 0.2-0.8 deterministic seconds; 1,000 nodes x 50 Services give about 50,000, where
CP-SAT finds no packing within 3 deterministic seconds (13 s of wall clock)."""
BOUND_TOLERANCE = 1e-6
"""Slack allowed on CP-SAT's objective bound before rounding it up to an integer."""


@dataclass
class Packing:
    """The disaggregated formulation as plain rows (variables are non-negative, bounded above)."""

    upper: list[int] = field(default_factory=list)
    cost: list[int] = field(default_factory=list)
    rows: list[tuple[list[tuple[int, int]], float, float]] = field(default_factory=list)
    """Linear rows: (variable, coefficient) pairs, lower and upper bound."""
    columns: dict[tuple[int, int, int], int] = field(default_factory=dict)
    """z variable index by (part, class, m)."""
    choices: dict[tuple[int, int, int], int] = field(default_factory=dict)
    """w variable index by (part, N, m)."""
    zones: dict[tuple[int, int], int] = field(default_factory=dict)
    """Zone-used variable index by (part, zone), for the spread objective."""
    parts: list[int] = field(default_factory=list)
    """Parts (positions in ``JointModel.parts``) in the formulation."""
    maximize: bool = False
    """``cost`` holds the negated objective (spread is maximised)."""

    def var(self, upper: int, cost: int = 0) -> int:
        self.upper.append(upper)
        self.cost.append(cost)
        return len(self.upper) - 1

    def row(self, terms: list[tuple[int, int]], lower: float, upper: float) -> None:
        self.rows.append((terms, lower, upper))


def equal_per_node(sm: ServiceModel, optimum: dict[ObjectiveTerm, int] | None, earlier: set[ObjectiveTerm]) -> bool:
    """Whether the earlier stages force the same Pods on every used node of this Service.

    That holds for the nodeEqual model with cross-zone balancing once its ratio is fixed at exactly 1.0 (see the
    module docstring); no other load-balancer model or ratio implies it.
    """
    svc = sm.svc
    if svc.balance_model != "nodeLocal" or not svc.cross_zone or sm.ratio_var is None or optimum is None:
        return False
    return "balance" in earlier and optimum.get("balance") == RATIO_SCALE


def build_packing(
    parts: list[ServiceModel],
    binding: dict[tuple[int, ...], IntArray],
    optima: dict[int, dict[ObjectiveTerm, int]],
    stages: list[tuple[ObjectiveTerm, int]],
    objective: ObjectiveTerm,
    *,
    order: Sequence[ObjectiveTerm],
) -> Packing | None:
    """The formulation for the stage ``objective`` (replicas, moves or spread) after ``stages`` (term, value
    reached) held every coupled Service at its own optimum for balance, or None when it does not apply: the joint
    model's stages (``order``, the terms some coupled Service has) do not follow ``CANONICAL`` from balance on,
    ``stages`` are not exactly those before ``objective``, or some Service lacks the equal structure
    (``equal_per_node``) or its own optima. (A Service's own optimum for a term bounds it in a shared plan only
    while the terms before it sit at the Service's own optima, which is why the order matters.)

    ``binding`` maps each class where capacity binds (its node tuple) to the capacity left there. Replica counts
    range from the Service's own fewest replicas (no shared plan needs fewer at the same ratio) to its maximum,
    and sum at most to the replicas stage's value once that stage is done; a Service at its own replicas moves at
    least its own fewest Pods, and the moves sum at most to the moves stage's value once that stage is done.
    Spread counts each used zone (nodes + 1) times and each used node once, as ``ServiceModel.term`` does.
    """
    earlier = {term for term, _ in stages}
    names = list(dict.fromkeys(order))
    if objective == "balance" or objective not in names or names != [t for t in CANONICAL if t in names]:
        return None
    if names[0] != "balance" or list(dict.fromkeys(term for term, _ in stages)) != names[: names.index(objective)]:
        return None
    ranged_parts = [sm for sm in parts if sm.svc.replicas_min != sm.svc.replicas_max]
    if any("replicas" not in optima.get(sm.svc.index, {}) for sm in ranged_parts):
        return None
    # with the replicas stage at V, a Service has at most V minus the others' own fewest replicas
    slack = min((v for t, v in stages if t == "replicas"), default=None)
    if slack is not None:
        slack -= sum(optima[sm.svc.index]["replicas"] for sm in ranged_parts)
        if slack < 0:
            return None
    all_patterns: list[list[tuple[int, int]]] = []
    for sm in parts:
        own = optima.get(sm.svc.index)
        if own is None or not equal_per_node(sm, own, earlier):
            return None
        if sm.moves is not None and "moves" not in own and objective != "replicas":
            return None
        svc = sm.svc
        own_replicas = own.get("replicas", svc.replicas_min)
        most = svc.replicas_max if slack is None else min(svc.replicas_max, own_replicas + slack)
        cap = max((c.cap for c in sm.classes), default=0)
        usable = sum(c.size for c in sm.classes)
        patterns = [
            (n, m)
            for n in range(own_replicas, most + 1)
            for m in range(1, min(n, cap) + 1)
            if n % m == 0 and svc.min_nodes <= n // m <= usable
        ]
        if not patterns:
            return None
        all_patterns.append(patterns)
    columns = sum(
        sum(1 for m in {m for _, m in patterns} for c in sm.classes if m <= c.cap)
        for sm, patterns in zip(parts, all_patterns, strict=True)
    )
    if columns > MAX_COLUMNS:
        return None
    pk = Packing()
    usage: dict[tuple[int, ...], list[list[tuple[int, int]]]] = {}
    replicas_row: list[tuple[int, int]] = []
    moves_row: list[tuple[int, int]] = []
    for p, (sm, patterns) in enumerate(zip(parts, all_patterns, strict=True)):
        svc, own = sm.svc, optima[sm.svc.index]
        ranged = svc.replicas_min != svc.replicas_max
        own_replicas = own.get("replicas", svc.replicas_min)
        own_moves = own.get("moves") if sm.moves is not None else None
        pk.parts.append(p)
        pk.maximize = objective == "spread"
        choice = {(n, m): pk.var(1, n if objective == "replicas" and ranged else 0) for n, m in patterns}
        pk.choices.update({(p, n, m): w for (n, m), w in choice.items()})
        pk.row([(w, 1) for w in choice.values()], 1, 1)
        if ranged:
            replicas_row += [(w, n) for (n, _), w in choice.items()]
        per_m: dict[int, list[tuple[int, int]]] = {}
        for (n, m), w in choice.items():
            per_m.setdefault(m, []).append((w, n))
        moved: list[tuple[int, int]] = []
        for i, c in enumerate(sm.classes):
            here = []
            for m, ws in per_m.items():
                if m > c.cap:
                    continue
                cost = max(0, m - c.current) if sm.moves is not None else 0
                z = pk.var(c.size, cost if objective == "moves" else -1 if objective == "spread" else 0)
                pk.columns[p, i, m] = z
                here.append(z)
                pk.row([(z, 1), *((w, -c.size) for w, _ in ws)], -math.inf, 0)
                if cost:
                    moved.append((z, cost))
                if c.nodes in binding:
                    usage.setdefault(c.nodes, [[], [], []])
                    for r in range(3):
                        if int(svc.request[r]) > 0:
                            usage[c.nodes][r].append((z, int(svc.request[r]) * m))
            if here:
                pk.row([(z, 1) for z in here], 0, c.size)
        zones = sorted({c.zone for c in sm.classes})
        if objective == "spread":
            for zone in zones:
                a = pk.zones[p, zone] = pk.var(1, -(sm.total_nodes + 1))
                inside = [(z, -1) for (q, i, _), z in pk.columns.items() if q == p and sm.classes[i].zone == zone]
                pk.row([(a, 1), *inside], -math.inf, 0)
        for m, ws in per_m.items():
            cols = [(pk.columns[p, i, m], 1) for i in range(len(sm.classes)) if (p, i, m) in pk.columns]
            pk.row([*cols, *((w, -(n // m)) for w, n in ws)], 0, 0)
            if svc.min_zones >= 2:
                for zone in zones:
                    inside = [
                        (pk.columns[p, i, m], 1)
                        for i, c in enumerate(sm.classes)
                        if c.zone == zone and (p, i, m) in pk.columns
                    ]
                    if inside:
                        pk.row([*inside, *((w, -(n // m - svc.min_zones + 1)) for w, n in ws)], -math.inf, 0)
        if objective != "replicas" and own_moves:
            # at its own replicas it moves at least its own fewest Pods
            at_own = [(w, -own_moves) for (n, _), w in choice.items() if n == own_replicas]
            pk.row([*moved, *at_own], 0, math.inf)
        moves_row += moved
    for term, value in stages:
        if term == "replicas":
            pk.row(replicas_row, -math.inf, value)
        if term == "moves":
            pk.row(moves_row, -math.inf, value)
    for nodes, rows in usage.items():
        for r in range(3):
            if rows[r]:
                pk.row(rows[r], -math.inf, float(binding[nodes][r]))
    return pk


@dataclass
class PackResult:
    nodes: dict[tuple[int, int, int], int] | None
    """Nodes per (part, class, m) of the best packing found; None when none was found."""
    value: int | None
    """Its objective (replicas, moves or spread)."""
    bound: int | None
    """No joint plan does better in this stage (the packing relaxes the joint model at this point)."""
    optimal: bool
    spent: float
    wall_cut: bool


def packing_hint(pk: Packing, parts: list[ServiceModel], hint: dict[int, int]) -> dict[int, int] | None:
    """The packing's variables for a joint solution (``hint``: value by joint variable index), or None when that
    solution does not have the equal structure or uses a pattern outside the formulation."""
    out = dict.fromkeys(range(len(pk.upper)), 0)
    for p in pk.parts:
        sm = parts[p]
        total, per_node = 0, None
        for i in range(len(sm.classes)):
            u, y = hint.get(sm.u[i].index, 0), hint.get(sm.y[i].index, 0)
            if u == 0:
                continue
            if y % u or (per_node is not None and y // u != per_node) or (p, i, y // u) not in pk.columns:
                return None
            per_node = y // u
            out[pk.columns[p, i, per_node]] = u
            total += y
        if per_node is None or (p, total, per_node) not in pk.choices:
            return None
        out[pk.choices[p, total, per_node]] = 1
        for (q, zone), a in pk.zones.items():
            if q == p:
                out[a] = int(any(hint.get(sm.u[i].index, 0) > 0 for i, c in enumerate(sm.classes) if c.zone == zone))
    return out


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _model(pk: Packing, hint: dict[int, int] | None) -> cp_model.CpModel:
    """The formulation as a CP-SAT model, written as proto text and parsed at once: the same proto as through the
    modelling layer (variables in order, each row's terms sorted by variable, ``>=`` before ``<=``, an objective
    with scaling factor 1) in about 60 % of its Python time. A row with a repeated variable, a zero coefficient or
    no terms goes through the modelling layer, which merges or folds them."""
    model = CpModel()
    text = [f"variables {{ domain: [0, {u}] }}" for u in pk.upper]
    if hint:
        text.append(f"solution_hint {{ vars: [{_join(hint.keys())}] values: [{_join(hint.values())}] }}")
    for terms, lo, hi in pk.rows:
        ordered = sorted(terms)
        variables = [v for v, _ in ordered]
        coefficients = [c for _, c in ordered]
        if ordered and 0 not in coefficients and len(set(variables)) == len(variables):
            head = f"constraints {{ linear {{ vars: [{_join(variables)}] coeffs: [{_join(coefficients)}] domain: "
            if lo == hi:
                text.append(f"{head}[{int(lo)}, {int(lo)}] }} }}")
                continue
            if lo != -math.inf:
                text.append(f"{head}[{math.ceil(lo)}, {INT64_MAX}] }} }}")
            if hi != math.inf:
                text.append(f"{head}[{INT64_MIN}, {math.floor(hi)}] }} }}")
            continue
        # the rows so far first, so the constraints keep the rows' order
        model.proto.merge_text_format("\n".join(text))
        text = []
        expr = cp_model.LinearExpr.weighted_sum(
            [model.get_int_var_from_proto_index(v) for v in variables], coefficients
        )
        if lo == hi:
            model.add(expr == int(lo))
            continue
        if lo != -math.inf:
            model.add(expr >= math.ceil(lo))
        if hi != math.inf:
            model.add(expr <= math.floor(hi))
    costs = [(v, c) for v, c in enumerate(pk.cost) if c]
    text.append(
        f"objective {{ vars: [{_join(v for v, _ in costs)}] coeffs: [{_join(c for _, c in costs)}] scaling_factor: 1 }}"
    )
    model.proto.merge_text_format("\n".join(text))
    return model


def _join(values: Iterable[int]) -> str:
    return ", ".join(map(str, values))


def pack(
    pk: Packing,
    *,
    budget: float,
    seed: int,
    wall: float,
    hint: dict[int, int] | None = None,
    symmetry: bool = True,
    presolve_rounds: int | None = None,
) -> PackResult:
    """The formulation over integers, solved by CP-SAT with one worker within a deterministic ``budget``, from a
    ``hint`` (value by variable) when given; without ``symmetry`` CP-SAT does not look for symmetries, and
    ``presolve_rounds`` caps its presolve iterations (CP-SAT's default otherwise)."""
    model = _model(pk, hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = max(budget, 0.01)
    solver.parameters.max_time_in_seconds = max(wall, 0.001)
    # measured on the 22 packings of 100 x 20 under pressure (five seeds, with and without the N-1 bound): the
    # full linear relaxation needs about 10 % less deterministic time than the default (about the same wall time);
    # probing off, LP-guided or fixed search did not help
    solver.parameters.linearization_level = 2
    if presolve_rounds is not None:
        solver.parameters.max_presolve_iterations = presolve_rounds
    if not symmetry:
        solver.parameters.symmetry_level = 0
    code = solver.solve(model)
    spent = solver.deterministic_time
    cut = code not in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and spent < 0.98 * budget
    if code == cp_model.INFEASIBLE:
        return PackResult(None, None, None, optimal=False, spent=spent, wall_cut=cut)
    sign = -1 if pk.maximize else 1
    raw = solver.best_objective_bound
    valid = code in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN) and math.isfinite(raw)
    bound = sign * math.ceil(raw - BOUND_TOLERANCE) if valid else None
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return PackResult(None, None, bound, optimal=False, spent=spent, wall_cut=cut)
    solution = solver.response_proto.solution
    nodes = {key: int(solution[v]) for key, v in pk.columns.items()}
    value = sign * round(solver.objective_value)
    return PackResult(nodes, value, bound, code == cp_model.OPTIMAL, spent, cut)
