"""Build optimizer requests from inline documents or stored ones, and decide between an inline solve and a job."""

from __future__ import annotations

from typing import Any

import msgspec

from planner.api.body import convert
from planner.api.evaluation_service import StoredInputs, plan_inputs
from planner.api.problems import ApiProblem, FieldProblem
from planner.api.recommend_schemas import RecommendOptions, RecommendOptionsSpec, ServiceOptions
from planner.config import get_settings
from planner.db.documents import get_document
from planner.db.engine import Database
from planner.db.errors import DocumentNotFound
from planner.domain.documents import Cluster, ServicePlan
from planner.domain.errors import UnknownReference
from planner.optimizer.schema import HighAvailability, RecommendRequest, ServiceGoal
from planner.worker.settings import SolveSettings


def options_from_documents(extras: list[dict[str, Any]]) -> RecommendOptionsSpec:
    """The ``RecommendOptions`` document of a stream (at most one); defaults when there is none.

    Raises:
        ApiProblem: 422 for more than one, or a field error (path inside the options document).
    """
    if not extras:
        return RecommendOptionsSpec()
    if len(extras) > 1:
        msg = "give at most one RecommendOptions document"
        raise ApiProblem(
            422, msg, problem="invalid-document", errors=[FieldProblem(field="kind", type="Duplicate", message=msg)]
        )
    return convert(extras[0], RecommendOptions).spec


def _invalid(field: str, message: str, value: Any = None) -> ApiProblem:
    return ApiProblem(
        422,
        f"{field}: {message}",
        problem="invalid-document",
        errors=[FieldProblem(field=field, type="Invalid", message=message, value=value)],
    )


def _goal(plan: ServicePlan, own: ServiceOptions | None, defaults: ServiceOptions) -> ServiceGoal:
    chosen = own or defaults
    replicas, replica_range = chosen.replicas, chosen.replica_range
    if own is not None and replicas is None and replica_range is None:
        replicas, replica_range = defaults.replicas, defaults.replica_range
    ha = (own.high_availability if own else None) or defaults.high_availability or HighAvailability()
    capacity = (own.pod_capacity_connections_per_second if own else None) or (
        defaults.pod_capacity_connections_per_second
    )
    return ServiceGoal(
        plan=plan,
        replicas=replicas,
        replica_range=replica_range,
        high_availability=ha,
        pod_capacity_connections_per_second=capacity,
    )


def build_request(
    cluster: Cluster, plans: list[ServicePlan], options: RecommendOptionsSpec, settings: SolveSettings
) -> RecommendRequest:
    """One optimizer request over ``cluster`` for every plan, with the goals of ``options``.

    Raises:
        ApiProblem: 422 for options naming a plan that is not part of the request, or asking for more solver
            workers or a longer time limit (solver budget or wall clock) than this server allows.
        UnknownReference: an option names a ServicePlan that is not given.
    """
    if options.defaults.service_plan is not None:
        raise _invalid("spec.defaults.servicePlan", "must be unset in defaults", options.defaults.service_plan)
    names = {p.metadata.name for p in plans}
    own: dict[str, ServiceOptions] = {}
    for position, entry in enumerate(options.services):
        field = f"spec.services[{position}].servicePlan"
        if entry.service_plan is None:
            raise ApiProblem(
                422,
                f"{field}: required",
                problem="invalid-document",
                errors=[FieldProblem(field=field, type="Required", message="name the ServicePlan")],
            )
        if entry.service_plan not in names:
            raise UnknownReference(field, "ServicePlan", entry.service_plan)
        if entry.service_plan in own:
            raise _invalid(field, "listed twice", entry.service_plan)
        own[entry.service_plan] = entry
    if options.solver.num_workers > settings.max_workers:
        raise _invalid(
            "spec.solver.numWorkers", f"at most {settings.max_workers} on this server", options.solver.num_workers
        )
    cap = get_settings().max_solve_seconds  # PLANNER_MAX_SOLVE_SECONDS
    for field, seconds in (
        ("timeLimitSeconds", options.solver.time_limit_seconds),
        ("wallClockLimitSeconds", options.solver.wall_clock_limit_seconds),
    ):
        if seconds is not None and seconds > cap:
            raise _invalid(f"spec.solver.{field}", f"at most {cap:g} seconds on this server", seconds)
    goals = [_goal(plan, own.get(plan.metadata.name), options.defaults) for plan in plans]
    return RecommendRequest(
        cluster=cluster,
        services=goals,
        objective=options.objective,
        solver=options.solver,
        include_manifests=options.include_manifests,
    )


async def stored_recommend_inputs(
    db: Database, namespace: str, name: str, revision: int | None, options: RecommendOptionsSpec
) -> StoredInputs:
    """The ServicePlan (latest or ``revision``), its Cluster, and the other ServicePlans ``options`` names (latest
    revisions; they must run on the same Cluster).

    Raises:
        DocumentNotFound: no such ServicePlan or revision (404).
        UnknownReference: the Cluster or a named ServicePlan does not exist (422).
        ApiProblem: a named ServicePlan is on another Cluster (422).
    """
    inputs = await plan_inputs(db, namespace, name, revision)
    plans = list(inputs.plans)
    revisions = dict(inputs.revisions)
    for position, entry in enumerate(options.services):
        other = entry.service_plan
        if other is None or other == name or any(p.metadata.name == other for p in plans):
            continue
        field = f"spec.services[{position}].servicePlan"
        try:
            stored = await get_document(db, "ServicePlan", namespace, other)
        except DocumentNotFound as exc:
            raise UnknownReference(field, "ServicePlan", other) from exc
        plan = msgspec.convert(stored.content, ServicePlan)
        if plan.spec.cluster_ref != inputs.cluster.metadata.name:
            raise _invalid(
                field, f"runs on Cluster {plan.spec.cluster_ref!r}, not {inputs.cluster.metadata.name!r}", other
            )
        plans.append(plan)
        revisions[f"ServicePlan/{other}"] = stored.revision
    return StoredInputs(cluster=inputs.cluster, plans=plans, scenario=None, revisions=revisions)


def runs_as_job(request: RecommendRequest, settings: SolveSettings, *, asked: bool) -> bool:
    """A solve becomes a job when asked to, when its time limit exceeds the inline limit, or when this process
    runs no solves itself."""
    return asked or request.solver.time_limit_seconds > settings.inline_seconds or settings.concurrency == 0
