"""Inline input of the stateless endpoints: a stream of documents turned into one Cluster and its ServicePlans.

The stream is what a pipeline already has, in any mix:

- planner documents: one ``Cluster``, ``ServicePlan`` documents, at most one ``Scenario``;
- raw Kubernetes objects: ``NodeList``/``Node`` and ``PodList``/``Pod`` (``kubectl get ... -o yaml``), ``Service``
  and ``Deployment``/``StatefulSet``/``DaemonSet`` manifests, and ``TrafficProfile`` documents naming the Services.

Bodies are multi-document YAML (``application/yaml``) or JSON (``application/json``): one object, a ``kind: List``
holding the objects, or an array of objects. Field errors name the document (``[2].spec.ports[0].port`` for the
third document of the stream) and the line.
"""

from __future__ import annotations

from typing import Any

import msgspec

from planner.api.body import check_plain_data, media_kind
from planner.api.problems import ApiProblem, FieldProblem
from planner.domain.bundle import IgnoredObject, InputBundle, bundle_from_objects, plans_from_bundle
from planner.domain.documents import API_VERSION, Cluster, Scenario, ServicePlan
from planner.domain.errors import FieldError, InvalidDocument, UnknownReference
from planner.domain.fielderrors import type_error
from planner.domain.loading import LoadedObject, load_objects
from planner.domain.validation import validate_document

SOURCE = "body"
INLINE_CLUSTER = "inline"
"""Name of the Cluster built from a NodeList (ServicePlans built from Service manifests reference it)."""


class InlineInput(msgspec.Struct, frozen=True, kw_only=True):
    cluster: Cluster
    plans: list[ServicePlan]
    scenario: Scenario | None
    ignored: list[IgnoredObject]
    extras: list[dict[str, Any]]
    """Objects of the extra kinds the caller asked for (e.g. ``RecommendOptions``), in stream order."""


def _malformed(message: str) -> ApiProblem:
    return ApiProblem(
        400, message, problem="malformed-body", errors=[FieldProblem(field="", type="Invalid", message=message)]
    )


def _load(body: bytes, content_type: str | None) -> list[LoadedObject]:
    kind = media_kind(content_type)
    if not body.strip():
        msg = "the body is empty; send the documents to evaluate"
        raise _malformed(msg)
    if kind == "json":
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            msg = f"malformed JSON: {exc}"
            raise _malformed(msg) from exc
        items = data if isinstance(data, list) else [data]
        objects = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                msg = f"document {index} must be an object, not {type(item).__name__}"
                raise ApiProblem(
                    422,
                    msg,
                    problem="invalid-body",
                    errors=[FieldProblem(field=f"[{index}]", type="TypeInvalid", message=msg)],
                )
            objects.append(LoadedObject(raw=item, source=SOURCE, index=index, line=1, lines={"": 1}))
    else:
        try:
            objects = load_objects(body, SOURCE)
        except RecursionError as exc:
            msg = "malformed YAML: nested too deeply"
            raise _malformed(msg) from exc
        except InvalidDocument as exc:
            if exc.summary == f"{SOURCE} is not valid YAML or JSON":
                raise _malformed(exc.errors[0].message) from exc
            raise
    for obj in objects:
        check_plain_data(obj.raw)
    return objects


def _relocate(errors: list[FieldError], objects: list[LoadedObject]) -> list[FieldError]:
    """Prefix each field with its document's position in the stream and add the line to the message."""
    if len(objects) < 2:
        return [
            msgspec.structs.replace(e, message=f"{e.message} (line {e.line})") if e.line and e.line > 1 else e
            for e in errors
        ]
    starts = [(obj.line, obj.index) for obj in objects]
    relocated: list[FieldError] = []
    for error in errors:
        if error.line is None:
            relocated.append(error)
            continue
        index = max((i for line, i in starts if line <= error.line), default=0)
        if error.field.startswith("["):
            field = f"[{index}]{error.field}"
        else:
            field = f"[{index}].{error.field}" if error.field else f"[{index}]"
        relocated.append(msgspec.structs.replace(error, field=field, message=f"{error.message} (line {error.line})"))
    return relocated


def _convert(item_raw: dict[str, Any], type_: type[Any], obj: LoadedObject, path: str) -> Any:
    try:
        return msgspec.convert(item_raw, type_)
    except msgspec.ValidationError as exc:
        error = type_error(exc, "")
        raise InvalidDocument(
            [msgspec.structs.replace(error, line=obj.lines.get(error.field, obj.line), source=SOURCE)],
            summary=f"{path or 'document'} is invalid",
        ) from exc


def _validated(doc: Any, obj: LoadedObject, kubernetes_version: str) -> Any:
    try:
        return validate_document(doc, kubernetes_version=kubernetes_version)
    except InvalidDocument as exc:
        located = [msgspec.structs.replace(e, line=e.line or obj.lines.get(e.field, obj.line)) for e in exc.errors]
        raise InvalidDocument(located, summary=exc.summary) from exc


def _documents(bundle: InputBundle, cluster: Cluster) -> tuple[list[ServicePlan], Scenario | None]:
    plans: list[ServicePlan] = []
    scenario: Scenario | None = None
    for item in bundle.documents:
        if item.kind == "ServicePlan":
            plan = _convert(item.raw, ServicePlan, item.origin, item.path)
            plan = _validated(plan, item.origin, cluster.spec.kubernetes_version)
            if plan.spec.cluster_ref != cluster.metadata.name:
                raise UnknownReference("spec.clusterRef", "Cluster", plan.spec.cluster_ref)
            plans.append(plan)
        elif item.kind == "Scenario":
            if scenario is not None:
                raise InvalidDocument(
                    [FieldError(field="kind", type="Duplicate", message="at most one Scenario", value="Scenario")],
                    summary="more than one Scenario in the body",
                )
            scenario = _validated(_convert(item.raw, Scenario, item.origin, item.path), item.origin, "1.35")
    return plans, scenario


def _check_scenario(scenario: Scenario, cluster: Cluster, plans: list[ServicePlan]) -> None:
    if scenario.spec.cluster_ref != cluster.metadata.name:
        raise UnknownReference("spec.clusterRef", "Cluster", scenario.spec.cluster_ref)
    names = {p.metadata.name for p in plans if p.metadata.namespace == scenario.metadata.namespace}
    for position, ref in enumerate(scenario.spec.service_plan_refs):
        if ref not in names:
            raise UnknownReference(f"spec.servicePlanRefs[{position}]", "ServicePlan", ref)


def read_inline(body: bytes, content_type: str | None, *, extra_kinds: frozenset[str] = frozenset()) -> InlineInput:
    """Parse and validate the documents of a stateless request.

    Raises:
        ApiProblem: 415 unsupported media type, 400 malformed text, 422 nothing to evaluate.
        InvalidDocument: field errors (422), each field prefixed with its document's position.
        UnknownReference: a ServicePlan or Scenario names a Cluster or ServicePlan that is not in the body (422).
    """
    objects = _load(body, content_type)
    extras = [o.raw for o in objects if o.raw.get("apiVersion") == API_VERSION and o.raw.get("kind") in extra_kinds]
    documents = [
        o for o in objects if not (o.raw.get("apiVersion") == API_VERSION and o.raw.get("kind") in extra_kinds)
    ]
    try:
        bundle = bundle_from_objects(documents)
        clusters = [d for d in bundle.documents if d.kind == "Cluster"]
        if len(clusters) > 1 or (clusters and bundle.nodes):
            raise InvalidDocument(
                [FieldError(field="kind", type="Duplicate", message="give one cluster: a Cluster or a NodeList")],
                summary="more than one cluster in the body",
            )
        name = clusters[0].name if clusters and clusters[0].name else INLINE_CLUSTER
        cluster, manifest_plans = plans_from_bundle(bundle, name)
        plans, scenario = _documents(bundle, cluster)
    except InvalidDocument as exc:
        raise InvalidDocument(_relocate(exc.errors, documents), summary=exc.summary) from exc
    plans = manifest_plans + plans
    if not plans:
        msg = "nothing to evaluate: give at least one ServicePlan, or a Service manifest"
        raise ApiProblem(
            422,
            msg,
            problem="invalid-document",
            errors=[FieldProblem(field="", type="Required", message=msg)],
        )
    seen: set[tuple[str, str]] = set()
    for plan in plans:
        key = (plan.metadata.namespace, plan.metadata.name)
        if key in seen:
            msg = f"ServicePlan {key[0]}/{key[1]} is given twice"
            raise ApiProblem(
                422,
                msg,
                problem="invalid-document",
                errors=[FieldProblem(field="metadata.name", type="Duplicate", message=msg, value=key[1])],
            )
        seen.add(key)
    if scenario is not None:
        _check_scenario(scenario, cluster, plans)
    return InlineInput(cluster=cluster, plans=plans, scenario=scenario, ignored=bundle.ignored, extras=extras)
