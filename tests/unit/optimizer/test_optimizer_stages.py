"""Lexicographic stages (``planner/optimizer/stages.py``): known bounds, ``prepare`` calls and hints at the bound."""

from __future__ import annotations

from ortools.sat.python import cp_model

from planner.optimizer.model import Term
from planner.optimizer.schema import SolverParams
from planner.optimizer.stages import Preparation, hinted, solve_stages

PARAMS = SolverParams(time_limit_seconds=5.0, num_workers=1, random_seed=3)


def _model():
    # x, y in 0..10 with x + y >= 6: the fewest x is 0, then the fewest y is 6
    model = cp_model.CpModel()
    x = model.new_int_var(0, 10, "x")
    y = model.new_int_var(0, 10, "y")
    model.add(x + y >= 6)
    return model, x, y


def _rehint(model, values):
    """What a prepare call may do: replace the model's hint with ``values`` (variable: value)."""
    model.clear_hints()
    for var, value in values.items():
        model.add_hint(var, value)


def test_prepare_bound_and_hint_at_it_prove_the_stage():
    model, x, y = _model()
    calls = []

    def prepare(position, reached, share, deadline):
        calls.append((position, reached))
        assert share > 0
        # a complete solution of the model so far (x = 0 fixed by the first stage) at the bound it proves: y = 6
        _rehint(model, {x: 0, y: 6})
        return Preparation(6, spent=0.01)

    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    # known bounds: 0 for x (reached), and a weaker 0 for y that the prepare call raises to 6
    outcome = solve_stages(model, terms, [x, y], PARAMS, bounds=[0, 0], prepare=prepare)
    assert calls == [(1, [0])]  # only before the second stage, with the first stage's value
    assert [(r.status, r.objective, r.bound) for r in outcome.reports] == [("optimal", 0.0, 0.0), ("optimal", 6.0, 6.0)]
    assert outcome.values == {0: 0, 1: 6}
    assert outcome.spent >= 0.01


def test_hint_at_the_bound_that_breaks_a_constraint_is_searched_past():
    model, x, y = _model()

    def prepare(position, reached, share, deadline):
        del position, reached, share, deadline
        # y = 6 reaches the bound but x = 1 breaks the first stage's optimum (x <= 0): the check fails and the
        # stage searches as usual, still ending at x = 0, y = 6
        _rehint(model, {x: 1, y: 6})
        return Preparation(6)

    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    outcome = solve_stages(model, terms, [x, y], PARAMS, bounds=[0, 0], prepare=prepare)
    assert [(r.status, r.objective) for r in outcome.reports] == [("optimal", 0.0), ("optimal", 6.0)]
    assert outcome.values == {0: 0, 1: 6}


def test_no_prepare_call_once_a_stage_misses_its_known_bound():
    model, x, y = _model()
    calls = []

    def prepare(position, reached, share, deadline):
        calls.append(position)
        return Preparation(None)

    # a known bound of -1 for x is not reached (x = 0 is optimal), so the chain stops and y is solved on its own
    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    outcome = solve_stages(model, terms, [x, y], PARAMS, bounds=[-1, 0], prepare=prepare)
    assert calls == []
    assert outcome.values == {0: 0, 1: 6}


def test_hinted_value_of_a_term():
    model, x, y = _model()
    term = Term("moves", 2 * x + y + 1, maximize=False)
    assert hinted(model, term) is None  # no hint yet
    model.add_hint(x, 2)
    assert hinted(model, term) is None  # y missing
    model.add_hint(y, 5)
    assert hinted(model, term) == 2 * 2 + 5 + 1


def _counted_solves(monkeypatch):
    calls = []
    solve = cp_model.CpSolver.solve

    def counting(self, model, *args, **kwargs):
        calls.append(model)
        return solve(self, model, *args, **kwargs)

    monkeypatch.setattr(cp_model.CpSolver, "solve", counting)
    return calls


def _ranged_model():
    # x in 1..10, y in 0..10 with x + y >= 6, hinted with the solution x = 1, y = 5: x sits at its own lower end
    # (1, the least it can be), y does not (its domain starts at 0)
    model = cp_model.CpModel()
    x = model.new_int_var(1, 10, "x")
    y = model.new_int_var(0, 10, "y")
    model.add(x + y >= 6)
    model.add_hint(x, 1)
    model.add_hint(y, 5)
    return model, x, y


def test_a_stage_hinted_at_the_end_of_its_domain_is_not_solved(monkeypatch):
    calls = _counted_solves(monkeypatch)
    model, x, y = _ranged_model()
    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    outcome = solve_stages(model, terms, [x, y], PARAMS, hint_is_solution=True)
    # x = 1 is optimal as hinted (no value below its domain): only y is solved, and y = 5 is its least given x = 1
    assert len(calls) == 1
    assert [(r.status, r.objective, r.bound) for r in outcome.reports] == [("optimal", 1.0, 1.0), ("optimal", 5.0, 5.0)]
    assert outcome.values == {0: 1, 1: 5}
    assert outcome.proven == [1, 5]


def test_a_hint_not_known_to_be_a_solution_is_solved_as_usual(monkeypatch):
    calls = _counted_solves(monkeypatch)
    model, x, y = _ranged_model()
    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    outcome = solve_stages(model, terms, [x, y], PARAMS)
    assert len(calls) == 2
    assert outcome.values == {0: 1, 1: 5}


def test_after_a_prepare_call_the_hint_is_checked_by_a_solve(monkeypatch):
    # the prepare call replaces the hint with x = 1, y = 10 (feasible, at y's upper end): a maximised y there is not
    # taken as it is but solved, since a prepare call may hint anything
    calls = _counted_solves(monkeypatch)
    model, x, y = _ranged_model()

    def prepare(position, reached, share, deadline):
        del position, reached, share, deadline
        _rehint(model, {x: 1, y: 10})
        return Preparation(None)

    terms = [Term("replicas", x, maximize=False), Term("spread", y, maximize=True)]
    outcome = solve_stages(model, terms, [x, y], PARAMS, bounds=[1, None], prepare=prepare, hint_is_solution=True)
    assert len(calls) == 1  # x skipped (at its lower end), y solved after the prepare call
    assert outcome.values == {0: 1, 1: 10}


def test_a_feasible_stage_off_its_known_bound_ends_the_chain(monkeypatch):
    # x in 1..10, y in 0..10, x + y >= 6. The first stage minimises x and reports "feasible" (the solver's answer is
    # made FEASIBLE here, as when a budget stops the proof) at x = 1, above its known bound 0: the chain of known
    # bounds ends, so the second stage's bound 8 (valid only had x ended at 0) must not be stated. y is then solved
    # on its own: the fewest y with x <= 1 is 6 - 1 = 5. Stating the stale bound would force y >= 8.
    solve = cp_model.CpSolver.solve
    codes = []

    def first_feasible(self, model, *args, **kwargs):
        code = solve(self, model, *args, **kwargs)
        codes.append(code)
        return cp_model.FEASIBLE if len(codes) == 1 else code

    monkeypatch.setattr(cp_model.CpSolver, "solve", first_feasible)
    model, x, y = _ranged_model()
    terms = [Term("replicas", x, maximize=False), Term("moves", y, maximize=False)]
    outcome = solve_stages(model, terms, [x, y], PARAMS, bounds=[0, 8])
    assert [(r.status, r.objective) for r in outcome.reports] == [("feasible", 1.0), ("optimal", 5.0)]
    assert outcome.values == {0: 1, 1: 5}
