"""The optimizer's CpModel: the same model as ortools' own class, without the per-instance camelCase aliases."""

from __future__ import annotations

from ortools.sat.python import cp_model

from planner.optimizer.cpmodel import CpModel


def _build(model: cp_model.CpModel) -> None:
    # maximise 3x + 2y with x + y <= 4 and x <= 3 over 0..10: x = 3, y = 1, objective 9 + 2 = 11
    x = model.new_int_var(0, 10, "x")
    y = model.new_int_var(0, 10, "y")
    model.add(x + y <= 4)
    model.add(x <= 3)
    model.maximize(3 * x + 2 * y)


def _solve(model: cp_model.CpModel) -> float:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(model) == cp_model.OPTIMAL
    return solver.objective_value


def test_same_proto_and_optimum_as_the_ortools_class() -> None:
    ours, theirs = CpModel(), cp_model.CpModel()
    _build(ours)
    _build(theirs)
    assert str(ours.proto) == str(theirs.proto)
    assert _solve(ours) == _solve(theirs) == 11.0


def test_no_aliases_are_attached_to_the_instance() -> None:
    # ortools' constructor attaches a deprecated alias per method to every instance (NewIntVar for new_int_var...);
    # ours skips that. Should a new ortools rename the hook, this fails instead of silently losing the saving.
    assert vars(CpModel()) == {}
    assert hasattr(cp_model.CpModel(), "NewIntVar")


def test_clone_keeps_the_class_and_the_model() -> None:
    model = CpModel()
    _build(model)
    copy = model.clone()
    assert type(copy) is CpModel
    assert vars(copy) == {}
    assert str(copy.proto) == str(model.proto)
    assert _solve(copy) == 11.0
