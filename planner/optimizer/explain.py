"""Explain why a Service has no placement: the smallest set of conflicting rules, in the user's terms.

The Service's model is rebuilt with every constraint group behind an assumption literal (ineligible and full
nodes included, so that eligibility and capacity are rules that can be relaxed). CP-SAT returns a sufficient set
of assumptions for infeasibility; it is shrunk to a minimal one by dropping each member and re-solving. Then each
member of the minimal set is relaxed alone to find a change that makes the Service feasible.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ortools.sat.python import cp_model

from planner.optimizer.classes import NodeClass, build_classes
from planner.optimizer.eligibility import untolerated_taint
from planner.optimizer.instance import Instance, ServiceInstance, pods_that_fit
from planner.optimizer.model import GROUPS, ServiceModel, build_model
from planner.optimizer.schema import Conflict, Explanation, SolverParams
from planner.optimizer.stages import configure

EXPLAIN_SECONDS = 5.0


def _solve(
    sm: ServiceModel, active: list[str], params: SolverParams, deadline: float | None = None
) -> tuple[Any, cp_model.CpSolver]:
    sm.model.clear_assumptions()
    sm.model.add_assumptions([sm.literals[g] for g in active])
    solver = cp_model.CpSolver()
    configure(solver, params, min(params.time_limit_seconds, EXPLAIN_SECONDS), deadline=deadline)
    solver.parameters.num_workers = 1
    return solver.solve(sm.model), solver


def _fmt_zones(inst: Instance, zones: set[int]) -> str:
    names = [inst.cluster.zone_names[z] if z >= 0 else "(no zone)" for z in sorted(zones)]
    return ", ".join(names) if names else "none"


def _usable(classes: list[NodeClass]) -> list[NodeClass]:
    return [c for c in classes if c.eligible and c.cap >= 1]


def _why_ineligible(svc: ServiceInstance, inst: Instance) -> str:
    counts = Counter(r for r in svc.reasons if r is not None)
    if not counts:
        return "every node is eligible"
    return "; ".join(f"{n} node{'s' if n > 1 else ''}: {reason}" for reason, n in counts.most_common(3))


def _message(group: str, svc: ServiceInstance, inst: Instance, classes: list[NodeClass]) -> str:
    usable = _usable(classes)
    zones = {c.zone for c in usable}
    nodes = sum(c.size for c in usable)
    eligible_nodes = int((svc.eligible & inst.cluster.node_up).sum())
    if group == "minZones":
        return (
            f"requires {svc.min_zones} zones; only {len(zones)} zone(s) ({_fmt_zones(inst, zones)}) have nodes "
            f"where the Pods can run and fit ({_why_ineligible(svc, inst)})"
        )
    if group == "minNodes":
        return (
            f"requires {svc.min_nodes} nodes; only {nodes} eligible node(s) have room for a Pod "
            f"({_why_ineligible(svc, inst)})"
        )
    if group == "eligibility":
        return f"{eligible_nodes} of {inst.cluster.size} nodes are eligible ({_why_ineligible(svc, inst)})"
    if group == "capacity":
        slots = sum(c.cap * c.size for c in usable)
        cpu, mem = int(svc.request[0]), int(svc.request[1])
        return (
            f"free capacity on eligible nodes fits at most {slots} Pods requesting {cpu}m cpu and {mem} bytes "
            f"of memory (and within {svc.max_per_node} per node)"
        )
    if group == "maxPodsPerNode":
        return f"at most {svc.max_per_node} Pod(s) per node on {nodes} usable node(s)"
    if group == "replicaRange":
        return f"replicas must be between {svc.replicas_min} and {svc.replicas_max}"
    if group == "podCapacity":
        return (
            f"each Pod serves at most {svc.pod_capacity:g} conn/s and the Service receives {svc.traffic:g} "
            "conn/s, so the hottest Pod's share must stay below that"
        )
    if group == "nodeLoss":
        return f"after losing any node the hottest-Pod ratio must stay at most {svc.node_loss_max_ratio} with no drops"
    if group == "rollout":
        return (
            f"during a RollingUpdate (maxUnavailable Pods down in the worst place) the hottest-Pod ratio must stay "
            f"at most {svc.rollout_max_ratio}"
        )
    return f"after losing any zone the hottest-Pod ratio must stay at most {svc.zone_loss_max_ratio} with no drops"


def _relaxation(group: str, svc: ServiceInstance, inst: Instance, sm: ServiceModel, solver: cp_model.CpSolver) -> str:
    classes = sm.classes
    used = [(c, int(solver.value(sm.u[i])), int(solver.value(sm.y[i]))) for i, c in enumerate(classes)]
    used = [(c, u, y) for c, u, y in used if u > 0]
    if group == "minZones":
        zones = len({c.zone for c in _usable(classes)})
        return f"lower minZones to {zones}, or make a node in another zone eligible"
    if group == "minNodes":
        return f"lower minNodes to {sum(c.size for c in _usable(classes))}, or add eligible nodes"
    if group == "eligibility":
        taints: Counter[str] = Counter()
        other: Counter[str] = Counter()
        for c, _, _ in used:
            if c.eligible:
                continue
            node = inst.cluster.nodes[c.nodes[0]]
            taint = untolerated_taint(node, svc.pod_spec)
            if taint is not None:
                value = f"{taint.value}" if taint.value else ""
                op = "Equal" if taint.value else "Exists"
                taints[
                    f"add a toleration {{key: {taint.key}, operator: {op}"
                    + (f", value: {value}" if value else "")
                    + f", effect: {taint.effect}}}"
                ] += 1
            else:
                other[f"relax the node selection ({svc.reasons[c.nodes[0]]})"] += 1
        hints = [t for t, _ in taints.most_common(2)] + [o for o, _ in other.most_common(2)]
        return "; ".join(hints) if hints else "make more nodes eligible"
    if group == "capacity":
        short = []
        for c, u, y in used:
            if y > c.fit * u:
                zone = inst.cluster.zone_names[c.zone] if c.zone >= 0 else "(no zone)"
                per_node = -(-y // u)
                short.append(
                    f"add a node in zone {zone} with room for {per_node} Pods "
                    f"({per_node * int(svc.request[0])}m cpu, {per_node * int(svc.request[1])} bytes memory free)"
                )
        return "; ".join(short[:2]) if short else "free capacity on eligible nodes"
    if group == "maxPodsPerNode":
        most = max((-(-y // u) for _, u, y in used), default=svc.max_per_node)
        return f"allow {most} Pods per node"
    if group == "replicaRange":
        return f"allow {int(solver.value(sm.n_rep))} replicas"
    if group == "podCapacity":
        return (
            f"raise the per-Pod capacity or the replica count (a feasible plan has {int(solver.value(sm.n_rep))} "
            "replicas)"
        )
    if group == "nodeLoss":
        return "relax the node-loss ratio bound, or allow more nodes"
    if group == "rollout":
        return "relax the rollout ratio bound, lower maxUnavailable, or allow more replicas and nodes"
    return "relax the zone-loss ratio bound, or allow more zones"


def explain_infeasible(
    svc: ServiceInstance, inst: Instance, params: SolverParams, deadline: float | None = None
) -> Explanation:
    """The smallest set of conflicting rule groups and relaxations; every solve ends by ``deadline``."""
    classes = build_classes(svc, inst.free, inst.cluster.node_up, explain=True, zone=inst.cluster.zone)
    sm = build_model(svc, classes, total_nodes=inst.cluster.size, explain=True)
    groups = [g for g in GROUPS if g in sm.literals]
    code, solver = _solve(sm, groups, params, deadline)
    if code != cp_model.INFEASIBLE:
        return Explanation(
            service=svc.name, conflicts=[], relaxations=["the conflict could not be isolated within the time limit"]
        )
    names = {sm.literals[g].index: g for g in groups}
    core = [names[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in names] or groups
    for g in list(core):
        trial = [x for x in core if x != g]
        code, _ = _solve(sm, trial, params, deadline)
        if code == cp_model.INFEASIBLE:
            core = trial
    conflicts = [Conflict(group=g, message=_message(g, svc, inst, classes)) for g in core]
    relaxations: list[str] = []
    for g in core:
        code, solver = _solve(sm, [x for x in groups if x != g], params, deadline)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            relaxations.append(_relaxation(g, svc, inst, sm, solver))
    if not relaxations:
        relaxations.append("no single rule can be relaxed alone; relax several of: " + ", ".join(core))
    if not any(pods_that_fit(inst.free, svc.request)[svc.eligible] >= 1):
        relaxations.append("no eligible node has free capacity for even one Pod")
    return Explanation(service=svc.name, conflicts=conflicts, relaxations=relaxations)
