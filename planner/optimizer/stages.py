"""Lexicographic solving: one CP-SAT solve per objective term, each optimum fixed before the next term.

Determinism (style guide section 5): with ``deterministic`` the solver stops on ``max_deterministic_time`` with a
fixed ``random_seed``, and uses ``interleave_search`` when more than one worker is asked for; the wall-clock limit
caps every solve at the wall-clock time left before the request's deadline (``deadline``, a ``time.perf_counter``
instant). When the deadline cuts a stage before its deterministic budget is spent, the outcome says so
(``wall_cut``): that result depends on the machine's speed and load. The time budget is shared by the stages:
each stage may use what the previous ones left.

Weights (``objective.weights``) replace the leading stages by one weighted sum with integer coefficients. A
single weighted objective hides how far balance is from its own optimum (its composite gap can be tiny while
balance is several percent off), so the weighted stage is decoded: every term's value is reported on its own, and
balance gets a separate bound solve whose bound gives the balance gap itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from planner.optimizer.model import RATIO_SCALE, Term, hint_all
from planner.optimizer.schema import ObjectiveTerm, SolverParams, StageReport, StageStatus

FIRST_STAGE_SHARE = 0.5
MIN_WALL_SECONDS = 0.002
"""A solve is not started with less wall-clock time than this left before the deadline."""
WEIGHT_SCALE = 1000
"""Weights are given per unit of each term (1.0 of hottest-Pod ratio, one replica, one Pod moved, one unit of
spread) and scaled to integers with three decimals."""


def weighted_terms(terms: Sequence[Term], weights: dict[ObjectiveTerm, float], model: cp_model.CpModel) -> list[Term]:
    """One weighted stage over the weighted terms (first occurrence of each), followed by the other terms.

    Balance must be a scaled ratio (10^6 per 1.0) to be weighted; the other terms are counts, so their
    coefficients are multiplied by 10^6 to keep one unit of each term at its stated weight.
    """
    del model  # the weighted expression is a plain linear expression over existing variables
    parts: list[tuple[Term, int]] = []
    rest: list[Term] = []
    seen: set[str] = set()
    for t in terms:
        if t.term in weights and t.term not in seen:
            seen.add(t.term)
            coef = round(weights[t.term] * WEIGHT_SCALE) * (1 if t.term == "balance" else RATIO_SCALE)
            parts.append((t, -coef if t.maximize else coef))
        else:
            rest.append(t)
    parts = [(t, c) for t, c in parts if c != 0]
    if not parts:
        return rest
    expr = sum(c * t.expr for t, c in parts)
    label = " + ".join(f"{weights[t.term]:g} x {t.term}" for t, _ in parts)
    return [Term(parts[0][0].term, expr, maximize=False, note=f"weighted: {label}", parts=parts), *rest]


def wall_limit(params: SolverParams) -> float:
    """Wall-clock seconds the whole request may take: ``wallClockLimitSeconds``, else ``timeLimitSeconds``."""
    return params.wall_clock_limit_seconds or params.time_limit_seconds


def seconds_left(deadline: float) -> float:
    return deadline - time.perf_counter()


def configure(
    solver: cp_model.CpSolver, params: SolverParams, budget: float, *, deadline: float | None = None
) -> float:
    """Set seed, workers, gap and limits; returns the wall-clock seconds the solve may take."""
    p = solver.parameters
    p.random_seed = params.random_seed
    p.num_workers = params.num_workers
    p.relative_gap_limit = params.relative_gap_limit
    wall = wall_limit(params) if deadline is None else max(seconds_left(deadline), MIN_WALL_SECONDS)
    if params.deterministic:
        p.max_deterministic_time = max(budget, 0.01)
        p.max_time_in_seconds = wall
        if params.num_workers > 1:
            p.interleave_search = True
    else:
        wall = max(min(budget, wall), MIN_WALL_SECONDS)
        p.max_time_in_seconds = wall
    return wall


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
    spent: float = 0.0
    """Budget used: deterministic time units when deterministic, else seconds."""
    wall_cut: bool = False
    """The wall-clock deadline stopped a stage before its own budget (or no time was left to start one)."""
    proven: list[int] = field(default_factory=list)
    """Raw objective values of the leading stages, as long as each was proven optimal (lexicographic optima)."""


@dataclass
class Preparation:
    """What a ``prepare`` call did before a stage: a bound it proved (or None), and the budget it used."""

    bound: int | None
    spent: float = 0.0
    wall_cut: bool = False


Prepare = Callable[[int, list[int], float, float], Preparation]
"""Called with (stage position, the earlier stages' values, the stage's budget share, deadline) before a stage while
every earlier stage sits at its known bound; it may re-hint the model with a better complete solution and return a
bound for the stage that is valid given exactly what those stages fixed."""


def solve_stages(
    model: cp_model.CpModel,
    terms: Sequence[Term],
    decision_vars: Sequence[Any],
    params: SolverParams,
    *,
    describe: Callable[[Term, float, float], tuple[float, float]] | None = None,
    deadline: float | None = None,
    bounds: Sequence[int | None] | None = None,
    prepare: Prepare | None = None,
    hint_is_solution: bool = False,
) -> StageOutcome:
    """Solve ``terms`` in order. ``describe`` maps (term, objective, bound) to the reported unit (e.g. a ratio).

    ``deadline`` (``time.perf_counter`` seconds) caps every stage's wall-clock time; by default the request's
    wall-clock limit from now. ``bounds`` holds a known bound per term (a value no solution can beat, e.g. the
    sum of the Services' uncoupled optima); a stage that reaches it is optimal, so the search stops there.
    ``prepare`` runs before each later stage of such a chain (``Prepare``); its bound is combined with the known one.
    ``hint_is_solution``: the model's hint is a complete solution of it (e.g. a completed placement). While the hint
    is known to be a solution (that one, or a stage's), a stage whose objective is one variable that the hint puts
    at the end of its own domain is optimal as hinted and is not solved.
    """
    if deadline is None:
        deadline = time.perf_counter() + wall_limit(params)
    reports: list[StageReport] = []
    wall_cut = False
    # every earlier stage ended at its bound from ``bounds`` (the Services' own optima, which then still bound the
    # next stage), and every earlier stage ended at a bound it was proven against (``bounds`` or a prepare call's)
    chain = bounds is not None
    prepared = chain
    trusted = hint_is_solution
    proven: list[int] = []
    reached: list[int] = []
    values: dict[int, int] | None = None
    budget_left = params.time_limit_seconds
    branches = conflicts = 0
    spent = 0.0
    remaining = len(terms) or 1
    stage_list: list[Term | None] = [*terms] if terms else [None]
    for position, term in enumerate(stage_list):
        # the first stage must find a solution at all: it may use half of the budget (the rest share what is left)
        share = budget_left / max(remaining - position, 1)
        if position == 0 and remaining > 1:
            share = max(share, budget_left * FIRST_STAGE_SHARE)
        if seconds_left(deadline) < MIN_WALL_SECONDS:
            wall_cut = True
            if term is not None:
                reports.append(StageReport(term=term.term, status="timedOut", note="wall-clock limit reached"))
            if values is None:
                return StageOutcome(reports, None, branches, conflicts, spent, wall_cut, proven)
            break
        # a bound holds only while every earlier stage ended exactly at its own bound (lexicographic chain)
        own_bound = bounds[position] if chain and bounds is not None and position < len(bounds) else None
        known = own_bound
        if prepare is not None and prepared and term is not None and term.parts is None and values is not None:
            prep = prepare(position, list(reached), share, deadline)
            trusted = False  # it may have replaced the hint
            budget_left = max(budget_left - prep.spent, 0.0)
            spent += prep.spent
            share = max(share - prep.spent, 0.01)
            wall_cut = wall_cut or prep.wall_cut
            if prep.bound is not None:
                stronger = min if term.maximize else max
                known = prep.bound if known is None else stronger(known, prep.bound)
        at_own = _hint_at_domain_bound(model, term) if trusted and term is not None and term.parts is None else None
        if term is not None and at_own is not None:
            # the complete hint sits at the objective variable's own bound: optimal as it is, nothing to search
            hint = dict(zip(model.proto.solution_hint.vars, model.proto.solution_hint.values, strict=True))
            values = {i: int(hint[v.index]) for i, v in enumerate(decision_vars)}
            chain = chain and own_bound is not None and at_own == own_bound
            prepared = prepared and known is not None and at_own == known
            reached.append(at_own)
            if len(proven) == position:
                proven.append(at_own)
            shown, _ = describe(term, at_own, at_own) if describe else (float(at_own), float(at_own))
            reports.append(
                StageReport(term=term.term, status="optimal", objective=shown, bound=shown, gap=0.0, note=term.note)
            )
            model.add(term.expr >= at_own) if term.maximize else model.add(term.expr <= at_own)
            continue
        solver = cp_model.CpSolver()
        wall = configure(solver, params, share, deadline=deadline)
        if term is not None:
            if term.maximize:
                model.maximize(term.expr)
            else:
                model.minimize(term.expr)
            if known is not None:
                # no solution beats the known bound: with it stated, a solution that reaches it is proven optimal
                model.add(term.expr <= known) if term.maximize else model.add(term.expr >= known)
        else:
            model.clear_objective()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        # the hint is a complete solution of the model so far (the previous stage's, or one a prepare call checked);
        # when it already reaches the known bound it is optimal, and only needs checking, not a search
        at_bound = term is not None and known is not None and values is not None and hinted(model, term) == known
        solver.parameters.fix_variables_to_their_hinted_value = at_bound
        code = solver.solve(model)
        if at_bound and code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solver.parameters.fix_variables_to_their_hinted_value = False
            code = solver.solve(model)
        elapsed = time.perf_counter() - started
        used = solver.deterministic_time if params.deterministic else elapsed
        budget_left = max(budget_left - used, 0.0)
        spent += used
        branches += solver.num_branches
        conflicts += solver.num_conflicts
        status = status_of(code)
        if status in ("feasible", "timedOut"):
            by_budget = solver.deterministic_time < 0.98 * share if params.deterministic else wall < share
            wall_cut = wall_cut or (by_budget and elapsed >= 0.9 * wall)
        if status in ("infeasible", "timedOut"):
            if term is not None:
                reports.append(StageReport(term=term.term, status=status, seconds=round(elapsed, 4)))
            if values is None:
                return StageOutcome(reports, None, branches, conflicts, spent, wall_cut, proven)
            break
        values = {i: int(solver.value(v)) for i, v in enumerate(decision_vars)}
        if term is None:
            break
        obj = round(solver.objective_value)
        bound = solver.best_objective_bound
        # a stage that ends above the Services' own optima (e.g. at a prepare call's stronger bound) pushed some
        # Service off its own optimum, where the own optima of the later terms no longer bound it
        chain = chain and own_bound is not None and obj == own_bound
        prepared = prepared and known is not None and obj == known
        reached.append(obj)
        if status == "optimal" and term.parts is None and len(proven) == position:
            proven.append(obj)
        if term.parts is not None:
            composite_gap = abs(obj - bound) / abs(obj) if obj else 0.0
            reports.extend(
                _decode_weighted(
                    model, term, solver, status, elapsed, composite_gap, params, budget_left, describe, deadline
                )
            )
            model.add(term.expr <= obj)
            hint_all(model, solver)
            trusted = True
            continue
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
        hint_all(model, solver)
        trusted = True
    return StageOutcome(reports, values, branches, conflicts, spent, wall_cut, proven)


def _hint_at_domain_bound(model: cp_model.CpModel, term: Term) -> int | None:
    """The objective's value at the model's hint (a solution of the model) when the hint covers every variable and
    the objective is one variable sitting at the end of its own domain it is pushed toward (e.g. a hottest-Pod ratio
    of exactly 1.0, or the fewest replicas allowed); None otherwise."""
    flat = cp_model.FlatIntExpr(term.expr)
    if len(flat.vars) != 1 or flat.coeffs[0] != 1 or flat.offset != 0:
        return None
    if len(model.proto.solution_hint.vars) != len(model.proto.variables):
        return None
    value = hinted(model, term)
    domain = model.proto.variables[flat.vars[0].index].domain
    end = domain[-1] if term.maximize else domain[0]
    return value if value is not None and value == end else None


def hinted(model: cp_model.CpModel, term: Term) -> int | None:
    """The value of ``term`` at the model's hint, or None when the hint misses one of its variables."""
    flat = cp_model.FlatIntExpr(term.expr)
    hint = dict(zip(model.proto.solution_hint.vars, model.proto.solution_hint.values, strict=True))
    if any(v.index not in hint for v in flat.vars):
        return None
    return int(sum(c * hint[v.index] for v, c in zip(flat.vars, flat.coeffs, strict=True)) + flat.offset)


def _decode_weighted(  # noqa: PLR0917
    model: cp_model.CpModel,
    term: Term,
    solver: cp_model.CpSolver,
    status: StageStatus,
    elapsed: float,
    composite_gap: float,
    params: SolverParams,
    budget_left: float,
    describe: Callable[[Term, float, float], tuple[float, float]] | None,
    deadline: float,
) -> list[StageReport]:
    """One report per weighted term: its own value, and for balance a bound from a balance-only solve."""
    out: list[StageReport] = []
    for part, coef in term.parts or []:
        value = float(solver.value(part.expr))
        shown = describe(part, value, value)[0] if describe else value
        note = f"{term.note}; coefficient {coef}; composite gap {composite_gap:.6g}"
        report = StageReport(term=part.term, status=status, objective=shown, seconds=round(elapsed, 4), note=note)
        if part.term == "balance":
            # the composite gap says nothing about balance alone: bound it with its own solve, hinted
            trial = model.clone()
            expr = trial.get_int_var_from_proto_index(part.expr.index) if hasattr(part.expr, "index") else None
            bound_solver = cp_model.CpSolver()
            configure(bound_solver, params, max(budget_left / 2, 0.05), deadline=deadline)
            if expr is not None and seconds_left(deadline) >= MIN_WALL_SECONDS:
                trial.minimize(expr)
                started = time.perf_counter()
                code = bound_solver.solve(trial)
                spent = time.perf_counter() - started
                if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    raw_bound = bound_solver.best_objective_bound
                    shown_bound = describe(part, value, raw_bound)[1] if describe else raw_bound
                    gap = abs(shown - shown_bound) / abs(shown) if shown else 0.0
                    report = StageReport(
                        term="balance",
                        status=status,
                        objective=shown,
                        bound=shown_bound,
                        gap=round(gap, 9),
                        seconds=round(elapsed + spent, 4),
                        note=note + "; bound from a balance-only solve",
                    )
        out.append(report)
    return out
