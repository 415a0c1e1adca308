"""Joint CP-SAT model for the Services that compete for capacity.

Only the coupled Services (those whose uncoupled optima overflow a node together) and the capacity the other
Services leave are modelled. Node classes are refined jointly: two nodes share a class when they are in the same
zone and, for every coupled Service, have the same eligibility, Pods that fit and current Pods. Where capacity
binds on a node (every coupled Service filling it to its own per-node cap would not fit), how the Services share
that node matters, so the node becomes a class of its own and its cpu, memory and Pod slots are a hard joint
constraint. Where capacity does not bind, the per-Service caps already guarantee the node fits, and the class
stays aggregated (this is what keeps thousands of similar nodes small).

Each Service keeps its own constraints (``model.ServiceModel`` built on the shared CP-SAT model) and a scaled
ratio R_s >= 10^6 N_s / D_s (its hottest-Pod ratio, rounded up to 10^-6). Objective, in stages (``stages.py``):

1. balance: minimise the worst R_s over the coupled Services, then (that optimum fixed) the sum of R_s, so that
   no Service is sacrificed for the others and, at equal worst case, every Service is as even as it can be;
2. replicas: fewest replicas in total; 3. moves: fewest Pods created in total; 4. spread: most zones and nodes,
   summed over the Services (or a weighted sum of the same terms, ``objective.weights``).

Once the balance stages sit at their known bounds with every Service even (ratio 1.0, nodeEqual with cross-zone
balancing), the replicas, moves and spread stages are a packing (``packing.py``) that CP-SAT solves quickly on
its own: before each of them, the packing's bound (valid given what the earlier stages fixed) is combined with
the stage's known bound, and its plan, completed into a full solution, replaces the hint when it is no worse.

The search is warm-started from the best placement known before it runs (the sequential re-solve or the best
baseline strategy, whichever the engine scores better), so a timed-out solve returns at least that plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from planner.engine.metrics import BoolArray, IntArray
from planner.optimizer.classes import NodeClass
from planner.optimizer.cpmodel import CpModel
from planner.optimizer.instance import Instance, ServiceInstance, pods_that_fit
from planner.optimizer.model import RATIO_SCALE, ServiceModel, Term, build_model, hint_all, hint_from_trial
from planner.optimizer.packing import build_packing, pack, packing_hint
from planner.optimizer.schema import ObjectiveTerm, SolverParams, SolveStatus, StageReport
from planner.optimizer.single import expand
from planner.optimizer.stages import Preparation, seconds_left, solve_stages, weighted_terms

HINT_DETERMINISTIC_SECONDS = 2.0
PACKING_SHARE = 0.5
"""Of a stage's budget, the part the packing (``packing.py``) may use before it."""
PACKING_WALL_SHARE = 0.8
"""Of the wall-clock time left, the part the packing may use (a packing plan at the stage's bound is only checked by
the stage, which takes a few hundredths of a second on 100 x 20)."""
COMPLETION_SECONDS = 0.5
"""Deterministic budget to complete the packing's class counts into a full joint solution (propagation, in practice)."""


@dataclass
class JointModel:
    services: list[ServiceInstance]
    free: IntArray
    """Capacity left for the coupled Services (free minus the Pods of the Services kept fixed)."""
    classes: list[tuple[int, ...]]
    """Node indices of each joint class."""
    binding: list[bool]
    """Whether capacity binds in the class (then it is a single node with a joint capacity constraint)."""
    model: cp_model.CpModel
    parts: list[ServiceModel] = field(default_factory=list)
    ratio_max: Any = None

    @property
    def variables(self) -> int:
        return len(self.model.proto.variables)

    def decision_vars(self) -> list[Any]:
        out: list[Any] = []
        for sm in self.parts:
            out.extend(sm.decision_vars())
        return out


@dataclass
class JointSolution:
    status: SolveStatus
    placements: dict[int, IntArray] | None
    """Pods per node by Service index; None when the solve found nothing."""
    stages: list[StageReport]
    variables: int
    classes: int
    binding_nodes: int
    branches: int = 0
    conflicts: int = 0
    wall_cut: bool = False


def joint_classes(
    services: list[ServiceInstance], free: IntArray, zone: IntArray
) -> tuple[list[tuple[int, ...]], list[bool]]:
    size = free.shape[0]
    fits = np.stack([np.minimum(pods_that_fit(free, s.request), s.replicas_max) for s in services])
    caps = np.minimum(fits, np.array([s.max_per_node for s in services])[:, None])
    usable = np.stack([s.eligible for s in services]) & (fits >= 1)
    caps = np.where(usable, caps, 0)
    requests = np.stack([s.request for s in services])  # (services, 3)
    demand = caps.T @ requests  # (nodes, 3): every coupled Service at its per-node cap
    binding: BoolArray = np.asarray((demand > free).any(axis=1), dtype=np.bool_)
    currents = np.stack([s.current for s in services])
    groups: dict[tuple[Any, ...], list[int]] = {}
    for n in range(size):
        if not usable[:, n].any():
            continue
        if binding[n]:
            key: tuple[Any, ...] = ("node", n)
        else:
            key = ("class", int(zone[n]), tuple(caps[:, n].tolist()), tuple(currents[:, n].tolist()))
        groups.setdefault(key, []).append(n)
    keys = sorted(groups, key=lambda k: groups[k][0])
    return [tuple(groups[k]) for k in keys], [k[0] == "node" for k in keys]


def service_classes(
    svc: ServiceInstance, classes: list[tuple[int, ...]], free: IntArray, zone: IntArray
) -> list[NodeClass]:
    """The joint classes (node tuples) this Service can use, as its own node classes."""
    firsts = np.fromiter((nodes[0] for nodes in classes), dtype=np.int64, count=len(classes))
    fit = np.minimum(pods_that_fit(free[firsts], svc.request), svc.replicas_max)
    usable = (svc.eligible[firsts] & (fit >= 1)).tolist()
    zones, fits, currents = zone[firsts].tolist(), fit.tolist(), svc.current[firsts].tolist()
    return [
        NodeClass(zone=zones[j], fit=fits[j], limit=svc.max_per_node, current=currents[j], eligible=True, nodes=nodes)
        for j, nodes in enumerate(classes)
        if usable[j]
    ]


def build_joint(services: list[ServiceInstance], inst: Instance, free: IntArray) -> JointModel:
    classes, binding = joint_classes(services, free, inst.cluster.zone)
    jm = JointModel(services=services, free=free, classes=classes, binding=binding, model=CpModel())
    members: dict[int, list[tuple[Any, IntArray]]] = {j: [] for j in range(len(classes))}
    for svc in services:
        local = service_classes(svc, classes, free, inst.cluster.zone)
        sm = build_model(svc, local, total_nodes=inst.cluster.size, model=jm.model, force_ratio=True)
        index = {c.nodes: i for i, c in enumerate(local)}
        for j, nodes in enumerate(classes):
            if nodes in index:
                members[j].append((sm.y[index[nodes]], svc.request))
        jm.parts.append(sm)
    for j, pairs in members.items():
        if not binding[j] or len(pairs) < 2:
            continue
        node = classes[j][0]
        for r in range(3):
            if any(int(req[r]) > 0 for _, req in pairs):
                jm.model.add(sum(int(req[r]) * y for y, req in pairs) <= int(free[node, r]))
    ratios = [sm.ratio_var for sm in jm.parts if sm.ratio_var is not None]
    if ratios:
        upper = max(sm.n_upper for sm in jm.parts)
        jm.ratio_max = jm.model.new_int_var(RATIO_SCALE, RATIO_SCALE * upper, "Rmax")
        for r in ratios:
            jm.model.add(jm.ratio_max >= r)
    return jm


def joint_terms(
    jm: JointModel,
    order: list[ObjectiveTerm],
    weights: dict[ObjectiveTerm, float] | None,
    optima: dict[int, dict[ObjectiveTerm, int]] | None = None,
) -> tuple[list[Term], list[int | None]]:
    """The joint objective as lexicographic stages (or one weighted stage when ``weights`` is given), and a known
    bound per stage from the Services' own optima (``optima``, by Service index; ``None`` where one is missing).

    No plan that shares capacity beats a Service's own optimum, so the worst ratio is at least the largest of
    the Services' optimal ratios, the sum at least their sum, and (once every earlier stage sits at its bound,
    i.e. every Service at its own optimum for the earlier terms) each later sum at least the sum of the optima.
    """
    per_term: dict[ObjectiveTerm, list[tuple[ServiceModel, Term]]] = {}
    for name in order:
        found = [(sm, t) for sm in jm.parts if (t := sm.term(name)) is not None]
        if found:
            per_term[name] = found
    terms: list[Term] = []
    bounds: list[int | None] = []
    for name, found in per_term.items():
        own = [(optima or {}).get(sm.svc.index, {}).get(name) for sm, _ in found]
        known = None if None in own else [int(v) for v in own if v is not None]
        if name == "balance":
            ratios = [sm.ratio_var for sm in jm.parts if sm.ratio_var is not None]
            worst = "worst hottest-Pod ratio over the Services"
            terms.append(Term("balance", jm.ratio_max, maximize=False, note=worst))
            terms.append(Term("balance", sum(ratios), maximize=False, note="sum of hottest-Pod ratios"))
            bounds += [None, None] if known is None else [max(known), sum(known)]
        else:
            terms.append(Term(name, sum(t.expr for _, t in found), maximize=found[0][1].maximize))
            bounds.append(None if known is None else sum(known))
    if weights:
        return weighted_terms(terms, weights, jm.model), []
    return terms, bounds


def hint_joint(
    jm: JointModel,
    placements: dict[int, IntArray],
    budget: float = HINT_DETERMINISTIC_SECONDS,
    deadline: float | None = None,
) -> bool:
    """Hint the variables from a placement of the coupled Services (completed by a solve with it fixed).

    With a placement for every Service the hint is a full solution. With some Services missing (a sequential
    re-solve that could not place them), the placed Services' class counts are hinted alone, which still guides
    the search. Returns whether a full solution was hinted.
    """
    trial = jm.model.clone()
    partial: list[tuple[Any, int]] = []
    for sm in jm.parts:
        pods = placements.get(sm.svc.index)
        if pods is None or int(pods[[n for c in sm.classes for n in c.nodes]].sum()) != int(pods.sum()):
            continue
        for i, c in enumerate(sm.classes):
            counts = pods[list(c.nodes)]
            partial.append((sm.u[i], int((counts > 0).sum())))
            partial.append((sm.y[i], int(counts.sum())))
    if len(partial) < 2 * sum(len(sm.classes) for sm in jm.parts):
        jm.model.clear_hints()  # type: ignore[no-untyped-call]
        for var, value in partial:
            jm.model.add_hint(var, value)
        return False
    for var, value in partial:
        trial.add(trial.get_int_var_from_proto_index(var.index) == value)
    if jm.ratio_max is not None:
        trial.minimize(trial.get_int_var_from_proto_index(jm.ratio_max.index))
    return hint_from_trial(jm.model, trial, budget=budget, deadline=deadline)


@dataclass
class PackingPreparation:
    """Before the fewest-replicas, fewest-moves and spread stages, while every earlier stage sits at its known bound:
    the packing of ``packing.py``. Its optimum (or its bound when the budget stops it) bounds the stage, and its plan,
    completed into a full solution of the joint model, becomes the hint when it is no worse than the current one."""

    jm: JointModel
    terms: list[Term]
    optima: dict[int, dict[ObjectiveTerm, int]]
    seed: int

    def __call__(self, position: int, reached: list[int], share: float, deadline: float) -> Preparation:
        jm = self.jm
        name = self.terms[position].term
        stages = [(t.term, v) for t, v in zip(self.terms[:position], reached, strict=True)]
        binding = {nodes: jm.free[nodes[0]] for nodes, b in zip(jm.classes, jm.binding, strict=True) if b}
        order = [t.term for t in self.terms]
        pk = build_packing(jm.parts, binding, self.optima, stages, name, order=order)
        if pk is None:
            return Preparation(None)
        hint = dict(zip(jm.model.proto.solution_hint.vars, jm.model.proto.solution_hint.values, strict=True))
        start = packing_hint(pk, jm.parts, hint)
        own = [self.optima[sm.svc.index].get(name) for sm in jm.parts if sm.term(name) is not None]
        known = None if None in own else sum(v for v in own if v is not None)
        if start is not None and known is not None:
            hinted = sum(pk.cost[v] * x for v, x in start.items())
            if hinted <= (-known if pk.maximize else known):
                return Preparation(None)  # the hint already reaches the Services' own optima: the stage's known bound
        wall = seconds_left(deadline) * PACKING_WALL_SHARE
        result = pack(pk, budget=share * PACKING_SHARE, seed=self.seed, wall=wall, hint=start)
        spent = result.spent
        if result.nodes is not None and result.value is not None:
            spent += self._adopt(name, result.nodes, result.value, deadline)
        return Preparation(result.bound, spent, result.wall_cut)

    def _adopt(self, name: ObjectiveTerm, nodes: dict[tuple[int, int, int], int], value: int, deadline: float) -> float:
        """Hint the joint model with the packing's plan if it does at least as well as the current hint (its class
        counts need max(0, y_c - current_c u_c) Pods created per class) and a full solution completes it; returns
        the deterministic time used."""
        jm = self.jm
        hint = dict(zip(jm.model.proto.solution_hint.vars, jm.model.proto.solution_hint.values, strict=True))
        trial = jm.model.clone()
        counts: dict[tuple[int, int], tuple[int, int]] = {}
        for (p, i, m), k in nodes.items():
            u, y = counts.get((p, i), (0, 0))
            counts[p, i] = (u + k, y + m * k)
        current = 0
        for p, sm in enumerate(jm.parts):
            if name == "replicas" and sm.svc.replicas_min != sm.svc.replicas_max:
                current += hint.get(sm.n_rep.index, 0)
            if name == "spread":
                current += (sm.total_nodes + 1) * sum(hint.get(a.index, 0) for a in sm.zone_active.values())
                current += sum(hint.get(u.index, 0) for u in sm.u)
            for i, c in enumerate(sm.classes):
                if name == "moves" and sm.moves is not None:
                    current += max(0, hint.get(sm.y[i].index, 0) - c.current * hint.get(sm.u[i].index, 0))
                u, y = counts.get((p, i), (0, 0))
                trial.add(trial.get_int_var_from_proto_index(sm.u[i].index) == u)
                trial.add(trial.get_int_var_from_proto_index(sm.y[i].index) == y)
        if (value < current) if name == "spread" else (value > current):
            return 0.0
        moved = [trial.get_int_var_from_proto_index(v.index) for sm in jm.parts for v in sm.moved]
        if moved:
            trial.minimize(sum(moved))
        else:
            trial.clear_objective()  # type: ignore[no-untyped-call]
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = self.seed
        solver.parameters.max_deterministic_time = COMPLETION_SECONDS
        solver.parameters.max_time_in_seconds = max(seconds_left(deadline), 0.001)
        code = solver.solve(trial)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            hint_all(jm.model, solver)
        return float(solver.deterministic_time)


def _describe(term: Term, objective: float, bound: float) -> tuple[float, float]:
    if term.term == "balance" and term.note is not None and "ratio" in term.note:
        return objective / RATIO_SCALE, bound / RATIO_SCALE
    return float(objective), float(bound)


def solve_joint(
    services: list[ServiceInstance],
    inst: Instance,
    free: IntArray,
    params: SolverParams,
    order: list[ObjectiveTerm],
    *,
    weights: dict[ObjectiveTerm, float] | None = None,
    hint: dict[int, IntArray] | None = None,
    deadline: float | None = None,
    optima: dict[int, dict[ObjectiveTerm, int]] | None = None,
) -> JointSolution:
    jm = build_joint(services, inst, free)
    binding_nodes = sum(1 for b in jm.binding if b)
    complete = hint is not None and hint_joint(
        jm, hint, min(HINT_DETERMINISTIC_SECONDS, params.time_limit_seconds / 4), deadline
    )
    terms, bounds = joint_terms(jm, order, weights, optima)
    decision = jm.decision_vars()
    prepare = PackingPreparation(jm, terms, optima, params.random_seed) if bounds and optima else None
    outcome = solve_stages(
        jm.model,
        terms,
        decision,
        params,
        describe=_describe,
        deadline=deadline,
        bounds=bounds or None,
        prepare=prepare,
        hint_is_solution=complete,
    )
    if outcome.values is None:
        status: SolveStatus = "infeasible" if any(s.status == "infeasible" for s in outcome.reports) else "timedOut"
        return JointSolution(
            status, None, outcome.reports, jm.variables, len(jm.classes), binding_nodes, wall_cut=outcome.wall_cut
        )
    placements: dict[int, IntArray] = {}
    offset = 0
    for sm in jm.parts:
        count = len(sm.decision_vars())
        values = {i: outcome.values[offset + i] for i in range(count)}
        offset += count
        placements[sm.svc.index] = expand(sm, values, inst.cluster.size)
    proven = len(outcome.reports) == len(terms) and all(s.status == "optimal" for s in outcome.reports)
    return JointSolution(
        "optimal" if proven else "feasible",
        placements,
        outcome.reports,
        jm.variables,
        len(jm.classes),
        binding_nodes,
        outcome.branches,
        outcome.conflicts,
        outcome.wall_cut,
    )
