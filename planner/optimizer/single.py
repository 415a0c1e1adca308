"""Solve one Service exactly on its node classes, then expand class counts to concrete nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.engine.metrics import IntArray
from planner.optimizer.classes import NodeClass, build_classes
from planner.optimizer.instance import ClusterArrays, ServiceInstance
from planner.optimizer.model import RATIO_SCALE, ServiceModel, Term, build_model
from planner.optimizer.schema import ObjectiveTerm, SolverParams, SolveStatus, StageReport
from planner.optimizer.stages import solve_stages, weighted_terms

SKIP_NOTES: dict[ObjectiveTerm, str] = {
    "balance": "placement does not change the per-Pod share under this load-balancer model",
    "replicas": "the replica count is fixed",
    "moves": "the Service has no running Pods to keep",
    "spread": "",
}


@dataclass
class ServiceSolution:
    status: SolveStatus
    pods: IntArray | None
    stages: list[StageReport]
    solver_ratio: float | None
    classes: list[NodeClass]
    model: ServiceModel
    values: dict[int, int] | None
    branches: int = 0
    conflicts: int = 0
    notes: list[str] = field(default_factory=list)
    spent: float = 0.0
    """Solver budget used (deterministic units or seconds, as the limit is counted)."""
    wall_cut: bool = False
    """The request's wall-clock deadline cut this solve short."""
    optima: dict[ObjectiveTerm, int] = field(default_factory=dict)
    """Proven lexicographic optimum per leading term, in the joint model's units: balance as the scaled ratio
    R = ceil(10^6 N / D), the others as the term's own value. Lower bounds for any plan that shares capacity."""


def _class_base(sm: ServiceModel, values: dict[int, int], c: NodeClass) -> int:
    keys = list(sm.group_min)
    offset = 1 + 2 * len(sm.classes)
    mins = {k: values[offset + i] for i, k in enumerate(keys)}
    if sm.svc.balance_model != "nodeLocal":
        return 1
    key = -2 if sm.svc.cross_zone else c.zone
    return max(1, mins.get(key, 1))


def expand(sm: ServiceModel, values: dict[int, int], size: int, preference: IntArray | None = None) -> IntArray:
    """Concrete Pods per node for the class counts in ``values``.

    Every chosen node gets the group minimum m first, then nodes are raised toward the Pods they run now (so the
    moves equal the model's count), then the rest is spread one Pod at a time up to each node's cap.
    ``preference`` ranks nodes within a class (higher first), e.g. free capacity left by other Services.
    """
    pods = np.zeros(size, dtype=np.int64)
    nc = len(sm.classes)
    for i, c in enumerate(sm.classes):
        used, total = values[1 + i], values[1 + nc + i]
        if used == 0:
            continue
        nodes = list(c.nodes)
        if preference is not None:
            nodes.sort(key=lambda n: -int(preference[n]))
        chosen = nodes[:used]
        base = min(_class_base(sm, values, c), total // used)
        x = [base] * used
        rest = total - base * used
        keep = min(c.current, c.cap)
        for j in range(used):
            add = min(rest, max(0, keep - x[j]))
            x[j] += add
            rest -= add
        while rest > 0:
            progressed = False
            for j in range(used):
                if rest > 0 and x[j] < c.cap:
                    x[j] += 1
                    rest -= 1
                    progressed = True
            if not progressed:
                msg = "internal error: class counts do not fit their nodes"
                raise RuntimeError(msg)
        for n, count in zip(chosen, x, strict=True):
            pods[n] = count
    return pods


def _describe(sm: ServiceModel) -> object:
    def describe(term: Term, objective: float, bound: float) -> tuple[float, float]:
        if term.term != "balance":
            return float(objective), float(bound)
        if sm.ratio_var is not None:
            return objective / RATIO_SCALE, bound / RATIO_SCALE
        n = sm.svc.replicas_min
        return (n / objective if objective else float("inf")), (n / bound if bound else float("inf"))

    return describe


def solve_service(
    svc: ServiceInstance,
    cluster: ClusterArrays,
    free: IntArray,
    params: SolverParams,
    order: list[ObjectiveTerm],
    *,
    hint: IntArray | None = None,
    preference: IntArray | None = None,
    weights: dict[ObjectiveTerm, float] | None = None,
    deadline: float | None = None,
) -> ServiceSolution:
    classes = build_classes(svc, free, cluster.node_up, zone=cluster.zone)
    sm = build_model(svc, classes, total_nodes=cluster.size, force_ratio=bool(weights and "balance" in weights))
    complete = hint is not None and sm.hint_from_placement(hint, deadline=deadline)
    terms: list[Term] = []
    skipped: list[StageReport] = []
    names = [*order, *(w for w in (weights or {}) if w not in order)]
    for name in names:
        t = sm.term(name)
        if t is None:
            skipped.append(StageReport(term=name, status="skipped", note=SKIP_NOTES[name] or None))
        else:
            terms.append(t)
    if weights:
        terms = weighted_terms(terms, weights, sm.model)
    if not classes:
        stages = [StageReport(term=t.term, status="infeasible") for t in terms] + skipped
        return ServiceSolution("infeasible", None, stages, None, classes, sm, None)
    outcome = solve_stages(
        sm.model,
        terms,
        sm.decision_vars(),
        params,
        describe=_describe(sm),  # type: ignore[arg-type]
        deadline=deadline,
        hint_is_solution=complete,
    )
    stages = outcome.reports + skipped
    if outcome.values is None:
        status: SolveStatus = "infeasible" if any(s.status == "infeasible" for s in stages) else "timedOut"
        return ServiceSolution(
            status,
            None,
            stages,
            None,
            classes,
            sm,
            None,
            outcome.branches,
            outcome.conflicts,
            spent=outcome.spent,
            wall_cut=outcome.wall_cut,
        )
    pods = expand(sm, outcome.values, cluster.size, preference)
    solved = list(outcome.reports)
    status = (
        "optimal" if len(outcome.reports) >= len(terms) and all(s.status == "optimal" for s in solved) else "feasible"
    )
    ratio = next((s.objective for s in outcome.reports if s.term == "balance"), None)
    return ServiceSolution(
        status,
        pods,
        stages,
        ratio,
        classes,
        sm,
        outcome.values,
        outcome.branches,
        outcome.conflicts,
        list(sm.not_evaluated),
        outcome.spent,
        outcome.wall_cut,
        _optima(sm, terms, outcome.proven) if not weights else {},
    )


def _optima(sm: ServiceModel, terms: list[Term], proven: list[int]) -> dict[ObjectiveTerm, int]:
    out: dict[ObjectiveTerm, int] = {}
    for term, raw in zip(terms, proven, strict=False):
        value = raw
        if term.term == "balance" and sm.ratio_var is None:
            if raw <= 0:
                break
            value = -(-RATIO_SCALE * sm.svc.replicas_min // raw)  # R = ceil(10^6 N / D), N fixed
        out[term.term] = value
    return out
