"""The ``recommend`` job: solve a stored :class:`RecommendRequest` in a worker thread and keep the result."""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.to_thread
import msgspec
import numpy as np

from planner.db.engine import Database
from planner.db.jobs import Job
from planner.db.results import save_result
from planner.domain.errors import DomainError
from planner.optimizer import recommend
from planner.optimizer.schema import Recommendation, RecommendRequest
from planner.telemetry import record_solve
from planner.worker.runner import JobInputError

RECOMMEND_JOB = "recommend"
RECOMMENDATION = "recommendation"
"""``kind`` of recommendation rows in the results table."""


class RecommendJobRequest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What a ``recommend`` job stores: the solver input and, for a stored document, where to keep the result."""

    request: RecommendRequest
    input_revisions: dict[str, int] = msgspec.field(default_factory=dict)
    namespace: str | None = None
    subject_kind: str | None = None
    subject_name: str | None = None


def plain(value: Any) -> Any:
    """``enc_hook`` for :func:`msgspec.to_builtins`: numpy scalars become Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    msg = f"cannot store values of type {type(value).__name__}"
    raise NotImplementedError(msg)


def _solve(request: RecommendRequest) -> Recommendation:
    return recommend(request)


async def solve_in_thread(request: RecommendRequest) -> Recommendation:
    """Run the CP-SAT solve in a worker thread; the event loop keeps serving meanwhile. If the caller is
    cancelled (shutdown), the thread is abandoned and ends on its own within the solver's time limit. Every
    finished solve (inline or a job) is counted by status in this process's metrics, with its wall time."""
    started = time.perf_counter()
    recommendation = await anyio.to_thread.run_sync(_solve, request, abandon_on_cancel=True)
    record_solve(time.perf_counter() - started, recommendation.status)
    return recommendation


async def keep_recommendation(db: Database, spec: RecommendJobRequest, recommendation: Recommendation) -> str | None:
    """Persist the recommendation under its subject document (when there is one); return the result's uid."""
    if spec.namespace is None or spec.subject_kind is None or spec.subject_name is None:
        return None
    payload = msgspec.to_builtins(recommendation, enc_hook=plain)
    assert isinstance(payload, dict)
    stored = await save_result(
        db,
        namespace=spec.namespace,
        subject_kind=spec.subject_kind,
        subject_name=spec.subject_name,
        kind=RECOMMENDATION,
        status=recommendation.status,
        input_revisions=dict(spec.input_revisions),
        payload=payload,
    )
    return stored.uid


async def run_recommend_job(db: Database, job: Job) -> dict[str, Any]:
    """Job handler: the result is ``{"recommendation": ..., "resultUid": ...}``.

    Raises:
        JobInputError: the stored request no longer decodes or the optimizer rejects its documents.
    """
    try:
        spec = msgspec.convert(job.request, RecommendJobRequest)
    except msgspec.ValidationError as exc:
        msg = f"the stored request is invalid: {exc}"
        raise JobInputError(msg) from exc
    try:
        recommendation = await solve_in_thread(spec.request)
    except DomainError as exc:
        raise JobInputError(str(exc)) from exc
    with anyio.CancelScope(shield=True):  # the solve is done: keep its result even if the process is stopping
        uid = await keep_recommendation(db, spec, recommendation)
    return {"recommendation": msgspec.to_builtins(recommendation, enc_hook=plain), "resultUid": uid}
