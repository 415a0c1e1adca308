"""``GET /v1/jobs/{uid}``: the state of a long solve, and submitting jobs from the recommendation endpoints."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import PathParameter

from planner.api.auth import current_principal, require_visible
from planner.api.deps import DatabaseDep
from planner.api.documents import problem, success
from planner.api.evaluation_schemas import V1
from planner.api.recommend_schemas import JobError, JobMetadata, JobResource, JobSubject, solver_outcome
from planner.api.schemas import UID_PATTERN
from planner.api.solving import too_many_requests
from planner.db.engine import Database
from planner.db.errors import JobNotFound
from planner.db.job_queue import QueueFull, enqueue_bounded, queue_position
from planner.db.jobs import Job, get_job
from planner.optimizer.schema import Recommendation
from planner.worker.recommend_job import RECOMMEND_JOB, RecommendJobRequest, plain
from planner.worker.runner import InProcessRunner

JOB_LOCATION = ResponseHeader(name="Location", description="URL of the job to poll", documentation_only=True)


def recommendation_url(namespace: str, name: str, uid: str) -> str:
    return f"/v1/namespaces/{namespace}/serviceplans/{name}/recommendations/{uid}"


async def job_resource(db: Database, job: Job) -> JobResource:
    request = job.request
    subject = None
    if request.get("subjectName") and request.get("namespace"):
        subject = JobSubject(
            kind=str(request.get("subjectKind")), namespace=str(request["namespace"]), name=str(request["subjectName"])
        )
    recommendation = None
    result_ref = None
    if job.status == "succeeded" and job.result is not None:
        recommendation = msgspec.convert(job.result.get("recommendation"), Recommendation)
        uid = job.result.get("resultUid")
        if uid and subject is not None:
            result_ref = recommendation_url(subject.namespace, subject.name, str(uid))
    error = job.error
    return JobResource(
        api_version=V1,
        metadata=JobMetadata(uid=job.uid, creation_timestamp=job.created_at, update_timestamp=job.updated_at),
        operation=job.kind,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        queue_position=await queue_position(db, job) if job.status == "queued" else None,
        started_at=job.started_at,
        finished_at=job.finished_at,
        subject=subject,
        input_revisions={str(k): int(v) for k, v in dict(request.get("inputRevisions") or {}).items()},
        solver=solver_outcome(recommendation) if recommendation is not None else None,
        result=recommendation,
        result_ref=result_ref,
        error=JobError(message=str(error.get("message", ""))) if error else None,
    )


async def submit_recommend_job(
    db: Database, runner: InProcessRunner, spec: RecommendJobRequest
) -> Response[JobResource]:
    """Store the job (bounded queue), wake the runner, answer ``202 Accepted`` with ``Location``.

    Raises:
        ApiProblem: 429 with ``Retry-After`` when the queue is full, or the caller already has
            ``PLANNER_JOBS_PER_TOKEN`` jobs queued or running.
    """
    payload = msgspec.to_builtins(spec, enc_hook=plain)
    assert isinstance(payload, dict)
    try:
        job = await enqueue_bounded(
            db,
            kind=RECOMMEND_JOB,
            request=payload,
            limit=runner.settings.queue_limit,
            namespace=spec.namespace,
            owner=current_principal().token_id,
            owner_limit=runner.settings.jobs_per_caller,
        )
    except QueueFull as exc:
        raise too_many_requests(runner, f"{exc}; retry later") from exc
    await runner.submit(job)
    location = f"/v1/jobs/{job.uid}"
    return Response(
        await job_resource(db, job),
        status_code=202,
        headers={"Location": location, "Retry-After": "1"},
    )


@get(
    "/v1/jobs/{uid:str}",
    operation_id="readJob",
    summary="Poll a long solve",
    description=(
        "`status` goes `queued` -> `running` -> `succeeded` | `failed` (a failed attempt below `maxAttempts` is "
        "queued again). Jobs are stored in the database: a restart of the service does not lose them; a job whose "
        "worker died is queued again once its lease expires. Once succeeded, `result` holds the recommendation "
        "and `solver` its status, time and gap."
    ),
    tags=["Recommendation"],
    responses={
        200: success(JobResource, "The job"),
        400: problem("Malformed id"),
        404: problem("No such job"),
    },
)
async def read_job(
    uid: Annotated[str, PathParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Job id")],
    db: DatabaseDep,
) -> JobResource:
    job = await get_job(db, uid)
    require_visible(job.namespace, JobNotFound(uid))
    return await job_resource(db, job)


def job_routes() -> list[Any]:
    return [read_job]
