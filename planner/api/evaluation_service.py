"""Evaluate documents into an :class:`EvaluationResult`; load the stored inputs of a ServicePlan or Scenario."""

from __future__ import annotations

from typing import Any, TypeVar

import anyio.to_thread
import msgspec

from planner.api.evaluation_schemas import (
    V1,
    EvaluationMetadata,
    EvaluationRecord,
    EvaluationResult,
    EvaluationSummary,
    IgnoredInput,
    PlanEvaluation,
)
from planner.api.recommend_schemas import RecommendationMetadata
from planner.db.documents import StoredDocument, get_document
from planner.db.engine import Database
from planner.db.errors import DocumentNotFound, ResultNotFound
from planner.db.results import StoredResult
from planner.domain.bundle import IgnoredObject
from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.errors import UnknownReference
from planner.engine.evaluate import compare, evaluate_plan
from planner.telemetry import timed_evaluation

EVALUATION = "evaluation"
"""``kind`` of evaluation rows in the results table."""


def _failures(name: str, evaluation: Any, suffix: str = "") -> list[str]:
    return [f"{name}{suffix}: {failure}" for failure in evaluation.failures]


def evaluate_documents(
    cluster: Cluster,
    plans: list[ServicePlan],
    scenario: Scenario | None = None,
    ignored: list[IgnoredObject] | None = None,
) -> EvaluationResult:
    """Evaluate each plan (for a Scenario: its plans with and without the changes). CPU-bound: run in a thread.

    Raises:
        InvalidDocument: a plan or scenario the engine cannot resolve (unknown node names, ...).
    """
    outcomes: list[PlanEvaluation] = []
    failures: list[str] = []
    lines: list[str] = []
    targets = plans
    if scenario is not None:
        wanted = set(scenario.spec.service_plan_refs)
        targets = [p for p in plans if p.metadata.name in wanted]
    for plan in targets:
        name = plan.metadata.name
        if scenario is None:
            evaluation = evaluate_plan(cluster, plan)
            outcomes.append(
                PlanEvaluation(
                    service_plan=name, namespace=plan.metadata.namespace, evaluation=evaluation, base=None, changes=[]
                )
            )
            failures += _failures(name, evaluation)
            lines.append(evaluation.summary)
            continue
        base = evaluate_plan(cluster, plan)
        what_if = evaluate_plan(cluster, plan, scenario=scenario)
        changes = compare(base, what_if)
        outcomes.append(
            PlanEvaluation(
                service_plan=name, namespace=plan.metadata.namespace, evaluation=what_if, base=base, changes=changes
            )
        )
        failures += _failures(name, what_if) + _failures(name, base, " (without the scenario)")
        lines.append(what_if.summary)
        lines.append(f"{name}: scenario {scenario.metadata.name}: " + (", ".join(changes) or "no change") + ".")
    return EvaluationResult(
        api_version=V1,
        verdict="fail" if failures else "pass",
        failures=failures,
        cluster=cluster.metadata.name,
        scenario=scenario.metadata.name if scenario is not None else None,
        plans=outcomes,
        summary="\n".join(lines),
        ignored=[IgnoredInput(kind=i.kind, name=i.name, line=i.line) for i in ignored or []],
    )


async def evaluate_in_thread(
    cluster: Cluster,
    plans: list[ServicePlan],
    scenario: Scenario | None = None,
    ignored: list[IgnoredObject] | None = None,
) -> EvaluationResult:
    """:func:`evaluate_documents` in a worker thread, so a large input does not stall the event loop; timed in
    ``planner_evaluation_duration_seconds``."""
    with timed_evaluation():
        return await anyio.to_thread.run_sync(lambda: evaluate_documents(cluster, plans, scenario, ignored))


# --- stored inputs ---------------------------------------------------------------------------------------------


class StoredInputs(msgspec.Struct, frozen=True, kw_only=True):
    cluster: Cluster
    plans: list[ServicePlan]
    scenario: Scenario | None
    revisions: dict[str, int]
    """``Kind/name`` -> revision of every document read."""


def _key(stored: StoredDocument) -> str:
    return f"{stored.kind}/{stored.name}"


async def _referenced(db: Database, kind: str, namespace: str, name: str, field: str) -> StoredDocument:
    """The latest revision of a referenced document; a missing one is an unknown reference (422), not a 404."""
    try:
        return await get_document(db, kind, namespace, name)
    except DocumentNotFound as exc:
        raise UnknownReference(field, kind, name) from exc


async def plan_inputs(db: Database, namespace: str, name: str, revision: int | None) -> StoredInputs:
    """A stored ServicePlan (latest or ``revision``) and the latest revision of the Cluster it references.

    Raises:
        DocumentNotFound: no such ServicePlan or revision (404).
        UnknownReference: its Cluster no longer exists (422).
    """
    stored_plan = await get_document(db, "ServicePlan", namespace, name, revision)
    plan = msgspec.convert(stored_plan.content, ServicePlan)
    stored_cluster = await _referenced(db, "Cluster", namespace, plan.spec.cluster_ref, "spec.clusterRef")
    cluster = msgspec.convert(stored_cluster.content, Cluster)
    return StoredInputs(
        cluster=cluster,
        plans=[plan],
        scenario=None,
        revisions={_key(stored_plan): stored_plan.revision, _key(stored_cluster): stored_cluster.revision},
    )


async def scenario_inputs(db: Database, namespace: str, name: str, revision: int | None) -> StoredInputs:
    """A stored Scenario (latest or ``revision``), the latest revisions of its Cluster and ServicePlans.

    Raises:
        DocumentNotFound: no such Scenario or revision (404).
        UnknownReference: a referenced document no longer exists (422).
    """
    stored_scenario = await get_document(db, "Scenario", namespace, name, revision)
    scenario = msgspec.convert(stored_scenario.content, Scenario)
    stored_cluster = await _referenced(db, "Cluster", namespace, scenario.spec.cluster_ref, "spec.clusterRef")
    revisions = {_key(stored_scenario): stored_scenario.revision, _key(stored_cluster): stored_cluster.revision}
    plans: list[ServicePlan] = []
    for position, ref in enumerate(scenario.spec.service_plan_refs):
        stored_plan = await _referenced(db, "ServicePlan", namespace, ref, f"spec.servicePlanRefs[{position}]")
        plans.append(msgspec.convert(stored_plan.content, ServicePlan))
        revisions[_key(stored_plan)] = stored_plan.revision
    return StoredInputs(
        cluster=msgspec.convert(stored_cluster.content, Cluster), plans=plans, scenario=scenario, revisions=revisions
    )


# --- stored results --------------------------------------------------------------------------------------------


MetadataT = TypeVar("MetadataT", EvaluationMetadata, RecommendationMetadata)


def stored_metadata(stored: StoredResult, kind: type[MetadataT]) -> MetadataT:
    """The wire metadata of a stored evaluation or recommendation (same fields, own OpenAPI schema each)."""
    return kind(
        uid=stored.uid,
        namespace=stored.namespace,
        subject_kind="Scenario" if stored.subject_kind == "Scenario" else "ServicePlan",
        subject_name=stored.subject_name,
        creation_timestamp=stored.created_at,
        input_revisions={str(k): int(v) for k, v in stored.input_revisions.items()},
    )


def evaluation_metadata(stored: StoredResult) -> EvaluationMetadata:
    return stored_metadata(stored, EvaluationMetadata)


def evaluation_record(stored: StoredResult) -> EvaluationRecord:
    """Raises ResultNotFound when the result is not an evaluation (e.g. a recommendation id)."""
    if stored.kind != EVALUATION:
        raise ResultNotFound(stored.uid)
    return EvaluationRecord(
        api_version=V1,
        metadata=evaluation_metadata(stored),
        result=msgspec.convert(stored.payload, EvaluationResult),
    )


def evaluation_summary(stored: StoredResult) -> EvaluationSummary:
    payload = stored.payload
    return EvaluationSummary(
        metadata=evaluation_metadata(stored),
        verdict="fail" if payload.get("verdict") == "fail" else "pass",
        failures=[str(f) for f in payload.get("failures", [])],
        summary=str(payload.get("summary", "")),
    )
