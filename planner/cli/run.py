"""Build reports from the CLI's inputs: evaluate every plan locally, or accept the service's evaluations."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import msgspec

from planner.cli.sources import Inputs, locations_for, requirement_field
from planner.domain.documents import Placement, ServicePlan
from planner.engine.evaluate import evaluate_plan
from planner.engine.results import Evaluation
from planner.report.model import Location, Report, ServiceReport

if TYPE_CHECKING:
    from planner.optimizer.schema import Recommendation


def tool_version() -> str:
    try:
        return version("traffic-planner")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "0"


def evaluate_locally(inputs: Inputs) -> list[Evaluation]:
    """Evaluate every plan (and every plan under each scenario) with the engine."""
    return [evaluate_plan(e.cluster, e.plan, scenario=e.scenario) for e in inputs.evaluables]


def build_report(inputs: Inputs, evaluations: list[Evaluation]) -> Report:
    """Pair each evaluation with where its Service, findings and requirements are written."""
    services: list[ServiceReport] = []
    for evaluable, source, evaluation in zip(inputs.evaluables, inputs.sources, evaluations, strict=True):
        check_locations: dict[str, Location] = {}
        for check in evaluation.checks:
            where = source.where(requirement_field(check.requirement))
            if where is not None:
                check_locations[check.requirement] = where
        services.append(
            ServiceReport(
                name=evaluable.plan.metadata.name,
                namespace=evaluable.plan.metadata.namespace,
                scenario=evaluable.scenario.metadata.name if evaluable.scenario is not None else None,
                evaluation=evaluation,
                requirements=evaluable.plan.spec.requirements,
                location=source.where("spec.service"),
                finding_locations=locations_for(source, evaluation.findings),
                check_locations=check_locations,
            )
        )
    return Report(services=services, sources=inputs.source_names, tool_version=tool_version())


def _with_placement(plan: ServicePlan, pods_per_node: dict[str, int]) -> ServicePlan:
    placement = Placement(pods_per_node={n: c for n, c in pods_per_node.items() if c > 0})
    return msgspec.structs.replace(plan, spec=msgspec.structs.replace(plan.spec, placement=placement))


def recommend_inputs(
    inputs: Inputs, *, time_limit_seconds: float, seed: int, server: str | None = None
) -> tuple[Recommendation, Report]:
    """Run the optimizer over every plan of the first cluster (scenarios are not placed), then evaluate the
    current and the recommended placement side by side."""
    from planner.optimizer.schema import Recommendation as RecommendationResult  # noqa: PLC0415 - CP-SAT loads slowly
    from planner.optimizer.schema import RecommendRequest, ServiceGoal, SolverParams  # noqa: PLC0415
    from planner.optimizer.solve import recommend  # noqa: PLC0415

    plans = [e for e in inputs.evaluables if e.scenario is None]
    cluster = plans[0].cluster
    plans = [e for e in plans if e.cluster is cluster]
    request = RecommendRequest(
        cluster=cluster,
        services=[ServiceGoal(plan=e.plan) for e in plans],
        solver=SolverParams(time_limit_seconds=time_limit_seconds, random_seed=seed),
    )
    if server is None:
        result = recommend(request)
    else:
        from planner.cli.remote import recommend_remote  # noqa: PLC0415

        answer = recommend_remote(server, inputs.objects, time_limit_seconds=time_limit_seconds, seed=seed)
        result = msgspec.convert(answer, RecommendationResult)
    kept = [(e, s) for e, s in zip(inputs.evaluables, inputs.sources, strict=True) if e in plans]
    sub = Inputs(inputs.objects, inputs.bundle)
    sub.evaluables = [e for e, _ in kept]
    sub.sources = [s for _, s in kept]
    report = build_report(sub, evaluate_locally(sub))
    by_key = {(r.namespace, r.name): r for r in result.services}
    for service, evaluable in zip(report.services, sub.evaluables, strict=True):
        rec = by_key.get((service.namespace, service.name))
        service.recommendation = rec
        if rec is not None and rec.pods_per_node:
            service.recommended = evaluate_plan(evaluable.cluster, _with_placement(evaluable.plan, rec.pods_per_node))
    report.recommendation = result
    return result, report


__all__ = ["build_report", "evaluate_locally", "recommend_inputs", "tool_version"]
