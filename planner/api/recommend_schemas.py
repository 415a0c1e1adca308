"""Wire shapes of recommendations and jobs: the options a caller gives, the inline answer, stored records and the
job resource of a long solve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from planner.api.evaluation_schemas import StoredResultMetadata, Wire
from planner.api.schemas import ListMetadata
from planner.domain.base import Schema
from planner.domain.documents import ApiVersion
from planner.domain.types import DnsLabel, Rate
from planner.optimizer.schema import (
    HighAvailability,
    Objective,
    PositiveCount,
    Recommendation,
    ReplicaRange,
    SolverParams,
    SolveStatus,
    StageReport,
)


class ServiceOptions(Schema):
    """Goals of one ServicePlan (``servicePlan``), or of every plan not listed (``defaults``)."""

    service_plan: DnsLabel | None = None
    """Required in ``services``, absent in ``defaults``. Stored recommendations: naming another ServicePlan of the
    namespace (on the same Cluster) places it together with the subject, sharing the cluster's capacity."""
    replicas: PositiveCount | None = None
    """Fixed replica count. Unset (and no range): the workload's ``spec.replicas``."""
    replica_range: ReplicaRange | None = None
    high_availability: HighAvailability | None = None
    """Minimum nodes and zones, Pods per node, bounds after losing a node or zone."""
    pod_capacity_connections_per_second: Rate | None = None

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replica_range is not None:
            msg = "set either replicas or replicaRange, not both"
            raise ValueError(msg)


class RecommendOptionsSpec(Schema):
    services: Annotated[list[ServiceOptions], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)
    defaults: ServiceOptions = msgspec.field(default_factory=ServiceOptions)
    objective: Objective = msgspec.field(default_factory=Objective)
    """Lexicographic order of ``balance``, ``replicas``, ``moves``, ``spread``."""
    solver: SolverParams = msgspec.field(default_factory=SolverParams)
    """``timeLimitSeconds`` (above the server's inline limit the solve becomes a job), ``randomSeed``, ..."""
    include_manifests: bool = True


class OptionsMetadata(Schema):
    name: DnsLabel | None = None


class RecommendOptions(Schema, tag="RecommendOptions", tag_field="kind"):
    """Optimizer options inside a stream of documents (``POST /v1/recommend``)."""

    api_version: ApiVersion
    metadata: OptionsMetadata = msgspec.field(default_factory=OptionsMetadata)
    spec: RecommendOptionsSpec = msgspec.field(default_factory=RecommendOptionsSpec)


class SolverOutcome(Wire):
    status: SolveStatus
    """``infeasible`` is an answer, not an error: ``recommendation.explanations`` says what conflicts."""
    wall_seconds: float
    gap: float | None
    """Largest relative gap over the solver stages; 0 when every stage is proven optimal, null if none ran."""
    stages: list[StageReport]


class RecommendationResult(Wire, tag="RecommendationResult", tag_field="kind"):
    """The answer of an inline solve."""

    api_version: ApiVersion
    solver: SolverOutcome
    recommendation: Recommendation


class RecommendationMetadata(StoredResultMetadata):
    """Metadata of a stored recommendation."""


class RecommendationRecord(Wire, tag="Recommendation", tag_field="kind"):
    """A persisted recommendation of a stored ServicePlan (and the plans placed with it)."""

    api_version: ApiVersion
    metadata: RecommendationMetadata
    solver: SolverOutcome
    recommendation: Recommendation


class RecommendationSummary(Wire):
    metadata: RecommendationMetadata
    status: str
    pods_per_node: dict[str, dict[str, int]]
    """Per ServicePlan name."""


class RecommendationList(Wire, tag="RecommendationList", tag_field="kind"):
    api_version: ApiVersion
    metadata: ListMetadata
    items: list[RecommendationSummary]
    """Newest first."""


JobState = Literal["queued", "running", "succeeded", "failed"]


class JobSubject(Wire):
    kind: str
    namespace: str
    name: str


class JobMetadata(Wire):
    uid: str
    creation_timestamp: datetime
    update_timestamp: datetime
    """Also the heartbeat of a running job."""


class JobError(Wire):
    message: str


class JobResource(Wire, tag="Job", tag_field="kind"):
    """A long solve. Poll ``GET /v1/jobs/{uid}`` until ``status`` is ``succeeded`` or ``failed``."""

    api_version: ApiVersion
    metadata: JobMetadata
    operation: str
    """What the job computes: ``recommend``."""
    status: JobState
    attempts: int
    max_attempts: int
    queue_position: int | None
    """Queued jobs ahead of this one; null unless queued."""
    started_at: datetime | None
    finished_at: datetime | None
    subject: JobSubject | None
    """The stored document the result is kept under; null for ``POST /v1/recommend``."""
    input_revisions: dict[str, int]
    solver: SolverOutcome | None
    """Once succeeded: solver status, time and gap."""
    result: Recommendation | None
    result_ref: str | None
    """Once succeeded, for a stored document: URL of the persisted recommendation."""
    error: JobError | None
    """The last failure (a failed attempt below ``maxAttempts`` is queued again)."""


def solver_outcome(recommendation: Recommendation) -> SolverOutcome:
    gaps = [s.gap for s in recommendation.stages if s.gap is not None]
    return SolverOutcome(
        status=recommendation.status,
        wall_seconds=recommendation.statistics.wall_seconds,
        gap=max(gaps) if gaps else None,
        stages=list(recommendation.stages),
    )


def pods_per_plan(payload: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``{plan: {node: pods}}`` from a stored recommendation payload."""
    out: dict[str, dict[str, int]] = {}
    for service in payload.get("services", []):
        if isinstance(service, dict):
            out[str(service.get("name"))] = {str(k): int(v) for k, v in service.get("podsPerNode", {}).items()}
    return out
