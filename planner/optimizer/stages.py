"""Lexicographic solving: one CP-SAT solve per objective term, each optimum fixed before the next term.

Determinism (style guide section 5): with ``deterministic`` the solver stops on ``max_deterministic_time`` with a
fixed ``random_seed``, and uses ``interleave_search`` when more than one worker is asked for; the wall-clock limit
is only a safety net. The time budget is shared by the stages: each stage may use what the previous ones left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from planner.optimizer.model import Term
from planner.optimizer.schema import SolverParams, StageReport, StageStatus

WALL_CLOCK_FACTOR = 3.0


def configure(solver: cp_model.CpSolver, params: SolverParams, budget: float) -> None:
    p = solver.parameters
    p.random_seed = params.random_seed
    p.num_workers = params.num_workers
    p.relative_gap_limit = params.relative_gap_limit
    wall = params.wall_clock_limit_seconds or params.time_limit_seconds * WALL_CLOCK_FACTOR
    if params.deterministic:
        p.max_deterministic_time = max(budget, 0.01)
        p.max_time_in_seconds = wall
        if params.num_workers > 1:
            p.interleave_search = True
    else:
        p.max_time_in_seconds = max(min(budget, wall), 0.01)


def status_of(code: Any) -> StageStatus:
    if code == cp_model.OPTIMAL:
        return "optimal"
    if code == cp_model.FEASIBLE:
        return "feasible"
    if code == cp_model.INFEASIBLE:
        return "infeasible"
    if code == cp_model.MODEL_INVALID:
        msg = "internal error: the placement model is invalid"
        raise RuntimeError(msg)
    return "timedOut"


@dataclass
class StageOutcome:
    reports: list[StageReport]
    values: dict[int, int] | None
    """Value of every decision variable (by index) at the last successful stage; None when nothing was found."""
    branches: int = 0
    conflicts: int = 0


def solve_stages(
    model: cp_model.CpModel,
    terms: Sequence[Term],
    decision_vars: Sequence[Any],
    params: SolverParams,
    *,
    describe: Callable[[Term, float, float], tuple[float, float]] | None = None,
) -> StageOutcome:
    """Solve ``terms`` in order. ``describe`` maps (term, objective, bound) to the reported unit (e.g. a ratio)."""
    reports: list[StageReport] = []
    values: dict[int, int] | None = None
    budget_left = params.time_limit_seconds
    branches = conflicts = 0
    remaining = len(terms) or 1
    stage_list: list[Term | None] = [*terms] if terms else [None]
    for position, term in enumerate(stage_list):
        share = budget_left / max(remaining - position, 1)
        solver = cp_model.CpSolver()
        configure(solver, params, share)
        if term is not None:
            if term.maximize:
                model.maximize(term.expr)
            else:
                model.minimize(term.expr)
        else:
            model.clear_objective()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        code = solver.solve(model)
        elapsed = time.perf_counter() - started
        used = solver.deterministic_time if params.deterministic else elapsed
        budget_left = max(budget_left - used, 0.0)
        branches += solver.num_branches
        conflicts += solver.num_conflicts
        status = status_of(code)
        if status in ("infeasible", "timedOut"):
            if term is not None:
                reports.append(StageReport(term=term.term, status=status, seconds=round(elapsed, 4)))
            if values is None:
                return StageOutcome(reports, None, branches, conflicts)
            break
        values = {i: int(solver.value(v)) for i, v in enumerate(decision_vars)}
        if term is None:
            break
        obj = round(solver.objective_value)
        bound = solver.best_objective_bound
        shown_obj, shown_bound = describe(term, obj, bound) if describe else (float(obj), float(bound))
        gap = abs(shown_obj - shown_bound) / abs(shown_obj) if shown_obj else 0.0
        reports.append(
            StageReport(
                term=term.term,
                status=status,
                objective=shown_obj,
                bound=shown_bound,
                gap=round(gap, 9),
                seconds=round(elapsed, 4),
                note=term.note,
            )
        )
        # fix this stage's optimum (or the value reached) before the next one, and hint the solution
        model.add(term.expr >= obj) if term.maximize else model.add(term.expr <= obj)
        model.clear_hints()  # type: ignore[no-untyped-call]
        for i, v in enumerate(decision_vars):
            model.add_hint(v, values[i])
    return StageOutcome(reports, values, branches, conflicts)
