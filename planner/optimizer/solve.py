"""``recommend``: the optimizer's entry point (synchronous, thread-safe, no shared state).

Decomposition: every Service is first solved exactly on its own, against the cluster's free capacity. If the
uncoupled optima fit together on every node, the combined plan is optimal for the whole request (each Service's
lexicographic objective is separable and reaches its own lower bound), and a certificate says so.

Otherwise, when every Service reached a hottest-Pod ratio of exactly 1.0 on its own (nodeEqual with cross-zone
balancing) under the default objective order, the whole request is first solved as one exact packing of all
Services (``even.py``): a proven plan there is globally optimal, with its own certificate. When that does not
apply or finds no proven plan, the Services whose Pods overflow a node are coupled. Three plans for them are
compared by the engine (Services without a valid placement first, then the worst hottest-Pod ratio, then the sum):
the sequential re-solve (each coupled Service against the capacity the others leave), the best baseline strategy
run over all Services with shared capacity, and the joint CP-SAT model (``joint.py``) warm-started from the better
of the two, so a timed-out joint solve is never worse than either. The coupled Services are reported optimal only
when the joint model proved every stage and the other Services' Pods sit on nodes no coupled Service can use (so
fixing them restricted nothing). Each Service reports its balance gap against its own uncoupled optimum.

A Service whose solve returns nothing usable, or something worse than the best baseline that meets every rule,
keeps that baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from planner.engine.metrics import BoolArray, IntArray
from planner.optimizer.baselines import STRATEGIES, run_shared_baselines
from planner.optimizer.even import solve_even
from planner.optimizer.explain import explain_infeasible
from planner.optimizer.instance import Instance, ServiceInstance, build_instance, pods_that_fit
from planner.optimizer.joint import JointSolution, solve_joint
from planner.optimizer.manifests import render_manifests
from planner.optimizer.quality import measure, score
from planner.optimizer.rollout import disruption_plan, rollout_summary
from planner.optimizer.schema import (
    BaselineReport,
    Conflict,
    Explanation,
    ObjectiveTerm,
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
from planner.optimizer.stages import seconds_left, wall_limit
from planner.optimizer.validation import violations

FIRST_PASS_SHARE = 0.4
SEQUENTIAL_SHARE = 0.25
SEQUENTIAL_ROUNDS = 3
"""Of what the first pass leaves: the sequential re-solve gets this part, the joint model the rest."""
MIN_SOLVE_SECONDS = 0.05
RENDER_SHARE = 0.25
RENDER_FACTOR = 0.5
RENDER_PER_SERVICE = 0.002
EVEN_SHARE = 0.25
"""Of the budget the first pass leaves, the part the whole-request packing (``even.py``) may use; the coupled-Services
path gets the rest when it finds no proven plan."""
EVEN_WALL_SHARE = 0.5
JOINT_MIN_SECONDS = 0.05
"""The joint model is not built with less wall-clock time than this left."""
WALL_CLOCK_NOTE = (
    "The wall-clock limit ({limit:g} s) cut the search before its deterministic budget: this result depends on "
    "the machine's speed and load, and a longer limit may find a better plan."
)


def _share(params: SolverParams, budget: float, parts: int) -> SolverParams:
    """Solver parameters with an equal part of ``budget`` (deterministic units or seconds) per solve."""
    return msgspec.structs.replace(params, time_limit_seconds=max(budget / max(parts, 1), MIN_SOLVE_SECONDS))


@dataclass
class _Sequential:
    pods: dict[int, IntArray]
    solutions: dict[int, ServiceSolution]
    reached_own: bool
    spent: float
    wall_cut: bool


def _sequential(  # noqa: PLR0917
    inst: Instance,
    ranked: list[int],
    residual: IntArray,
    params: SolverParams,
    order: list[ObjectiveTerm],
    placements: dict[int, IntArray],
    weights: dict[ObjectiveTerm, float] | None,
    deadline: float,
    own_optima: dict[int, dict[ObjectiveTerm, int]],
) -> _Sequential:
    """Re-solve the coupled Services one after another, each against the capacity the earlier ones leave."""
    out = _Sequential({}, {}, reached_own=True, spent=0.0, wall_cut=False)
    left = residual.copy()
    for si in ranked:
        svc = inst.services[si]
        sol = solve_service(
            svc,
            inst.cluster,
            np.maximum(left, 0),
            params,
            order,
            hint=placements[si],
            preference=pods_that_fit(left, svc.request),
            weights=weights,
            deadline=deadline,
        )
        out.wall_cut = out.wall_cut or sol.wall_cut
        out.spent += sol.spent
        # every Service at its own lexicographic optimum again: nothing that shares capacity can do better
        if not (si in own_optima and sol.optima and sol.optima == own_optima[si]):
            out.reached_own = False
        if sol.status == "optimal":
            sol.status = "feasible"
        out.solutions[si] = sol
        if sol.pods is not None:
            out.pods[si] = sol.pods
            left = left - sol.pods[:, None] * svc.request[None, :]
    return out


def _reserve(limit: float, baseline_seconds: float, services: int) -> float:
    """Wall-clock seconds kept for rendering the result after the last solve (engine scoring, rollout, PDB and
    manifests per Service): about what scoring the baselines took, which does the same kind of engine work."""
    return min(RENDER_SHARE * limit, RENDER_FACTOR * baseline_seconds + RENDER_PER_SERVICE * services)


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
    svc: ServiceInstance, inst: Instance, rows: list[tuple[str, IntArray, int]]
) -> tuple[list[BaselineReport], IntArray | None, float | None]:
    reports: list[BaselineReport] = []
    best: IntArray | None = None
    best_ratio: float | None = None
    for name, pods, unplaced in rows:
        quality = measure(svc, inst.cluster, pods)
        broken = violations(svc, inst.cluster, inst.free, pods, unplaced, quality)
        improvement = None
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


def _demand(inst: Instance, placements: dict[int, IntArray]) -> IntArray:
    demand = np.zeros_like(inst.free)
    for si, pods in placements.items():
        demand += pods[:, None] * inst.services[si].request[None, :]
    return demand


def plan_key(
    inst: Instance, coupled: list[int], fixed: dict[int, IntArray], candidate: dict[int, IntArray] | None
) -> tuple[int, float, float]:
    """Engine score of a plan for the coupled Services: (Services without a valid plan, worst ratio, sum of ratios).

    Lower is better. A plan that overflows a node together with the fixed Services counts every coupled Service
    as invalid.
    """
    if candidate is None or any(si not in candidate for si in coupled):
        return (len(coupled) + 1, float("inf"), float("inf"))
    together = {**fixed, **{si: candidate[si] for si in coupled}}
    if (_demand(inst, together) > inst.free).any():
        return (len(coupled), float("inf"), float("inf"))
    invalid = 0
    ratios = []
    for si in coupled:
        svc, pods = inst.services[si], candidate[si]
        if violations(svc, inst.cluster, inst.free, pods):
            invalid += 1
        ratios.append(score(svc, inst.cluster, pods).hottest_ratio)
    return (invalid, round(max(ratios), 9), round(sum(ratios), 9))


def recommend(request: RecommendRequest) -> Recommendation:
    """Recommend Pods per node for every Service in the request (see the module docstring)."""
    started = time.perf_counter()
    inst = build_instance(request)
    order = list(request.objective.order)
    weights = dict(request.objective.weights) if request.objective.weights else None
    params = request.solver
    size = inst.cluster.size

    clock = time.perf_counter()
    shared = run_shared_baselines(inst.services, inst.cluster, inst.free)
    baselines = {svc.index: _baseline_reports(svc, inst, shared[svc.index]) for svc in inst.services}
    baseline_seconds = time.perf_counter() - clock

    clock = time.perf_counter()
    solutions: dict[int, ServiceSolution] = {}
    placements: dict[int, IntArray] = {}
    bounds: dict[int, float] = {}
    residual = inst.free.copy()
    # the wall-clock limit bounds the whole request: every solve ends by the deadline, which leaves room to render
    limit = wall_limit(params)
    deadline = started + limit - _reserve(limit, baseline_seconds, len(inst.services))
    first_pass = _share(params, params.time_limit_seconds * FIRST_PASS_SHARE, len(inst.services))
    for svc in inst.services:
        preference = pods_that_fit(residual, svc.request)
        sol = solve_service(
            svc,
            inst.cluster,
            inst.free,
            first_pass,
            order,
            hint=baselines[svc.index][1],
            preference=preference,
            weights=weights,
            deadline=deadline,
        )
        solutions[svc.index] = sol
        balance = next((st for st in sol.stages if st.term == "balance" and st.bound is not None), None)
        if balance is not None and balance.bound is not None and sol.pods is not None:
            bounds[svc.index] = float(balance.bound)
        if sol.pods is not None:
            placements[svc.index] = sol.pods
            residual = np.maximum(residual - sol.pods[:, None] * svc.request[None, :], 0)

    spent = sum(sol.spent for sol in solutions.values())
    own_optima = {si: sol.optima for si, sol in solutions.items() if sol.status == "optimal"}
    wall_cut = any(sol.wall_cut for sol in solutions.values())
    decomposition = "uncoupled"
    coupled: list[int] = []
    decided: dict[int, str] = {}
    joint: JointSolution | None = None
    joint_choice = None
    joint_optimal = False
    sequential_optimal = False
    joint_explanation: Explanation | None = None
    over = _overloaded(inst, placements)
    even = None
    if over.any():
        # every Service even alone: try the whole request at once (``even.py``) before the coupled-Services path
        outcome = solve_even(
            inst,
            order,
            weights,
            own_optima,
            budget=max(params.time_limit_seconds - spent, 0.0) * EVEN_SHARE,
            seed=params.random_seed,
            wall=max(seconds_left(deadline), 0.0) * EVEN_WALL_SHARE,
        )
        spent += outcome.spent
        wall_cut = wall_cut or outcome.wall_cut
        even = outcome.plan
    if even is not None:
        decomposition = "joint"
        coupled = [svc.index for svc in inst.services]
        joint = JointSolution("optimal", even.placements, even.stages, even.variables, even.classes, even.binding_nodes)
        joint_choice = "joint"
        for si in coupled:
            sol = solutions[si]
            placements[si] = sol.pods = even.placements[si]
            decided[si] = "solver"
            sol.status = "optimal"
            sol.solver_ratio = 1.0
            sol.notes.append(
                f"Capacity is shared with other Services: placed by one exact model of all {len(coupled)} Services "
                f"at a hottest-Pod ratio of 1.0 ({even.binding_nodes} node(s) where capacity binds)."
            )
    elif over.any():
        decomposition = "joint"
        coupled = [si for si, placed in placements.items() if (placed[over] > 0).any()]
        fixed = {si: p for si, p in placements.items() if si not in coupled}
        residual = np.maximum(inst.free - _demand(inst, fixed), 0)
        # what the first pass left (it rarely needs its share) goes to the coupled Services
        remaining = max(params.time_limit_seconds - spent, params.time_limit_seconds * (1 - FIRST_PASS_SHARE))
        second_pass = _share(params, remaining * SEQUENTIAL_SHARE, len(coupled))
        # largest Pods first (first-fit decreasing): small Pods fill the gaps large ones leave
        ranked = sorted(
            coupled, key=lambda i: (-int(inst.services[i].request[0]), -int(inst.services[i].request[1]), i)
        )
        best_round: _Sequential | None = None
        for _ in range(SEQUENTIAL_ROUNDS):
            attempt = _sequential(inst, ranked, residual, second_pass, order, placements, weights, deadline, own_optima)
            remaining -= attempt.spent
            wall_cut = wall_cut or attempt.wall_cut
            if best_round is None or plan_key(inst, coupled, fixed, attempt.pods) < plan_key(
                inst, coupled, fixed, best_round.pods
            ):
                best_round = attempt
            # Services without a plan, then those below their own balance optimum, go first in the next round
            missing = [si for si in ranked if si not in attempt.pods]
            behind = [
                si
                for si in ranked
                if si in attempt.pods
                and attempt.solutions[si].optima.get("balance") != own_optima.get(si, {}).get("balance")
            ]
            if not (missing or behind) or attempt.wall_cut:
                break
            ranked = missing + behind + [si for si in ranked if si not in missing and si not in behind]
        assert best_round is not None
        solutions.update(best_round.solutions)
        sequential = best_round.pods
        reached_own = best_round.reached_own
        candidates: list[tuple[str, dict[int, IntArray] | None]] = [("sequential", sequential)]
        for name in STRATEGIES:
            by_strategy = {si: pods for si in coupled for n, pods, _ in shared[si] if n == name}
            candidates.append((name, by_strategy))
        best_known = min(candidates, key=lambda c: plan_key(inst, coupled, fixed, c[1]))
        # a valid plan warm-starts the joint model completely; otherwise the Services the sequential re-solve placed
        hint = best_known[1] if plan_key(inst, coupled, fixed, best_known[1])[0] == 0 else sequential
        joint_params = _share(params, max(remaining, MIN_SOLVE_SECONDS), 1)
        sequential_optimal = reached_own and len(sequential) == len(coupled) and not weights
        if sequential_optimal:
            pass  # the certificate needs no joint model
        elif seconds_left(deadline) < JOINT_MIN_SECONDS:
            wall_cut = True
        else:
            joint = solve_joint(
                [inst.services[si] for si in coupled],
                inst,
                residual,
                joint_params,
                order,
                weights=weights,
                hint=hint,
                deadline=deadline,
                optima=own_optima,
            )
            wall_cut = wall_cut or joint.wall_cut
            candidates.insert(0, ("joint", joint.placements))
        label, chosen = min(candidates, key=lambda c: plan_key(inst, coupled, fixed, c[1]))
        key = plan_key(inst, coupled, fixed, chosen)
        joint_choice = "joint" if label == "joint" else "sequential" if label == "sequential" else "baseline"
        if key[0] > 0:
            joint_choice = None
            if joint is not None and joint.status == "infeasible":
                joint_explanation = _explain_joint(inst, [inst.services[si] for si in coupled], residual)
        usable = np.zeros(size, dtype=np.bool_)
        for si in coupled:
            usable |= inst.services[si].eligible
        disjoint = not any((p[usable] > 0).any() for p in fixed.values())
        first_optimal = all(solutions[si].status == "optimal" for si in fixed)
        joint_optimal = (
            label == "joint" and joint is not None and joint.status == "optimal" and disjoint and first_optimal
        )
        sequential_optimal = sequential_optimal and label == "sequential" and first_optimal
        proven = joint_optimal or sequential_optimal
        for si in coupled:
            placements.pop(si, None)
            sol = solutions[si]
            if chosen is None or key[0] > 0:
                if si in sequential:
                    placements[si] = sequential[si]
                elif joint_explanation is None and sol.status == "infeasible":
                    # infeasible only against what the others took: nothing proved that no shared plan exists
                    sol.status = "timedOut"
                    sol.notes.append(
                        "No placement found together with the Services it shares capacity with within the time "
                        "limit (it does not fit in the capacity the others' re-solved plans leave)."
                    )
                continue
            placements[si] = chosen[si]
            sol.pods = chosen[si]
            decided[si] = "baseline" if joint_choice == "baseline" else "solver"
            sol.status = "optimal" if proven else "feasible"
            if joint_choice == "joint" and joint is not None:
                sol.solver_ratio = None
                sol.notes.append(
                    f"Capacity is shared with {len(coupled) - 1} other Service(s): placed by the joint model over "
                    f"the coupled Services ({joint.status}, {joint.binding_nodes} node(s) where capacity binds)."
                )
            elif sequential_optimal:
                sol.notes.append(
                    "Capacity is shared with other Services: re-solved against the capacity the others leave, it "
                    "still reached its own optimum for every objective term."
                )
            elif joint_choice == "sequential":
                sol.notes.append(
                    "Capacity is shared with other Services: the sequential re-solve (each Service against the "
                    "capacity the others leave) scored better than the joint model within its limit."
                )
            else:
                sol.solver_ratio = None
                sol.notes.append(
                    f"Capacity is shared with other Services: the {label} baseline over all Services scored better "
                    "than the solver within its limit and is kept."
                )
            if not proven:
                sol.notes.append("Not proven optimal: optimal only given the other Services' placement.")
    solver_seconds = time.perf_counter() - clock

    final: dict[int, tuple[IntArray | None, SolveStatus, str, list[str]]] = {}
    for svc in inst.services:
        sol = solutions[svc.index]
        _, best, best_ratio = baselines[svc.index]
        pods: IntArray | None = sol.pods
        status: SolveStatus = sol.status
        source = decided.get(svc.index, "solver")
        notes = list(svc.notes) + sol.notes
        if pods is not None and svc.index not in decided:
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
        elif pods is None and best is not None and status == "timedOut":
            pods, source = best, "baseline"
            notes.append("No solution within the time limit; the best baseline that meets every rule is returned.")
        final[svc.index] = (pods, status, source, notes)
    _keep_best_strategy(inst, final, shared, baselines, balance_first=not weights and order[0] == "balance")
    if wall_cut:
        for si, (pods, status, source, notes) in final.items():
            if status not in {"optimal", "infeasible"}:
                final[si] = (pods, status, source, [*notes, WALL_CLOCK_NOTE.format(limit=limit)])

    services: list[ServiceRecommendation] = []
    explanations: list[Explanation] = []
    for svc in inst.services:
        sol = solutions[svc.index]
        reports = baselines[svc.index][0]
        pods, status, source, notes = final[svc.index]
        if pods is None:
            if status == "infeasible":
                explanations.append(explain_infeasible(svc, inst, params, deadline=started + limit))
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
        rollout_text, quality = rollout_summary(svc, inst.cluster, pods, quality)
        others = {k: v for k, v in placements.items() if k != svc.index}
        disruption = disruption_plan(svc, inst, pods, np.maximum(inst.free - _demand(inst, others), 0))
        manifests = render_manifests(svc, inst, pods, quality, disruption) if request.include_manifests else None
        policy = None
        if svc.balance_model == "leader":
            policy = (
                "Use externalTrafficPolicy: Cluster (the leader spreads over every Pod, at the cost of the "
                "client IP), or BGP mode so every node with Pods announces the address."
            )
        bound = bounds.get(svc.index)
        gap = None
        if bound is not None and quality.hottest_pod_ratio > 0:
            gap = round(max(quality.hottest_pod_ratio - bound, 0.0) / quality.hottest_pod_ratio, 9)
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
                balance_bound=None if bound is None else round(bound, 9),
                balance_gap=gap,
                rollout=rollout_text,
                disruption=disruption.text if disruption is not None else None,
            )
        )

    certificate = None
    fits = not _overloaded(inst, placements).any()
    each_optimal = fits and all(s.status == "optimal" for s in services)
    if decomposition == "uncoupled" and each_optimal:
        certificate = (
            f"Each of the {len(services)} Services reached its own optimum for "
            f"{' > '.join(order)} when solved alone against the cluster's free capacity, and together they fit on "
            "every node (cpu, memory, Pod slots). The objective is separable per Service, so no joint plan can be "
            "better: the combined placement is globally optimal."
        )
    elif sequential_optimal and each_optimal:
        certificate = (
            f"The {len(coupled)} Services that compete for capacity were re-solved one after another against the "
            "capacity the others leave, and each still reached its own optimum for "
            f"{' > '.join(order)} (the optimum it has alone against the cluster's free capacity, which no shared "
            "plan can beat); the other Services reached theirs too, so the combined placement is globally optimal."
        )
    elif even is not None and each_optimal:
        certificate = (
            f"Every one of the {len(services)} Services is placed at a hottest-Pod ratio of exactly 1.0, the least "
            "any placement has, so the worst ratio and the sum of ratios are at their least values; each runs its "
            "own fewest replicas for that ratio (found alone against the cluster's free capacity, which no shared "
            "plan can beat); and the fewest Pods moved, then the widest spread, were proven over all Services "
            "together by an exact model of such plans (every used node of a Service holds the same number of its "
            "Pods), with the capacity of every node where it binds shared. The placement is globally optimal for "
            f"{' > '.join(order)}."
        )
    elif joint_optimal and each_optimal:
        certificate = (
            f"The {len(coupled)} Services that compete for capacity were solved together and proven optimal for "
            "the worst hottest-Pod ratio, then the sum of ratios, then "
            f"{' > '.join(t for t in order if t != 'balance')}"
            f"; each of the other {len(services) - len(coupled)} Service(s) reached its own optimum on nodes none of "
            "the coupled Services can use, so fixing them restricted nothing."
        )
    overall = max((s.status for s in services), key=lambda s: _STATUS_RANK[s])
    if not fits:
        overall = "timedOut" if wall_cut else "infeasible"
    if joint_explanation is not None:
        overall = "infeasible"
        explanations.append(joint_explanation)
    stage_lists = [solutions[s.index].stages for s in inst.services]
    if joint is not None:
        stage_lists.append(joint.stages)
    stages = _merge_stages(order, stage_lists)
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
            joint_variables=joint.variables if joint is not None else 0,
            branches=sum(s.branches for s in solutions.values()) + (joint.branches if joint else 0),
            conflicts=sum(s.conflicts for s in solutions.values()) + (joint.conflicts if joint else 0),
            solver_seconds=round(solver_seconds, 4),
            baseline_seconds=round(baseline_seconds, 4),
            joint_status=joint.status if joint is not None else None,
            joint_classes=joint.classes if joint is not None else 0,
            joint_binding_nodes=joint.binding_nodes if joint is not None else 0,
            joint_choice=joint_choice,  # type: ignore[arg-type]
            wall_clock_limit_seconds=limit,
            wall_clock_limit_reached=wall_cut,
        ),
        objective_order=order,
        certificate=certificate,
        explanations=explanations,
    )


def _keep_best_strategy(
    inst: Instance,
    final: dict[int, tuple[IntArray | None, SolveStatus, str, list[str]]],
    shared: dict[int, list[tuple[str, IntArray, int]]],
    baselines: dict[int, tuple[list[BaselineReport], IntArray | None, float | None]],
    *,
    balance_first: bool,
) -> None:
    """Replace the whole plan by a baseline strategy's when the engine scores that strategy better.

    Per-Service fallbacks can mix strategies that only fit one after the other; the strategies themselves run
    with shared capacity, so each is a consistent plan. One that meets every rule for every Service and beats the
    plan (fewer Services without a valid plan, then the worst ratio, then the sum) replaces it, so the result is
    never worse than the best baseline, even when the wall clock stopped the solver early. A valid plan is only
    compared by balance when balance leads the objective and some Service is not proven optimal.
    """
    ours = {si: p for si, (p, _, _, _) in final.items() if p is not None}
    best_key = _whole_key(inst, ours)
    proven = all(status == "optimal" for _, status, _, _ in final.values())
    if best_key[:2] == (0, 0) and (proven or not balance_first):
        return
    best: tuple[str, dict[int, IntArray]] | None = None
    for name in STRATEGIES:
        plan = {svc.index: pods for svc in inst.services for n, pods, _ in shared[svc.index] if n == name}
        # each strategy ran with shared capacity (it fits); its engine scores are in the baseline reports
        rows = [r for svc in inst.services for r in baselines[svc.index][0] if r.name == name]
        ratios = [r.quality.hottest_pod_ratio for r in rows if r.replicas > 0]
        invalid = len(inst.services) - sum(1 for r in rows if r.meets_constraints)
        key = (0, invalid, round(max(ratios, default=0.0), 9), round(sum(ratios), 9))
        if key < best_key:
            best, best_key = (name, plan), key
    if best is None:
        return
    name, plan = best
    for svc in inst.services:
        _, status, _, notes = final[svc.index]
        pods = plan[svc.index]
        note = (
            f"The {name} baseline over all Services (run with shared capacity) scored better than the solver's "
            "plan within the time limit and is kept for every Service."
        )
        broken = violations(svc, inst.cluster, inst.free, pods)
        if broken:
            note += " It breaks: " + "; ".join(broken)
        kept: SolveStatus = "timedOut" if broken or status == "timedOut" else "feasible"
        final[svc.index] = (pods, kept, "baseline", [*notes, note])


def _whole_key(inst: Instance, plan: dict[int, IntArray]) -> tuple[int, int, float, float]:
    """Engine score of a plan for every Service: (overflows a node, Services missing or breaking a rule, worst
    ratio, sum of ratios). Lower is better."""
    overflow = int(bool((_demand(inst, plan) > inst.free).any()))
    invalid = 0
    ratios = []
    for svc in inst.services:
        pods = plan.get(svc.index)
        if pods is None or violations(svc, inst.cluster, inst.free, pods):
            invalid += 1
        if pods is not None and pods.sum() > 0:
            ratios.append(score(svc, inst.cluster, pods).hottest_ratio)
    return (overflow, invalid, round(max(ratios, default=0.0), 9), round(sum(ratios), 9))


def _explain_joint(inst: Instance, services: list[ServiceInstance], free: IntArray) -> Explanation:
    """Why Services that each fit alone cannot be placed together: their requests against the shared room."""
    usable = np.zeros(inst.cluster.size, dtype=np.bool_)
    for svc in services:
        usable |= svc.eligible
    need = np.sum([svc.replicas_min * svc.request for svc in services], axis=0)
    room = free[usable].sum(axis=0)
    names = ", ".join(svc.name for svc in services)
    message = (
        f"{names} each have a placement alone, but not together: at their minimum replicas they request "
        f"{int(need[0])}m cpu, {int(need[1])} bytes of memory and {int(need[2])} Pod slots, against "
        f"{int(min(room[0], 2**62))}m cpu, {int(min(room[1], 2**62))} bytes and {int(min(room[2], 2**62))} slots "
        "free on the nodes they may use, split over nodes that each must hold whole Pods within every rule"
    )
    return Explanation(
        service=names,
        conflicts=[Conflict(group="capacity", message=message)],
        relaxations=[
            "add a node with room for the Pods that do not fit, lower a Service's replicas or its HA minimums, "
            "or let one Service use other nodes"
        ],
    )


def _not_evaluated(svc: ServiceInstance, sol: ServiceSolution) -> list[str]:
    out = list(sol.model.not_evaluated)
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
                note=worst.note if len(reports) == 1 else f"worst of {len(reports)} solves (Services and joint stages)",
            )
        )
    return merged
