"""``recommend``: the optimizer's entry point (synchronous, thread-safe, no shared state).

Decomposition: every Service is first solved exactly on its own, against the cluster's free capacity. If the
uncoupled optima fit together on every node, the combined plan is optimal for the whole request (each Service's
lexicographic objective is separable and reaches its own lower bound), and a certificate says so. Otherwise the
Services whose Pods overflow a node are re-solved one after another against the capacity the others leave, and
the plan is reported as feasible, not proven optimal. A Service whose solve returns nothing usable, or something
worse than the best baseline that meets every rule, keeps that baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import numpy as np

from planner.engine.metrics import BoolArray, IntArray
from planner.optimizer.baselines import run_baselines
from planner.optimizer.explain import explain_infeasible
from planner.optimizer.instance import Instance, ServiceInstance, build_instance, pods_that_fit
from planner.optimizer.manifests import render_manifests
from planner.optimizer.quality import measure
from planner.optimizer.schema import (
    BaselineReport,
    Explanation,
    PlacementQuality,
    Recommendation,
    RecommendRequest,
    ServiceRecommendation,
    SolverParams,
    SolveStatistics,
    SolveStatus,
    StageReport,
    StageStatus,
)
from planner.optimizer.single import ServiceSolution, solve_service
from planner.optimizer.validation import violations

FIRST_PASS_SHARE = 0.6
MIN_SOLVE_SECONDS = 0.05


def _share(params: SolverParams, budget: float, parts: int) -> SolverParams:
    """Solver parameters with an equal part of ``budget`` (deterministic units or seconds) per solve."""
    return msgspec.structs.replace(params, time_limit_seconds=max(budget / max(parts, 1), MIN_SOLVE_SECONDS))


_STATUS_RANK: dict[str, int] = {"optimal": 0, "skipped": 0, "feasible": 1, "timedOut": 2, "infeasible": 3}


def _node_map(names: tuple[str, ...], pods: IntArray) -> dict[str, int]:
    return {names[int(n)]: int(pods[n]) for n in np.flatnonzero(pods > 0)}


def _overloaded(inst: Instance, placements: dict[int, IntArray]) -> BoolArray:
    demand = np.zeros_like(inst.free)
    for si, pods in placements.items():
        demand += pods[:, None] * inst.services[si].request[None, :]
    over: BoolArray = np.asarray((demand > inst.free).any(axis=1), dtype=np.bool_)
    return over


def _baseline_reports(
    svc: ServiceInstance, inst: Instance, plan_quality: PlacementQuality | None
) -> tuple[list[BaselineReport], IntArray | None, float | None]:
    reports: list[BaselineReport] = []
    best: IntArray | None = None
    best_ratio: float | None = None
    for name, pods, unplaced in run_baselines(svc, inst.cluster, inst.free):
        quality = measure(svc, inst.cluster, pods)
        broken = violations(svc, inst.cluster, inst.free, pods, unplaced)
        improvement = None
        if plan_quality is not None and plan_quality.hottest_pod_ratio > 0:
            improvement = round(quality.hottest_pod_ratio / plan_quality.hottest_pod_ratio, 9)
        reports.append(
            BaselineReport(
                name=name,  # type: ignore[arg-type]
                replicas=int(pods.sum()),
                unplaced=unplaced,
                pods_per_node=_node_map(inst.cluster.node_names, pods),
                quality=quality,
                meets_constraints=not broken,
                violations=broken,
                hottest_ratio_improvement=improvement,
            )
        )
        if not broken and (best_ratio is None or quality.hottest_pod_ratio < best_ratio - 1e-12):
            best, best_ratio = pods, quality.hottest_pod_ratio
    return reports, best, best_ratio


def _with_improvement(reports: list[BaselineReport], quality: PlacementQuality) -> list[BaselineReport]:
    out = []
    for r in reports:
        ratio = round(r.quality.hottest_pod_ratio / quality.hottest_pod_ratio, 9) if quality.hottest_pod_ratio else None
        out.append(
            BaselineReport(
                name=r.name,
                replicas=r.replicas,
                unplaced=r.unplaced,
                pods_per_node=r.pods_per_node,
                quality=r.quality,
                meets_constraints=r.meets_constraints,
                violations=r.violations,
                hottest_ratio_improvement=ratio,
            )
        )
    return out


def recommend(request: RecommendRequest) -> Recommendation:
    """Recommend Pods per node for every Service in the request (see the module docstring)."""
    started = time.perf_counter()
    inst = build_instance(request)
    order = list(request.objective.order)
    params = request.solver
    size = inst.cluster.size

    baselines: dict[int, tuple[list[BaselineReport], IntArray | None, float | None]] = {}
    solutions: dict[int, ServiceSolution] = {}
    placements: dict[int, IntArray] = {}
    residual = inst.free.copy()
    # the budget is shared: 60 % for the per-Service solves, the rest for re-solving where capacity binds
    first_pass = _share(params, params.time_limit_seconds * FIRST_PASS_SHARE, len(inst.services))
    for svc in inst.services:
        baselines[svc.index] = _baseline_reports(svc, inst, None)
        preference = pods_that_fit(residual, svc.request)
        sol = solve_service(
            svc, inst.cluster, inst.free, first_pass, order, hint=baselines[svc.index][1], preference=preference
        )
        solutions[svc.index] = sol
        if sol.pods is not None:
            placements[svc.index] = sol.pods
            residual = np.maximum(residual - sol.pods[:, None] * svc.request[None, :], 0)

    decomposition = "uncoupled"
    coupled: list[int] = []
    over = _overloaded(inst, placements)
    if over.any():
        decomposition = "joint"
        coupled = [si for si, placed in placements.items() if (placed[over] > 0).any()]
        fixed = {si: p for si, p in placements.items() if si not in coupled}
        residual = inst.free.copy()
        for si, placed in fixed.items():
            residual = residual - placed[:, None] * inst.services[si].request[None, :]
        second_pass = _share(params, params.time_limit_seconds * (1 - FIRST_PASS_SHARE), len(coupled))
        for si in coupled:
            svc = inst.services[si]
            sol = solve_service(
                svc,
                inst.cluster,
                np.maximum(residual, 0),
                second_pass,
                order,
                hint=placements[si],
                preference=pods_that_fit(residual, svc.request),
            )
            if sol.status == "optimal":
                sol.status = "feasible"
            sol.notes.append(
                "Capacity is shared with other Services here: solved against the capacity they leave, "
                "so optimal only given their placement."
            )
            solutions[si] = sol
            if sol.pods is None:
                placements.pop(si, None)
            else:
                placements[si] = sol.pods
                residual = residual - sol.pods[:, None] * svc.request[None, :]

    services: list[ServiceRecommendation] = []
    explanations: list[Explanation] = []
    for svc in inst.services:
        sol = solutions[svc.index]
        reports, best, best_ratio = baselines[svc.index]
        pods: IntArray | None = sol.pods
        status: SolveStatus = sol.status
        source = "solver"
        notes = list(svc.notes) + sol.notes
        if pods is not None:
            quality = measure(svc, inst.cluster, pods)
            broken = violations(svc, inst.cluster, inst.free, pods)
            if broken or (
                status != "optimal" and best_ratio is not None and best_ratio < quality.hottest_pod_ratio - 1e-12
            ):
                if best is not None:
                    notes.append(
                        "The solver's plan was not better than the best baseline within the time limit; "
                        "the baseline is kept."
                    )
                    pods, source = best, "baseline"
                elif broken:
                    notes.append("The plan breaks: " + "; ".join(broken))
        elif best is not None and status == "timedOut":
            pods, source = best, "baseline"
            notes.append("No solution within the time limit; the best baseline that meets every rule is returned.")
        if pods is None:
            if status == "infeasible":
                explanations.append(explain_infeasible(svc, inst, params))
            services.append(
                ServiceRecommendation(
                    name=svc.name,
                    namespace=svc.namespace,
                    balance_model=svc.balance_model,
                    status=status,
                    replicas=0,
                    pods_per_node={},
                    quality=PlacementQuality(hottest_pod_ratio=0.0, coefficient_of_variation=0.0, dropped_fraction=1.0),
                    baselines=reports,
                    notes=notes,
                    not_evaluated=_not_evaluated(svc, sol),
                )
            )
            continue
        placements[svc.index] = pods
        quality = measure(svc, inst.cluster, pods)
        manifests = render_manifests(svc, inst, pods, quality) if request.include_manifests else None
        policy = None
        if svc.balance_model == "leader":
            policy = (
                "Use externalTrafficPolicy: Cluster (the leader spreads over every Pod, at the cost of the "
                "client IP), or BGP mode so every node with Pods announces the address."
            )
        services.append(
            ServiceRecommendation(
                name=svc.name,
                namespace=svc.namespace,
                balance_model=svc.balance_model,
                status=status,
                replicas=int(pods.sum()),
                pods_per_node=_node_map(inst.cluster.node_names, pods),
                quality=quality,
                solver_hottest_pod_ratio=sol.solver_ratio if source == "solver" else None,
                source=source,  # type: ignore[arg-type]
                baselines=_with_improvement(reports, quality),
                notes=notes,
                policy_recommendation=policy,
                not_evaluated=_not_evaluated(svc, sol),
                manifests=manifests,
            )
        )

    certificate = None
    fits = not _overloaded(inst, placements).any()
    if decomposition == "uncoupled" and fits and all(s.status == "optimal" for s in services):
        certificate = (
            f"Each of the {len(services)} Services reached its own optimum for "
            f"{' > '.join(order)} when solved alone against the cluster's free capacity, and together they fit on "
            "every node (cpu, memory, Pod slots). The objective is separable per Service, so no joint plan can be "
            "better: the combined placement is globally optimal."
        )
    overall = max((s.status for s in services), key=lambda s: _STATUS_RANK[s])
    if not fits:
        overall = "infeasible"
    stages = _merge_stages(order, [solutions[s.index].stages for s in inst.services])
    return Recommendation(
        status=overall,
        services=services,
        stages=stages,
        statistics=SolveStatistics(
            wall_seconds=round(time.perf_counter() - started, 4),
            services=len(inst.services),
            nodes=size,
            node_classes=sum(len(s.classes) for s in solutions.values()),
            decomposition=decomposition,  # type: ignore[arg-type]
            joint_services=len(coupled),
            branches=sum(s.branches for s in solutions.values()),
            conflicts=sum(s.conflicts for s in solutions.values()),
        ),
        objective_order=order,
        certificate=certificate,
        explanations=explanations,
    )


def _not_evaluated(svc: ServiceInstance, sol: ServiceSolution) -> list[str]:
    out = list(sol.model.not_evaluated)
    out.append("RollingUpdate bound with maxSurge/maxUnavailable: not evaluated")
    out.append("PodDisruptionBudget drain check (pdb-blocks-drain-with-spread): not evaluated by the solver")
    if svc.balance_model == "leader":
        out.append("balance under MetalLB L2: placement cannot change it")
    return out


def _merge_stages(order: Sequence[str], per_service: list[list[StageReport]]) -> list[StageReport]:
    merged: list[StageReport] = []
    for term in order:
        reports = [r for stages in per_service for r in stages if r.term == term]
        if not reports:
            continue
        worst = max(reports, key=lambda r: _STATUS_RANK[r.status])
        status: StageStatus = worst.status
        gaps = [r.gap for r in reports if r.gap is not None]
        merged.append(
            StageReport(
                term=worst.term,
                status=status,
                gap=max(gaps) if gaps else None,
                seconds=round(sum(r.seconds for r in reports), 4),
                objective=worst.objective if len(reports) == 1 else None,
                bound=worst.bound if len(reports) == 1 else None,
                note=None if len(reports) == 1 else f"worst of {len(reports)} Services",
            )
        )
    return merged
