"""Classify a stream of mixed objects (kubectl output, manifests, planner documents) and build plans from it.

This powers stateless evaluation: a user posts ``kubectl get nodes,pods -o yaml`` output, Service and workload
manifests and a traffic profile, and gets a Cluster plus one ServicePlan per Service back.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from planner.domain.base import Schema
from planner.domain.documents import API_VERSION, DOCUMENT_KINDS, Cluster, Metadata, ServicePlan
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import join, not_supported, required, type_error
from planner.domain.kubectl_import import cluster_from_kubectl
from planner.domain.loading import LoadedObject, line_of
from planner.domain.selectors import selector_from_map
from planner.domain.traffic import Requirements, TrafficProfile
from planner.domain.types import DnsLabel
from planner.domain.validation import validate_document
from planner.domain.workload import WORKLOAD_KINDS


class TrafficProfileSpec(TrafficProfile):
    """A TrafficProfile plus the requirements it is checked against, for the Services it names."""

    services: Annotated[list[DnsLabel], msgspec.Meta(max_length=1000)] | None = None
    """Names of the Services (in the document's namespace) this profile applies to; unset: every Service."""
    requirements: Requirements = msgspec.field(default_factory=Requirements)


class TrafficProfileDocument(Schema, tag="TrafficProfile", tag_field="kind"):
    """``kind: TrafficProfile`` (``apiVersion: trafficplanner.io/v1``): traffic for Services given as manifests."""

    api_version: Literal["trafficplanner.io/v1"]
    metadata: Metadata
    spec: TrafficProfileSpec


class BundleItem(msgspec.Struct, frozen=True, kw_only=True):
    """One object of the stream, possibly an item of a List, with where it came from."""

    raw: dict[str, Any]
    origin: LoadedObject
    path: str = ""
    """Position inside the loaded document (``items[2]``); empty for a top-level object."""

    @property
    def kind(self) -> str:
        return str(self.raw.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.raw.get("metadata")
        return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""

    @property
    def namespace(self) -> str | None:
        metadata = self.raw.get("metadata")
        value = metadata.get("namespace") if isinstance(metadata, dict) else None
        return str(value) if value else None

    def line(self, field: str = "") -> int:
        return line_of(self.origin, join(self.path, field))

    def locate(self, errors: list[FieldError]) -> list[FieldError]:
        """Errors with paths relative to this item, turned into paths and lines in the source document."""
        return [
            msgspec.structs.replace(
                e, field=join(self.path, e.field), source=self.origin.source, line=e.line or self.line(e.field)
            )
            for e in errors
        ]


class IgnoredObject(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str
    source: str
    line: int


class InputBundle(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[BundleItem] = msgspec.field(default_factory=list)
    """planner documents: Cluster, ServicePlan, Scenario."""
    nodes: list[BundleItem] = msgspec.field(default_factory=list)
    pods: list[BundleItem] = msgspec.field(default_factory=list)
    services: list[BundleItem] = msgspec.field(default_factory=list)
    workloads: list[BundleItem] = msgspec.field(default_factory=list)
    profiles: list[BundleItem] = msgspec.field(default_factory=list)
    ignored: list[IgnoredObject] = msgspec.field(default_factory=list)


_LISTS = {"NodeList", "PodList", "ServiceList", "DeploymentList", "StatefulSetList", "DaemonSetList", "List"}
_PLANNER_KINDS = (*DOCUMENT_KINDS, "TrafficProfile")


def _classify(item: BundleItem, bundle: InputBundle, errors: list[FieldError]) -> None:
    raw = item.raw
    kind = raw.get("kind")
    if not isinstance(kind, str) or not kind:
        errors.extend(item.locate([required("kind")]))
        return
    if raw.get("apiVersion") == API_VERSION:
        if kind == "TrafficProfile":
            bundle.profiles.append(item)
        elif kind in DOCUMENT_KINDS:
            bundle.documents.append(item)
        else:
            errors.extend(item.locate([not_supported("kind", kind, _PLANNER_KINDS)]))
        return
    if kind in _LISTS:
        items = raw.get("items") or []
        if not isinstance(items, list):
            errors.extend(item.locate([FieldError(field="items", type="TypeInvalid", message="Expected `array`")]))
            return
        for index, child in enumerate(items):
            path = join(item.path, f"items[{index}]")
            if not isinstance(child, dict):
                errors.append(
                    FieldError(
                        field=path,
                        type="TypeInvalid",
                        message="Expected `object`",
                        source=item.origin.source,
                        line=line_of(item.origin, path),
                    )
                )
                continue
            _classify(BundleItem(raw=child, origin=item.origin, path=path), bundle, errors)
        return
    target = {"Node": bundle.nodes, "Pod": bundle.pods, "Service": bundle.services}.get(kind)
    if target is None and kind in WORKLOAD_KINDS:
        target = bundle.workloads
    if target is None:
        bundle.ignored.append(IgnoredObject(kind=kind, name=item.name, source=item.origin.source, line=item.line()))
    else:
        target.append(item)


def bundle_from_objects(objects: list[LoadedObject]) -> InputBundle:
    """Sort loaded objects by what they are; unknown kinds (ConfigMap, Ingress, ...) are listed as ignored.

    Raises:
        InvalidDocument: an object without ``kind``, an unknown planner kind, or a List with malformed items.
    """
    bundle = InputBundle()
    errors: list[FieldError] = []
    for obj in objects:
        _classify(BundleItem(raw=obj.raw, origin=obj), bundle, errors)
    if errors:
        raise InvalidDocument(errors, summary="input is invalid")
    return bundle


def _cluster(bundle: InputBundle, cluster_name: str, namespace: str) -> Cluster:
    if bundle.nodes:
        nodes = {"kind": "NodeList", "items": [i.raw for i in bundle.nodes]}
        pods = {"kind": "PodList", "items": [i.raw for i in bundle.pods]} if bundle.pods else None
        try:
            return cluster_from_kubectl(
                cluster_name, nodes, pods, namespace=namespace, nodes_path="nodes", pods_path="pods"
            )
        except InvalidDocument as exc:
            raise InvalidDocument([_locate_list_error(e, bundle) for e in exc.errors], summary=exc.summary) from exc
    clusters = [d for d in bundle.documents if d.kind == "Cluster"]
    if not clusters:
        raise InvalidDocument(
            [required("nodes", "give a NodeList (kubectl get nodes -o yaml) or a Cluster document")],
            summary="input has no cluster",
        )
    item = clusters[0]
    try:
        cluster = msgspec.convert(item.raw, Cluster)
    except msgspec.ValidationError as exc:
        raise InvalidDocument(item.locate([type_error(exc, "")])) from exc
    try:
        result = validate_document(cluster)
    except InvalidDocument as exc:
        raise InvalidDocument(item.locate(exc.errors), summary=exc.summary) from exc
    assert isinstance(result, Cluster)
    return result


_LIST_ERROR = re.compile(r"^(nodes|pods)\.items\[(\d+)\]\.?")


def _locate_list_error(error: FieldError, bundle: InputBundle) -> FieldError:
    match = _LIST_ERROR.match(error.field)
    if match is None:
        return error
    items = bundle.nodes if match.group(1) == "nodes" else bundle.pods
    item = items[int(match.group(2))]
    return item.locate([msgspec.structs.replace(error, field=error.field[match.end() :])])[0]


def profile_for(bundle: InputBundle, service: BundleItem) -> BundleItem | None:
    """The TrafficProfile for ``service``: one that names it in ``spec.services``, else the first general one."""
    general: BundleItem | None = None
    for profile in bundle.profiles:
        spec = profile.raw.get("spec")
        names = spec.get("services") if isinstance(spec, dict) else None
        if names is None:
            general = general or profile
        elif isinstance(names, list) and service.name in names:
            return profile
    return general


def _decode_profile(item: BundleItem) -> TrafficProfileDocument:
    try:
        return msgspec.convert(item.raw, TrafficProfileDocument)
    except msgspec.ValidationError as exc:
        raise InvalidDocument(item.locate([type_error(exc, "")]), summary="TrafficProfile is invalid") from exc


def _placement(cluster: Cluster, service: dict[str, Any], namespace: str) -> dict[str, dict[str, int]] | None:
    selector_map = service.get("spec", {}).get("selector") if isinstance(service.get("spec"), dict) else None
    if not selector_map or not isinstance(selector_map, dict):
        return None
    selector = selector_from_map(selector_map)
    ready: dict[str, int] = {}
    terminating: dict[str, int] = {}
    not_ready: dict[str, int] = {}
    for pod in cluster.spec.pods:
        if pod.namespace != namespace or not selector.matches(pod.labels):
            continue
        if not pod.ready:
            target = not_ready
        elif pod.terminating:
            target = terminating
        else:
            target = ready
        target[pod.node] = target.get(pod.node, 0) + 1
    return {"podsPerNode": ready, "terminatingPerNode": terminating, "notReadyPerNode": not_ready}


def plans_from_bundle(
    bundle: InputBundle, cluster_name: str, *, namespace: str = "default"
) -> tuple[Cluster, list[ServicePlan]]:
    """Build a Cluster and one ServicePlan per Service in the bundle.

    Each plan gets the first workload (same namespace) whose Pod template labels the Service selects, the
    traffic profile naming the Service (else one that names none), and, when Pods were given, the current
    placement of the Pods the Service selects (ready / terminating-but-ready / not ready, per node); without Pods
    the placement is left unset.

    Raises:
        InvalidDocument: every problem, each with the source and line of the offending field.
    """
    cluster = _cluster(bundle, cluster_name, namespace)
    errors: list[FieldError] = []
    plans: list[ServicePlan] = []
    for service in bundle.services:
        service_namespace = service.namespace or namespace
        selector_map = (
            service.raw.get("spec", {}).get("selector") if isinstance(service.raw.get("spec"), dict) else None
        )
        workload: BundleItem | None = None
        if isinstance(selector_map, dict) and selector_map:
            selector = (
                selector_from_map(selector_map) if all(isinstance(v, str) for v in selector_map.values()) else None
            )
            for candidate in bundle.workloads:
                template = (
                    candidate.raw.get("spec", {}).get("template", {})
                    if isinstance(candidate.raw.get("spec"), dict)
                    else {}
                )
                labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
                if (
                    (candidate.namespace or namespace) == service_namespace
                    and selector is not None
                    and isinstance(labels, dict)
                    and selector.matches(labels)
                ):
                    workload = candidate
                    break
        profile_item = profile_for(bundle, service)
        traffic: dict[str, Any] = {}
        requirements: dict[str, Any] = {}
        if profile_item is not None:
            try:
                profile = _decode_profile(profile_item)
            except InvalidDocument as exc:
                errors.extend(exc.errors)
                continue
            spec_builtins = msgspec.to_builtins(profile.spec)
            spec_builtins.pop("services", None)
            requirements = spec_builtins.pop("requirements", {})
            traffic = spec_builtins
        plan_raw: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": "ServicePlan",
            "metadata": {"name": service.name or "service", "namespace": service_namespace},
            "spec": {
                "clusterRef": cluster_name,
                "service": service.raw,
                "traffic": traffic,
                "requirements": requirements,
            },
        }
        if workload is not None:
            plan_raw["spec"]["workload"] = workload.raw
        if bundle.pods:
            placement = _placement(cluster, service.raw, service_namespace)
            if placement is not None:
                plan_raw["spec"]["placement"] = placement
        try:
            plan = msgspec.convert(plan_raw, ServicePlan)
        except msgspec.ValidationError as exc:
            error = type_error(exc, "")
            if error.field.startswith("metadata.name"):
                errors.extend(service.locate([msgspec.structs.replace(error, field="metadata.name")]))
            else:
                errors.append(error)
            continue
        try:
            validate_document(plan, kubernetes_version=cluster.spec.kubernetes_version)
        except InvalidDocument as exc:
            errors.extend(_locate_plan_errors(exc.errors, service, workload, profile_item))
            continue
        plans.append(plan)
    if errors:
        raise InvalidDocument(errors, summary="input is invalid")
    return cluster, plans


def _locate_plan_errors(
    errors: list[FieldError], service: BundleItem, workload: BundleItem | None, profile: BundleItem | None
) -> list[FieldError]:
    located: list[FieldError] = []
    for error in errors:
        field = error.field
        if field.startswith("spec.service.") or field == "spec.service":
            located.extend(
                service.locate([msgspec.structs.replace(error, field=field.removeprefix("spec.service").lstrip("."))])
            )
        elif workload is not None and field.startswith("spec.workload"):
            located.extend(
                workload.locate([msgspec.structs.replace(error, field=field.removeprefix("spec.workload").lstrip("."))])
            )
        elif profile is not None and field.startswith("spec.traffic."):
            located.extend(
                profile.locate([msgspec.structs.replace(error, field="spec." + field.removeprefix("spec.traffic."))])
            )
        else:
            located.append(error)
    return located


__all__ = [
    "BundleItem",
    "IgnoredObject",
    "InputBundle",
    "TrafficProfileDocument",
    "TrafficProfileSpec",
    "bundle_from_objects",
    "plans_from_bundle",
    "profile_for",
]
