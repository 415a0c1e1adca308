"""Reading the CLI's inputs (files, directories, standard input) into evaluable plans, with source locations.

Every plan remembers where its parts came from (the Service manifest, the workload, the traffic profile, or one
ServicePlan document), so that a finding or a failed requirement can point at ``file:line`` of the field a user
would change.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from planner.domain.bundle import BundleItem, InputBundle, bundle_from_objects, plans_from_bundle, profile_for
from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import join, not_found, required, type_error
from planner.domain.loading import LoadedObject, load_objects
from planner.domain.selectors import selector_from_map
from planner.domain.validation import validate_document
from planner.engine.results import Finding
from planner.report.model import Location

INPUT_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"

_Doc = TypeVar("_Doc", Cluster, ServicePlan, Scenario)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
    return [path]


def read_inputs(paths: Sequence[str], *, stdin_text: str | None = None) -> list[LoadedObject]:
    """Load every document of every input: files, directories (recursively ``*.yaml``, ``*.yml``, ``*.json``)
    and ``-`` for standard input.

    Raises:
        InvalidDocument: a missing file, an empty input or malformed YAML/JSON (with file and line).
    """
    objects: list[LoadedObject] = []
    errors: list[FieldError] = []
    for name in paths:
        if name == STDIN:
            text = stdin_text if stdin_text is not None else sys.stdin.read()
            objects += load_objects(text, "<stdin>")
            continue
        path = Path(name)
        if not path.exists():
            errors.append(FieldError(field="", type="NotFound", message=f"no such file or directory: {name}"))
            continue
        files = _files(path)
        if not files:
            errors.append(FieldError(field="", type="NotFound", message=f"no *.yaml, *.yml or *.json under {name}"))
        for file in files:
            try:
                objects += load_objects(file.read_bytes(), str(file))
            except InvalidDocument as exc:
                errors.extend(exc.errors)
    if errors:
        raise InvalidDocument(errors, summary="cannot read the input")
    if not objects:
        raise InvalidDocument([required("", "the input holds no documents")], summary="empty input")
    return objects


class PlanSource:
    """Where the parts of one plan were written; maps a field path in ServicePlan terms to ``file:line``.

    ServicePlan terms: ``spec.service.spec.externalTrafficPolicy``, ``spec.workload.spec.replicas``,
    ``spec.traffic.external.loadBalancer.model``, ``spec.requirements.maxHottestPodRatio``.
    """

    def __init__(
        self,
        *,
        plan_document: BundleItem | None = None,
        service: BundleItem | None = None,
        workload: BundleItem | None = None,
        profile: BundleItem | None = None,
    ) -> None:
        self.plan_document = plan_document
        self.service = service
        self.workload = workload
        self.profile = profile

    def _resolve(self, field: str) -> tuple[BundleItem, str] | None:
        if self.plan_document is not None:
            return self.plan_document, field
        if field.startswith("spec.service") and self.service is not None:
            return self.service, field.removeprefix("spec.service").lstrip(".")
        if field.startswith("spec.workload") and self.workload is not None:
            return self.workload, field.removeprefix("spec.workload").lstrip(".")
        if field.startswith("spec.traffic") and self.profile is not None:
            return self.profile, join("spec", field.removeprefix("spec.traffic").lstrip("."))
        if field.startswith("spec.requirements") and self.profile is not None:
            return self.profile, field
        if self.service is not None:
            return self.service, ""
        return None

    def where(self, field: str) -> Location | None:
        """The file and line of ``field`` (the nearest enclosing field that is written, if it is not)."""
        resolved = self._resolve(field)
        if resolved is None:
            return None
        item, relative = resolved
        return Location(uri=item.origin.source, line=item.line(relative), field=join(item.path, relative))


class Evaluable(msgspec.Struct, frozen=True, kw_only=True):
    """One evaluation to run: a plan on its cluster, possibly under a scenario."""

    cluster: Cluster
    plan: ServicePlan
    scenario: Scenario | None = None


class Inputs:
    """Everything read from the command line: the cluster(s), the plans and their sources."""

    def __init__(self, objects: list[LoadedObject], bundle: InputBundle) -> None:
        self.objects = objects
        self.bundle = bundle
        self.evaluables: list[Evaluable] = []
        self.sources: list[PlanSource] = []

    def add(self, evaluable: Evaluable, source: PlanSource) -> None:
        """Queue ``evaluable``, remembering where its plan was written."""
        self.evaluables.append(evaluable)
        self.sources.append(source)

    @property
    def source_names(self) -> list[str]:
        return list(dict.fromkeys(o.source for o in self.objects))


def _workload_for(bundle: InputBundle, service: BundleItem, namespace: str) -> BundleItem | None:
    spec = service.raw.get("spec")
    selector_map = spec.get("selector") if isinstance(spec, dict) else None
    if not isinstance(selector_map, dict) or not selector_map:
        return None
    if not all(isinstance(v, str) for v in selector_map.values()):
        return None
    selector = selector_from_map(selector_map)
    for candidate in bundle.workloads:
        template = candidate.raw.get("spec", {}).get("template", {}) if isinstance(candidate.raw, dict) else {}
        labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
        same_namespace = (candidate.namespace or namespace) == (service.namespace or namespace)
        if same_namespace and isinstance(labels, dict) and selector.matches(labels):
            return candidate
    return None


def _decode(item: BundleItem, kind: type[Any], kubernetes_version: str) -> Any:
    try:
        doc = msgspec.convert(item.raw, kind)
    except msgspec.ValidationError as exc:
        raise InvalidDocument(item.locate([type_error(exc, "")]), summary=f"{item.kind} is invalid") from exc
    try:
        return validate_document(doc, kubernetes_version=kubernetes_version)
    except InvalidDocument as exc:
        raise InvalidDocument(item.locate(exc.errors), summary=exc.summary) from exc


def _documents(
    bundle: InputBundle, kind: type[_Doc], kubernetes_version: str, errors: list[FieldError]
) -> Iterator[tuple[BundleItem, _Doc]]:
    """Every valid document of ``kind`` (its class name is its ``kind``) in input order; the errors of invalid
    ones go to ``errors``."""
    for item in bundle.documents:
        if item.kind != kind.__name__:
            continue
        try:
            doc: _Doc = _decode(item, kind, kubernetes_version)
        except InvalidDocument as exc:
            errors.extend(exc.errors)
            continue
        yield item, doc


def build_inputs(objects: list[LoadedObject], *, cluster_name: str, namespace: str = "default") -> Inputs:
    """Turn loaded objects into plans: one per Service manifest, one per ServicePlan document, and the plans of
    every Scenario under that scenario.

    Raises:
        InvalidDocument: any problem, each error with its field path, file and line.
    """
    bundle = bundle_from_objects(objects)
    inputs = Inputs(objects, bundle)
    cluster, plans = plans_from_bundle(bundle, cluster_name, namespace=namespace)
    clusters: dict[str, Cluster] = {cluster.metadata.name: cluster}
    version = cluster.spec.kubernetes_version
    errors: list[FieldError] = []
    for _, other in _documents(bundle, Cluster, version, errors):
        clusters.setdefault(other.metadata.name, other)

    by_name: dict[str, tuple[ServicePlan, PlanSource]] = {}
    for plan, service in zip(plans, bundle.services, strict=True):
        source = PlanSource(
            service=service,
            workload=_workload_for(bundle, service, namespace),
            profile=profile_for(bundle, service),
        )
        by_name[plan.metadata.name] = (plan, source)
        inputs.add(Evaluable(cluster=cluster, plan=plan), source)

    for item, plan in _documents(bundle, ServicePlan, version, errors):
        target = clusters.get(plan.spec.cluster_ref)
        if target is None:
            errors.extend(item.locate([not_found("spec.clusterRef", plan.spec.cluster_ref, "no such Cluster")]))
            continue
        source = PlanSource(plan_document=item)
        by_name[plan.metadata.name] = (plan, source)
        inputs.add(Evaluable(cluster=target, plan=plan), source)

    for item, scenario in _documents(bundle, Scenario, version, errors):
        for position, ref in enumerate(scenario.spec.service_plan_refs):
            found = by_name.get(ref)
            if found is None:
                errors.extend(item.locate([not_found(f"spec.servicePlanRefs[{position}]", ref, "no such ServicePlan")]))
                continue
            plan, source = found
            target = clusters.get(scenario.spec.cluster_ref, cluster)
            inputs.add(Evaluable(cluster=target, plan=plan, scenario=scenario), source)
    if errors:
        raise InvalidDocument(errors, summary="input is invalid")
    if not inputs.evaluables:
        raise InvalidDocument(
            [required("kind", "no Service, ServicePlan or Scenario in the input")], summary="nothing to evaluate"
        )
    return inputs


_RULE_FIELDS: dict[str, str] = {
    "TP001": "spec.workload.spec.replicas",
    "TP002": "spec.service.spec.externalTrafficPolicy",
    "TP003": "spec.traffic.external.loadBalancer.model",
    "TP004": "spec.requirements.clientIPRequired",
    "TP005": "spec.service.spec.sessionAffinity",
    "TP006": "spec.service.spec.sessionAffinity",
    "TP007": "spec.service.spec.internalTrafficPolicy",
    "TP008": "spec.service.spec.trafficDistribution",
    "TP009": "spec.traffic.dataPlane",
    "TP010": "spec.service.spec.sessionAffinity",
    "TP011": "spec.service.spec.sessionAffinityConfig.clientIP.timeoutSeconds",
    "TP012": "spec.service.spec.selector",
    "TP013": "spec.service.spec.type",
    "TP014": "spec.traffic.dataPlane",
}
_SERVICE_FIELDS = ("spec.externalTrafficPolicy", "spec.internalTrafficPolicy", "spec.sessionAffinity", "spec.selector")


def finding_field(finding: Finding) -> str:
    """The field (ServicePlan terms) a finding is about: its fix's field, else the rule's usual field."""
    fix_field = finding.fix.field if finding.fix is not None else None
    if fix_field:
        if fix_field.startswith(_SERVICE_FIELDS) or fix_field.startswith("spec.trafficDistribution"):
            return join("spec.service", fix_field)
        return fix_field
    return _RULE_FIELDS.get(finding.id, "spec.service")


def requirement_field(requirement: str) -> str:
    return f"spec.requirements.{requirement}"


def locations_for(source: PlanSource, findings: Iterable[Finding]) -> list[Location | None]:
    return [source.where(finding_field(f)) for f in findings]


__all__ = [
    "STDIN",
    "Evaluable",
    "Inputs",
    "PlanSource",
    "build_inputs",
    "finding_field",
    "locations_for",
    "read_inputs",
    "requirement_field",
]
