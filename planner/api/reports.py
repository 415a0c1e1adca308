"""Self-contained HTML reports of stored evaluations and recommendations (inline CSS and SVG, no external assets)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Response, get
from litestar.params import PathParameter

import planner
from planner.api.deps import DatabaseDep
from planner.api.documents import NameParam, NamespaceParam, problem, success
from planner.api.evaluation_service import evaluation_record
from planner.api.schemas import UID_PATTERN
from planner.db.documents import get_document
from planner.db.engine import Database
from planner.db.errors import ResultNotFound
from planner.db.results import StoredResult, get_result
from planner.domain.documents import Cluster, Placement, ServicePlan
from planner.engine.evaluate import evaluate_plan
from planner.optimizer.schema import Recommendation
from planner.report.html import render_html
from planner.report.model import Report, ServiceReport
from planner.worker.recommend_job import RECOMMENDATION

HTML = "text/html; charset=utf-8"
UidParam = Annotated[
    str, PathParameter(pattern=UID_PATTERN, min_length=1, max_length=64, description="Result id (uid)")
]


def _sources(stored: StoredResult) -> list[str]:
    return [f"{key} revision {revision}" for key, revision in stored.input_revisions.items()]


def _html(text: str) -> Response[str]:
    return Response(text, media_type=HTML)


@get(
    "/v1/evaluations/{uid:str}/report.html",
    operation_id="readEvaluationReport",
    summary="HTML report of a stored evaluation",
    description=(
        "One self-contained page (no scripts, no external assets): per-node and per-Pod load, the policy matrix, "
        "session-affinity skew, failover, findings with fixes. A Scenario evaluation shows each plan without and "
        "with the scenario's changes."
    ),
    tags=["Evaluation"],
    responses={200: success(str, "The report", HTML), 400: problem("Malformed id"), 404: problem("No such evaluation")},
)
async def evaluation_report(uid: UidParam, db: DatabaseDep) -> Response[str]:
    stored = await get_result(db, uid)
    record = evaluation_record(stored)
    services: list[ServiceReport] = []
    for outcome in record.result.plans:
        if outcome.base is not None:
            services.append(
                ServiceReport(name=outcome.service_plan, namespace=outcome.namespace, evaluation=outcome.base)
            )
        services.append(
            ServiceReport(
                name=outcome.service_plan,
                namespace=outcome.namespace,
                evaluation=outcome.evaluation,
                scenario=record.result.scenario,
            )
        )
    report = Report(services=services, sources=_sources(stored), tool_version=planner.__version__)
    title = f"Evaluation of {stored.subject_kind} {stored.namespace}/{stored.subject_name}"
    return _html(render_html(report, title=title))


def _with_placement(plan: ServicePlan, pods_per_node: dict[str, int]) -> ServicePlan:
    placement = Placement(pods_per_node={n: c for n, c in pods_per_node.items() if c > 0})
    return msgspec.structs.replace(plan, spec=msgspec.structs.replace(plan.spec, placement=placement))


async def _recorded(db: Database, stored: StoredResult, kind: str, name: str) -> dict[str, object]:
    revision = stored.input_revisions.get(f"{kind}/{name}")
    found = await get_document(db, kind, stored.namespace, name, int(revision) if revision is not None else None)
    return found.content


@get(
    "/v1/namespaces/{namespace:str}/serviceplans/{name:str}/recommendations/{uid:str}/report.html",
    operation_id="readServicePlanRecommendationReport",
    summary="HTML report of a stored recommendation",
    description=(
        "One self-contained page: the current and the recommended placement side by side (the documents at the "
        "revisions the recommendation was computed from), the policy matrix, findings and the manifest diff."
    ),
    tags=["Recommendation"],
    responses={
        200: success(str, "The report", HTML),
        400: problem("Malformed path"),
        404: problem("No such recommendation, or its input revisions are gone"),
    },
)
async def recommendation_report(
    namespace: NamespaceParam, name: NameParam, uid: UidParam, db: DatabaseDep
) -> Response[str]:
    stored = await get_result(db, uid)
    if stored.kind != RECOMMENDATION or (stored.namespace, stored.subject_kind, stored.subject_name) != (
        namespace,
        "ServicePlan",
        name,
    ):
        raise ResultNotFound(uid)
    recommendation = msgspec.convert(stored.payload, Recommendation)
    plan_names = [key.split("/", 1)[1] for key in stored.input_revisions if key.startswith("ServicePlan/")]
    cluster_keys = [key.split("/", 1)[1] for key in stored.input_revisions if key.startswith("Cluster/")]
    cluster = msgspec.convert(await _recorded(db, stored, "Cluster", cluster_keys[0]), Cluster)
    plans = [msgspec.convert(await _recorded(db, stored, "ServicePlan", p), ServicePlan) for p in plan_names]
    by_name = {s.name: s for s in recommendation.services}

    def build() -> Report:
        services = []
        for plan in plans:
            rec = by_name.get(plan.metadata.name)
            service = ServiceReport(
                name=plan.metadata.name, namespace=plan.metadata.namespace, evaluation=evaluate_plan(cluster, plan)
            )
            service.recommendation = rec
            if rec is not None and rec.pods_per_node:
                service.recommended = evaluate_plan(cluster, _with_placement(plan, rec.pods_per_node))
            services.append(service)
        return Report(
            services=services,
            sources=_sources(stored),
            recommendation=recommendation,
            tool_version=planner.__version__,
        )

    report = await anyio.to_thread.run_sync(build)
    return _html(render_html(report, title=f"Recommendation for ServicePlan {namespace}/{name}"))
