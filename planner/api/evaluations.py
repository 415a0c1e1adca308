"""Evaluation endpoints: stateless ``POST /v1/evaluate``, stored evaluations of ServicePlans and Scenarios,
and comparisons between two stored evaluations.

::

    POST /v1/evaluate                                                         inline documents, nothing stored
    POST /v1/namespaces/{namespace}/{serviceplans|scenarios}/{name}/evaluations     evaluate and persist
    GET  /v1/namespaces/{namespace}/{serviceplans|scenarios}/{name}/evaluations     list, newest first
    GET  /v1/namespaces/{namespace}/{serviceplans|scenarios}/{name}/evaluations/{uid}
    GET  /v1/evaluations/{uid}
    GET  /v1/comparisons?base={uid}&other={uid}
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.params import HeaderParameter, PathParameter, QueryParameter, RawBody

from planner.api.auth import require_visible
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
from planner.api.evaluation_schemas import (
    V1,
    Comparison,
    EvaluationList,
    EvaluationRecord,
    EvaluationResult,
    PlanComparison,
    VerdictFailedProblem,
)
from planner.api.evaluation_service import (
    EVALUATION,
    evaluate_in_thread,
    evaluation_metadata,
    evaluation_record,
    evaluation_summary,
    plan_inputs,
    scenario_inputs,
)
from planner.api.inline import read_inline
from planner.api.problems import PROBLEM_JSON, FieldProblem
from planner.api.reports import evaluation_report
from planner.api.schemas import UID_PATTERN, ListMetadata
from planner.db.errors import ResultNotFound
from planner.db.result_pages import list_result_page
from planner.db.results import get_result, save_result
from planner.engine.evaluate import compare
from planner.worker.recommend_job import plain

VERDICT_FAILED = "urn:trafficplanner:problem:verdict-failed"

UidParam = Annotated[
    str, PathParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Evaluation id (uid)")
]

INLINE_SCHEMA = Schema(
    description=(
        "A stream of documents. planner documents: one `Cluster`, `ServicePlan`s, at most one `Scenario`. "
        "Or what a pipeline has: `NodeList` (and `PodList`) from `kubectl get -o yaml`, `Service` and "
        "`Deployment`/`StatefulSet`/`DaemonSet` manifests, and `TrafficProfile` documents "
        "(`apiVersion: trafficplanner.io/v1`) naming the Services. YAML: several documents separated by `---`. "
        "JSON: one object, a `kind: List` with `items`, or an array of objects."
    ),
)
INLINE_BODY = RequestBody(
    required=True,
    description="The documents to evaluate (nothing is stored)",
    content={
        "application/yaml": OpenAPIMediaType(schema=INLINE_SCHEMA),
        "application/json": OpenAPIMediaType(schema=INLINE_SCHEMA),
    },
)

EVALUATE_DESCRIPTION = """Evaluates every ServicePlan in the body (each Service manifest becomes one) under its
current traffic policy and every applicable alternative; with a `Scenario`, evaluates the scenario's plans with
its changes and without them (`base`, `changes`). Nothing is stored.

**Gating a pipeline.** The contract is the `verdict` field: `pass` or `fail` against the plans' `requirements`
(any failing evaluation, scenario baselines included, fails the verdict; `failures` lists them). By default the
status is 200 whatever the verdict. With `?failOnVerdict=true` a failing verdict answers **422** with an RFC 9457
problem of type `urn:trafficplanner:problem:verdict-failed` whose `errors` list the failed requirements and whose
`result` member is the full evaluation, so `curl --fail` gates on the status alone. Invalid documents are 422 too,
with another problem type (`invalid-document`, `unknown-reference`) and field paths. An infeasible or degenerate
placement (e.g. no ready Pod) is not an error: it is evaluated and reported."""

LOCATION = ResponseHeader(name="Location", description="URL of the stored evaluation", documentation_only=True)

BAD_REQUEST = problem("Malformed body, query or header")
NOT_FOUND = problem("No such document, revision or evaluation")


def _verdict_problem(request: Request[Any, Any, Any], result: EvaluationResult) -> Response[VerdictFailedProblem]:
    errors: list[FieldProblem] = []
    for outcome in result.plans:
        for evaluation, where in ((outcome.evaluation, ""), (outcome.base, " (without the scenario)")):
            if evaluation is None:
                continue
            errors.extend(
                FieldProblem(
                    field=f"{outcome.namespace}/{outcome.service_plan}.spec.requirements.{check.requirement}",
                    type="Invalid",
                    message=f"requirement not met{where}: limit {check.limit}, actual {check.actual}",
                    value=check.actual,
                )
                for check in evaluation.checks
                if not check.passed
            )
    body = VerdictFailedProblem(
        type=VERDICT_FAILED,
        title=HTTPStatus(422).phrase,
        status=422,
        detail="verdict fail: " + "; ".join(result.failures),
        instance=request.url.path,
        errors=errors,
        result=result,
    )
    return Response(body, status_code=422, media_type=PROBLEM_JSON)


@post(
    "/v1/evaluate",
    operation_id="evaluate",
    summary="Evaluate inline documents (stateless)",
    description=EVALUATE_DESCRIPTION,
    tags=["Evaluation"],
    status_code=200,
    operation_class=custom_operation(INLINE_BODY),
    responses={
        200: success(EvaluationResult, "The evaluation; gate on `verdict`"),
        400: BAD_REQUEST,
        413: problem("Body larger than the configured limit"),
        415: problem("Body is neither JSON nor YAML"),
        422: success(
            VerdictFailedProblem,
            "Invalid documents (problem with field paths), or, with `failOnVerdict=true`, a failing verdict "
            "(problem type `verdict-failed` carrying the full `result`)",
            PROBLEM_JSON,
        ),
    },
)
async def evaluate(
    *,
    request: Request[Any, Any, Any],
    body: RawBody,
    content_type: Annotated[str | None, HeaderParameter(name="Content-Type", include_in_schema=False)] = None,
    fail_on_verdict: Annotated[
        bool,
        QueryParameter(
            name="failOnVerdict", description="Answer 422 (problem `verdict-failed`) instead of 200 when it fails"
        ),
    ] = False,
) -> Response[Any]:
    inline = read_inline(body, content_type)
    result = await evaluate_in_thread(inline.cluster, inline.plans, inline.scenario, inline.ignored)
    if fail_on_verdict and result.verdict == "fail":
        return _verdict_problem(request, result)
    return Response(result)


# --- stored evaluations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    kind: Literal["ServicePlan", "Scenario"]
    plural: str


SUBJECTS = (Subject("ServicePlan", "serviceplans"), Subject("Scenario", "scenarios"))


def _record_response(record: EvaluationRecord, status: int = 200, **headers: str) -> Response[EvaluationRecord]:
    return Response(record, status_code=status, headers=headers or None)


def evaluation_router(subject: Subject) -> Router:
    """Create, list and read the stored evaluations of one document kind."""
    base = f"/v1/namespaces/{{namespace:str}}/{subject.plural}/{{name:str}}/evaluations"
    tags = ["Evaluation"]
    what = (
        "the ServicePlan (latest, or `?revision=N`) against the latest revision of its Cluster"
        if subject.kind == "ServicePlan"
        else "the Scenario's ServicePlans with its changes and without them (the baseline), on the latest "
        "revisions of its Cluster and ServicePlans (the Scenario itself: latest or `?revision=N`)"
    )

    @post(
        base,
        operation_id=f"evaluate{subject.kind}",
        summary=f"Evaluate a stored {subject.kind} and keep the result",
        description=(
            f"Evaluates {what}. The result records the revision of every input (`metadata.inputRevisions`, "
            "keyed `Kind/name`), is persisted and listed under the document. Always 201 when evaluated: the "
            "verdict is in `result.verdict`."
        ),
        tags=tags,
        status_code=201,
        operation_class=custom_operation(None, (LOCATION,), ("201",)),
        responses={
            201: success(EvaluationRecord, "The stored evaluation"),
            400: BAD_REQUEST,
            404: problem(f"No such {subject.kind} or revision"),
            422: problem("A referenced document no longer exists, or the stored inputs cannot be evaluated"),
        },
    )
    async def create(
        namespace: NamespaceParam, name: NameParam, db: DatabaseDep, revision: RevisionQuery = None
    ) -> Response[EvaluationRecord]:
        if subject.kind == "ServicePlan":
            inputs = await plan_inputs(db, namespace, name, revision)
        else:
            inputs = await scenario_inputs(db, namespace, name, revision)
        result = await evaluate_in_thread(inputs.cluster, inputs.plans, inputs.scenario)
        stored = await save_result(
            db,
            namespace=namespace,
            subject_kind=subject.kind,
            subject_name=name,
            kind=EVALUATION,
            status=result.verdict,
            input_revisions=dict(inputs.revisions),
            payload=_builtins(result),
        )
        record = EvaluationRecord(api_version=V1, metadata=evaluation_metadata(stored), result=result)
        return _record_response(record, 201, Location=f"{base_url(namespace, subject, name)}/{stored.uid}")

    @get(
        base,
        operation_id=f"list{subject.kind}Evaluations",
        summary=f"List the stored evaluations of a {subject.kind}",
        description="Newest first; `limit` and the `continue` token page through them.",
        tags=tags,
        responses={200: success(EvaluationList, "One page of evaluations, newest first"), 400: BAD_REQUEST},
    )
    async def listing(
        namespace: NamespaceParam,
        name: NameParam,
        db: DatabaseDep,
        limit: LimitQuery = 50,
        continue_: ContinueQuery = None,
    ) -> EvaluationList:
        page = await list_result_page(
            db,
            namespace=namespace,
            subject_kind=subject.kind,
            subject_name=name,
            kind=EVALUATION,
            limit=limit,
            continue_token=continue_,
        )
        return EvaluationList(
            api_version=V1,
            metadata=ListMetadata(continue_=page.continue_token),
            items=[evaluation_summary(item) for item in page.items],
        )

    @get(
        f"{base}/{{uid:str}}",
        operation_id=f"read{subject.kind}Evaluation",
        summary=f"Read a stored evaluation of a {subject.kind}",
        tags=tags,
        responses={200: success(EvaluationRecord, "The stored evaluation"), 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    async def read(namespace: NamespaceParam, name: NameParam, uid: UidParam, db: DatabaseDep) -> EvaluationRecord:
        stored = await get_result(db, uid)
        if (stored.namespace, stored.subject_kind, stored.subject_name) != (namespace, subject.kind, name):
            raise ResultNotFound(uid)
        return evaluation_record(stored)

    return Router(path="/", route_handlers=[create, listing, read])


def base_url(namespace: str, subject: Subject, name: str) -> str:
    return f"/v1/namespaces/{namespace}/{subject.plural}/{name}/evaluations"


def _builtins(result: EvaluationResult) -> dict[str, Any]:
    payload = msgspec.to_builtins(result, enc_hook=plain)
    assert isinstance(payload, dict)
    return payload


@get(
    "/v1/evaluations/{uid:str}",
    operation_id="readEvaluation",
    summary="Read a stored evaluation by id",
    tags=["Evaluation"],
    responses={200: success(EvaluationRecord, "The stored evaluation"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
async def read_evaluation(uid: UidParam, db: DatabaseDep) -> EvaluationRecord:
    stored = await get_result(db, uid)
    require_visible(stored.namespace, ResultNotFound(uid))
    return evaluation_record(stored)


@get(
    "/v1/comparisons",
    operation_id="compareEvaluations",
    summary="What changed between two stored evaluations",
    description=(
        "Compares the ServicePlans present in both evaluations (revision N against N+1, a Scenario against a "
        "ServicePlan's evaluation, ...): for each, the current policy's numbers that changed, e.g. "
        "`hottest Pod 1.50x -> 1.00x mean`, `client IP 0% -> 100%`. A Scenario evaluation contributes its "
        "what-if state (its own `changes` already compare it with its baseline)."
    ),
    tags=["Evaluation"],
    responses={200: success(Comparison, "The differences"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
async def comparisons(
    db: DatabaseDep,
    base: Annotated[
        str, QueryParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Evaluation id: the before")
    ],
    other: Annotated[
        str, QueryParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Evaluation id: the after")
    ],
) -> Comparison:
    before = await get_result(db, base)
    require_visible(before.namespace, ResultNotFound(base))
    after = await get_result(db, other)
    require_visible(after.namespace, ResultNotFound(other))
    first, second = evaluation_record(before), evaluation_record(after)
    by_plan = {(p.namespace, p.service_plan): p for p in second.result.plans}
    seen = set()
    plans: list[PlanComparison] = []
    lines: list[str] = []
    for outcome in first.result.plans:
        key = (outcome.namespace, outcome.service_plan)
        match = by_plan.get(key)
        if match is None:
            continue
        seen.add(key)
        changes = compare(outcome.evaluation, match.evaluation)
        plans.append(
            PlanComparison(
                service_plan=outcome.service_plan,
                namespace=outcome.namespace,
                changes=changes,
                base=outcome.evaluation.policies[0].summary,
                other=match.evaluation.policies[0].summary,
            )
        )
        lines.append(f"{outcome.service_plan}: " + (", ".join(changes) or "no change"))
    return Comparison(
        api_version=V1,
        base=first.metadata,
        other=second.metadata,
        plans=plans,
        only_in_base=[p.service_plan for p in first.result.plans if (p.namespace, p.service_plan) not in seen],
        only_in_other=[p.service_plan for p in second.result.plans if (p.namespace, p.service_plan) not in seen],
        summary="\n".join(lines),
    )


def evaluation_routes() -> list[Any]:
    """Every evaluation route handler, for the app factory."""
    return [evaluate, *(evaluation_router(s) for s in SUBJECTS), read_evaluation, evaluation_report, comparisons]
