"""Recommendation endpoints: stateless ``POST /v1/recommend`` and stored recommendations of a ServicePlan.

::

    POST /v1/recommend                                                           inline documents + options
    POST /v1/namespaces/{namespace}/serviceplans/{name}/recommendations          solve and persist
    GET  /v1/namespaces/{namespace}/serviceplans/{name}/recommendations          list, newest first
    GET  /v1/namespaces/{namespace}/serviceplans/{name}/recommendations/{uid}

Small solves answer inline (200 or 201). A solve whose ``solver.timeLimitSeconds`` exceeds the server's inline
limit, or any solve with ``?async=true``, is stored as a job: ``202 Accepted`` with ``Location: /v1/jobs/{uid}``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import HeaderParameter, PathParameter, QueryParameter, RawBody

from planner.api.auth import current_principal
from planner.api.body import decode_one
from planner.api.deps import DatabaseDep
from planner.api.documents import (
    ContinueQuery,
    LimitQuery,
    NameParam,
    NamespaceParam,
    RevisionQuery,
    custom_operation,
    problem,
    success,
)
from planner.api.evaluation_schemas import V1
from planner.api.evaluation_service import stored_metadata
from planner.api.inline import read_inline
from planner.api.jobs import JOB_LOCATION, recommendation_url, submit_recommend_job
from planner.api.problems import ApiProblem, FieldProblem
from planner.api.recommend_schemas import (
    JobResource,
    RecommendationList,
    RecommendationMetadata,
    RecommendationRecord,
    RecommendationResult,
    RecommendationSummary,
    RecommendOptionsSpec,
    pods_per_plan,
    solver_outcome,
)
from planner.api.recommend_service import (
    build_request,
    options_from_documents,
    runs_as_job,
    stored_recommend_inputs,
)
from planner.api.reports import recommendation_report
from planner.api.schemas import UID_PATTERN, ListMetadata
from planner.api.solving import runner_of, too_many_requests
from planner.db.errors import ResultNotFound
from planner.db.result_pages import list_result_page
from planner.db.results import StoredResult, get_result
from planner.optimizer.schema import Recommendation, RecommendRequest
from planner.worker.recommend_job import RECOMMENDATION, RecommendJobRequest, keep_recommendation, solve_in_thread
from planner.worker.runner import CallerBusy, InProcessRunner, SolverBusy

OPTIONS_KIND = "RecommendOptions"

AsyncQuery = Annotated[
    bool,
    QueryParameter(name="async", description="Always answer 202 with a job, whatever the time limit"),
]

INLINE_BODY = RequestBody(
    required=True,
    description="The documents, as for `POST /v1/evaluate`, plus at most one `RecommendOptions` document",
    content={
        media: OpenAPIMediaType(
            schema=Schema(
                description=(
                    "A stream of documents as for `/v1/evaluate` (a Cluster or NodeList/PodList, ServicePlans or "
                    "Service + workload manifests with TrafficProfiles). Optimizer options go in a document "
                    "`apiVersion: trafficplanner.io/v1`, `kind: RecommendOptions` whose `spec` is a "
                    "`RecommendOptionsSpec`: per-plan `services` (replicas or replicaRange, highAvailability, "
                    "podCapacityConnectionsPerSecond), `defaults`, `objective.order`, `solver` (timeLimitSeconds, "
                    "randomSeed, ...)."
                )
            )
        )
        for media in ("application/yaml", "application/json")
    },
)

OPTIONS_BODY = RequestBody(
    required=False,
    description="Optimizer options (JSON or YAML); an empty body takes the defaults",
    content={
        media: OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                description=(
                    "A `RecommendOptionsSpec` (the `spec` of a `RecommendOptions` document): `services` (per "
                    "ServicePlan: `servicePlan`, `replicas` or `replicaRange`, `highAvailability`, "
                    "`podCapacityConnectionsPerSecond`; naming another ServicePlan places it too), `defaults`, "
                    "`objective.order`, `solver` (`timeLimitSeconds`, `randomSeed`, `numWorkers`, ...), "
                    "`includeManifests`."
                ),
            )
        )
        for media in ("application/yaml", "application/json")
    },
)

ASYNC_DESCRIPTION = (
    "Solves up to the server's inline limit (`PLANNER_SOLVE_INLINE_SECONDS`, 2 s by default, compared with "
    "`solver.timeLimitSeconds`) answer inline. Longer ones, or `?async=true`, answer `202 Accepted` with a `Job` and "
    "`Location: /v1/jobs/{uid}` to poll. Concurrent solves are bounded (`PLANNER_SOLVE_CONCURRENCY`) and so is the "
    "job queue (`PLANNER_SOLVE_QUEUE_LIMIT`, and `PLANNER_JOBS_PER_TOKEN` jobs queued or running per token): beyond "
    "them the answer is `429` with `Retry-After`. An infeasible "
    "placement is an answer (`status: infeasible` with `explanations`), not an error."
)

LOCATION = ResponseHeader(name="Location", description="The stored recommendation, or the job", documentation_only=True)

BUSY = problem("Every solve slot or the job queue is full; retry after `Retry-After` seconds")


async def _solve_inline(runner: InProcessRunner, request: RecommendRequest) -> Recommendation:
    caller = current_principal()
    try:
        async with runner.inline_slot(caller.token_id):
            return await solve_in_thread(request)
    except CallerBusy as exc:
        msg = (
            f"{caller.name!r} already runs {runner.settings.per_caller} solves (PLANNER_SOLVES_PER_TOKEN); "
            "retry later or use ?async=true"
        )
        raise too_many_requests(runner, msg) from exc
    except SolverBusy as exc:
        msg = f"all {runner.limiter.total_tokens:g} solve slots are busy; retry later or use ?async=true"
        raise too_many_requests(runner, msg) from exc


@post(
    "/v1/recommend",
    operation_id="recommend",
    summary="Recommend Pods per node for inline documents (stateless)",
    description=(
        "Places every ServicePlan of the body together on its one Cluster (shared capacity). Nothing is stored "
        "unless the solve becomes a job (the job keeps its input and result). " + ASYNC_DESCRIPTION
    ),
    tags=["Recommendation"],
    status_code=200,
    operation_class=custom_operation(INLINE_BODY, (JOB_LOCATION,), ("202",)),
    responses={
        200: success(RecommendationResult, "The recommendation"),
        202: success(JobResource, "Accepted as a job; poll `Location`"),
        400: problem("Malformed body, query or header"),
        413: problem("Body larger than the configured limit"),
        415: problem("Body is neither JSON nor YAML"),
        422: problem("Invalid documents or options (field paths)"),
        429: BUSY,
    },
)
async def recommend_inline(
    *,
    request: Request[Any, Any, Any],
    db: DatabaseDep,
    body: RawBody,
    content_type: Annotated[str | None, HeaderParameter(name="Content-Type", include_in_schema=False)] = None,
    run_async: AsyncQuery = False,
) -> Response[Any]:
    runner = runner_of(request)
    inline = read_inline(body, content_type, extra_kinds=frozenset({OPTIONS_KIND}))
    if inline.scenario is not None:
        msg = "recommendations take a Cluster and ServicePlans; evaluate the Scenario instead"
        raise ApiProblem(
            422,
            msg,
            problem="invalid-document",
            errors=[FieldProblem(field="kind", type="NotSupported", message=msg, value="Scenario")],
        )
    options = options_from_documents(inline.extras)
    solve = build_request(inline.cluster, inline.plans, options, runner.settings)
    if runs_as_job(solve, runner.settings, asked=run_async):
        return await submit_recommend_job(db, runner, RecommendJobRequest(request=solve))
    recommendation = await _solve_inline(runner, solve)
    return Response(
        RecommendationResult(api_version=V1, solver=solver_outcome(recommendation), recommendation=recommendation)
    )


def _metadata(stored: StoredResult) -> RecommendationMetadata:
    return stored_metadata(stored, RecommendationMetadata)


def _record(stored: StoredResult) -> RecommendationRecord:
    if stored.kind != RECOMMENDATION:
        raise ResultNotFound(stored.uid)
    recommendation = msgspec.convert(stored.payload, Recommendation)
    return RecommendationRecord(
        api_version=V1,
        metadata=_metadata(stored),
        solver=solver_outcome(recommendation),
        recommendation=recommendation,
    )


BASE = "/v1/namespaces/{namespace:str}/serviceplans/{name:str}/recommendations"


@post(
    BASE,
    operation_id="recommendServicePlan",
    summary="Recommend Pods per node for a stored ServicePlan and keep the result",
    description=(
        "Solves the ServicePlan (latest, or `?revision=N`) on the latest revision of its Cluster. ServicePlans "
        "named in the options' `services` (same namespace and Cluster) are placed with it, sharing capacity. "
        "The result records every input revision and the solver's status, time and gap, and is listed under the "
        "ServicePlan (`201`). " + ASYNC_DESCRIPTION + " A job's result is persisted the same way; the job's "
        "`resultRef` points to it."
    ),
    tags=["Recommendation"],
    status_code=201,
    operation_class=custom_operation(OPTIONS_BODY, (LOCATION,), ("201", "202")),
    responses={
        201: success(RecommendationRecord, "The stored recommendation"),
        202: success(JobResource, "Accepted as a job; poll `Location`"),
        400: problem("Malformed body, query or header"),
        404: problem("No such ServicePlan or revision"),
        415: problem("Body is neither JSON nor YAML"),
        422: problem("Invalid options, or a referenced document does not exist"),
        429: BUSY,
    },
)
async def recommend_stored(
    *,
    request: Request[Any, Any, Any],
    namespace: NamespaceParam,
    name: NameParam,
    db: DatabaseDep,
    body: RawBody,
    content_type: Annotated[str | None, HeaderParameter(name="Content-Type", include_in_schema=False)] = None,
    revision: RevisionQuery = None,
    run_async: AsyncQuery = False,
) -> Response[Any]:
    runner = runner_of(request)
    options = decode_one(body, content_type, RecommendOptionsSpec)[0] if body.strip() else RecommendOptionsSpec()
    inputs = await stored_recommend_inputs(db, namespace, name, revision, options)
    solve = build_request(inputs.cluster, inputs.plans, options, runner.settings)
    spec = RecommendJobRequest(
        request=solve,
        input_revisions=inputs.revisions,
        namespace=namespace,
        subject_kind="ServicePlan",
        subject_name=name,
    )
    if runs_as_job(solve, runner.settings, asked=run_async):
        return await submit_recommend_job(db, runner, spec)
    recommendation = await _solve_inline(runner, solve)
    uid = await keep_recommendation(db, spec, recommendation)
    assert uid is not None
    record = _record(await get_result(db, uid))
    return Response(record, status_code=201, headers={"Location": recommendation_url(namespace, name, uid)})


@get(
    BASE,
    operation_id="listServicePlanRecommendations",
    summary="List the stored recommendations of a ServicePlan",
    description="Newest first; `limit` and the `continue` token page through them.",
    tags=["Recommendation"],
    responses={
        200: success(RecommendationList, "One page, newest first"),
        400: problem("Malformed query"),
    },
)
async def list_recommendations(
    namespace: NamespaceParam, name: NameParam, db: DatabaseDep, limit: LimitQuery = 50, continue_: ContinueQuery = None
) -> RecommendationList:
    page = await list_result_page(
        db,
        namespace=namespace,
        subject_kind="ServicePlan",
        subject_name=name,
        kind=RECOMMENDATION,
        limit=limit,
        continue_token=continue_,
    )
    return RecommendationList(
        api_version=V1,
        metadata=ListMetadata(continue_=page.continue_token),
        items=[
            RecommendationSummary(
                metadata=_metadata(item), status=item.status, pods_per_node=pods_per_plan(item.payload)
            )
            for item in page.items
        ],
    )


@get(
    f"{BASE}/{{uid:str}}",
    operation_id="readServicePlanRecommendation",
    summary="Read a stored recommendation of a ServicePlan",
    tags=["Recommendation"],
    responses={
        200: success(RecommendationRecord, "The stored recommendation"),
        400: problem("Malformed path"),
        404: problem("No such recommendation"),
    },
)
async def read_recommendation(
    namespace: NamespaceParam,
    name: NameParam,
    uid: Annotated[
        str, PathParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Recommendation id")
    ],
    db: DatabaseDep,
) -> RecommendationRecord:
    stored = await get_result(db, uid)
    if (stored.namespace, stored.subject_kind, stored.subject_name) != (namespace, "ServicePlan", name):
        raise ResultNotFound(uid)
    return _record(stored)


def recommendation_routes() -> list[Any]:
    return [recommend_inline, recommend_stored, list_recommendations, read_recommendation, recommendation_report]
