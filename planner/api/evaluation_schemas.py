"""Wire shapes of evaluations: the stateless answer, stored evaluation records, their lists and comparisons.

Every field is always present (``null`` when it does not apply). Shares are fractions 0..1; rates are connections
per second, as in the engine's :class:`~planner.engine.results.Evaluation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from planner.api.problems import ProblemDetails
from planner.api.schemas import ListMetadata
from planner.domain.documents import ApiVersion
from planner.engine.results import Evaluation, PolicySummary

Verdict = Literal["pass", "fail"]

V1: ApiVersion = "trafficplanner.io/v1"
"""``apiVersion`` of every response body."""


class Wire(msgspec.Struct, kw_only=True, rename="camel"):
    """Base of the evaluation wire shapes."""


class IgnoredInput(Wire):
    """An object of the input that is not evaluated (ConfigMap, Ingress, ...)."""

    kind: str
    name: str
    line: int


class PlanEvaluation(Wire):
    """One ServicePlan's evaluation; for a Scenario also the same plan without the scenario's changes."""

    service_plan: str
    namespace: str
    evaluation: Evaluation
    """The plan as evaluated: with the scenario's changes applied, when there is a scenario."""
    base: Evaluation | None
    """Scenario only: the plan without the changes (the what-if's baseline)."""
    changes: list[str]
    """Scenario only: what the changes did, e.g. ``hottest Pod 1.50x -> 1.00x mean``."""


class EvaluationResult(Wire, tag="EvaluationResult", tag_field="kind"):
    """The outcome of evaluating some ServicePlans (and optionally a Scenario) on one Cluster."""

    api_version: ApiVersion
    verdict: Verdict
    """``fail`` when any evaluation in ``plans`` (scenario baselines included) fails its requirements."""
    failures: list[str]
    """Every failed requirement, prefixed with its ServicePlan (``web: hottest Pod 1.50x mean > 1.20x``)."""
    cluster: str
    scenario: str | None
    plans: list[PlanEvaluation]
    summary: str
    """A short text for people: one line per plan."""
    ignored: list[IgnoredInput]


class VerdictFailedProblem(ProblemDetails, kw_only=True):
    """A 422 of ``POST /v1/evaluate``: invalid documents (a plain problem with field paths, no ``result``), or,
    with ``failOnVerdict=true`` and a failing verdict, a problem whose ``result`` is the full evaluation (the same
    body a 200 carries)."""

    result: EvaluationResult | None = None
    """Only in a ``verdict-failed`` problem."""


class StoredResultMetadata(Wire):
    """What every stored result (evaluation or recommendation) records about itself and its inputs."""

    uid: str
    namespace: str
    subject_kind: Literal["ServicePlan", "Scenario"]
    subject_name: str
    creation_timestamp: datetime
    input_revisions: dict[str, int]
    """Revision of every input document, keyed ``Kind/name``, e.g. ``{"ServicePlan/web": 3, "Cluster/prod": 2}``."""


class EvaluationMetadata(StoredResultMetadata):
    """Metadata of a stored evaluation."""


class EvaluationRecord(Wire, tag="Evaluation", tag_field="kind"):
    """A persisted evaluation of a stored ServicePlan or Scenario."""

    api_version: ApiVersion
    metadata: EvaluationMetadata
    result: EvaluationResult


class EvaluationSummary(Wire):
    metadata: EvaluationMetadata
    verdict: Verdict
    failures: list[str]
    summary: str


class EvaluationList(Wire, tag="EvaluationList", tag_field="kind"):
    api_version: ApiVersion
    metadata: ListMetadata
    items: list[EvaluationSummary]
    """Newest first."""


class PlanComparison(Wire):
    service_plan: str
    namespace: str
    changes: list[str]
    """What changed in numbers, e.g. ``hottest Pod 1.50x -> 1.00x mean``, ``client IP 0% -> 100%``; empty if
    nothing changed."""
    base: PolicySummary
    other: PolicySummary


class Comparison(Wire, tag="Comparison", tag_field="kind"):
    """Two evaluations side by side (revision N against N+1, a Scenario against its base, ...)."""

    api_version: ApiVersion
    base: EvaluationMetadata
    other: EvaluationMetadata
    plans: list[PlanComparison]
    """ServicePlans present in both evaluations (for a Scenario evaluation: its what-if state)."""
    only_in_base: list[str]
    only_in_other: list[str]
    summary: str
    """One line per ServicePlan: ``web: hottest Pod 1.50x -> 1.00x mean, client IP 0% -> 100%``."""
