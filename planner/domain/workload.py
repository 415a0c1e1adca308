"""Workload manifests (Deployment, StatefulSet, DaemonSet) reduced to what placement needs, and node eligibility.

Sources (``kubernetes/kubernetes``): ``pkg/apis/apps/validation/validation.go`` (selector vs template labels,
rolling-update parameters), ``pkg/controller/deployment/util/deployment_util.go`` (``ResolveFenceposts``: surge
rounds up, unavailable rounds down), ``pkg/controller/statefulset`` (``getStatefulSetMaxUnavailable``),
``staging/src/k8s.io/component-helpers/resource/helpers.go`` (``PodRequests``: effective requests with init and
sidecar containers, overhead, pod-level resources), ``staging/src/k8s.io/component-helpers/scheduling/corev1``
(taint toleration and node-affinity matching), ``pkg/controller/daemon/util`` (tolerations DaemonSet Pods get).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import msgspec

from planner.domain.documents import ClusterNode
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.fielderrors import convert_view, forbidden, invalid, not_supported, prefixed, required
from planner.domain.k8s import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    Container,
    IntOrString,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinityTerm,
    PodSpec,
    RollingUpdate,
    Toleration,
    TopologySpreadConstraint,
    Workload,
)
from planner.domain.quantity import QuantityError, byte_count, millicores
from planner.domain.selectors import Selector, SelectorError, selector_from_label_selector

WORKLOAD_KINDS = ("DaemonSet", "Deployment", "StatefulSet")
WorkloadKindName = Literal["Deployment", "StatefulSet", "DaemonSet"]

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready"

_PERCENT = re.compile(r"^[0-9]+%$")


class WorkloadInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What placement and evaluation need from a workload manifest, with Kubernetes defaults applied."""

    kind: WorkloadKindName
    name: str
    namespace: str
    replicas: int | None
    """Desired Pods (default 1); ``None`` for a DaemonSet (one per eligible node)."""
    selector: Selector
    template_labels: dict[str, str]
    cpu_millis: int
    """Effective CPU request of one Pod (containers, init/sidecar containers, overhead)."""
    memory_bytes: int
    node_selector: dict[str, str] = msgspec.field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    required_node_terms: tuple[NodeSelectorTerm, ...] = ()
    """``requiredDuringSchedulingIgnoredDuringExecution`` terms (ORed); empty means no constraint."""
    max_per_node: int | None = None
    """1 when a required pod anti-affinity on ``kubernetes.io/hostname`` selects the workload's own Pods."""
    max_per_zone: int | None = None
    """1 when a required pod anti-affinity on ``topology.kubernetes.io/zone`` selects the workload's own Pods."""
    topology_spread: tuple[TopologySpreadConstraint, ...] = ()
    update_strategy: str = "RollingUpdate"
    max_surge_value: IntOrString | None = None
    """As given or defaulted (``25%`` for Deployments); DaemonSets resolve it against their node count."""
    max_unavailable_value: IntOrString | None = None
    max_surge: int | None = None
    """Resolved against ``replicas``; ``None`` for DaemonSets (see :func:`resolve_int_or_percent`)."""
    max_unavailable: int | None = None

    def spread_max_skew(self, topology_key: str) -> int | None:
        """``maxSkew`` of the hard (``DoNotSchedule``) spread constraint on ``topology_key``, if any."""
        skews = [
            c.max_skew
            for c in self.topology_spread
            if c.topology_key == topology_key and c.when_unsatisfiable == "DoNotSchedule"
        ]
        return min(skews) if skews else None


# --- resources -------------------------------------------------------------------------------------------------


def _container_requests(container: Container, path: str, errors: list[FieldError]) -> tuple[int, int]:
    resources = container.resources
    requests = dict(resources.requests or {}) if resources else {}
    limits = resources.limits or {} if resources else {}
    cpu = memory = 0
    for name, convert in (("cpu", millicores), ("memory", byte_count)):
        # SetDefaults_Pod: a request left unset defaults to the limit
        section = "requests" if name in requests else "limits"
        value = requests.get(name, limits.get(name))
        if value is None:
            continue
        try:
            amount = convert(value)
        except QuantityError as exc:
            errors.append(invalid(f"{path}.resources.{section}.{name}", value, str(exc)))
            continue
        if name == "cpu":
            cpu = amount
        else:
            memory = amount
    return cpu, memory


def pod_requests(spec: PodSpec, path: str = "spec") -> tuple[int, int, list[FieldError]]:
    """Effective ``(millicores, bytes)`` one Pod requests, as the scheduler counts it (``PodRequests``).

    Sum of containers plus sidecars (init containers with ``restartPolicy: Always``); at least the largest
    regular init container plus the sidecars started before it; pod-level ``resources.requests`` replace the sum
    for the resources they name; ``overhead`` is added last. Malformed quantities are returned as field errors.
    """
    errors: list[FieldError] = []
    cpu = memory = 0
    for index, container in enumerate(spec.containers):
        c, m = _container_requests(container, f"{path}.containers[{index}]", errors)
        cpu += c
        memory += m
    sidecar_cpu = sidecar_memory = 0
    init_cpu = init_memory = 0
    for index, container in enumerate(spec.init_containers or []):
        c, m = _container_requests(container, f"{path}.initContainers[{index}]", errors)
        if container.restart_policy == "Always":
            cpu += c
            memory += m
            sidecar_cpu += c
            sidecar_memory += m
            peak_cpu, peak_memory = sidecar_cpu, sidecar_memory
        else:
            peak_cpu, peak_memory = c + sidecar_cpu, m + sidecar_memory
        init_cpu = max(init_cpu, peak_cpu)
        init_memory = max(init_memory, peak_memory)
    cpu = max(cpu, init_cpu)
    memory = max(memory, init_memory)
    pod_level = spec.resources.requests or {} if spec.resources else {}
    for name, value in pod_level.items():
        try:
            if name == "cpu":
                cpu = millicores(value)
            elif name == "memory":
                memory = byte_count(value)
        except QuantityError as exc:
            errors.append(invalid(f"{path}.resources.requests.{name}", value, str(exc)))
    for name, value in (spec.overhead or {}).items():
        try:
            if name == "cpu":
                cpu += millicores(value)
            elif name == "memory":
                memory += byte_count(value)
        except QuantityError as exc:
            errors.append(invalid(f"{path}.overhead.{name}", value, str(exc)))
    return cpu, memory, errors


# --- rolling updates -------------------------------------------------------------------------------------------


def resolve_int_or_percent(value: IntOrString, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"25%"`` of ``total`` rounded up or down."""
    if isinstance(value, int):
        return value
    percent = int(value.removesuffix("%"))
    scaled = percent * total
    return math.ceil(scaled / 100) if round_up else scaled // 100


def _int_or_percent_errors(value: IntOrString | None, path: str, *, at_most_100: bool) -> list[FieldError]:
    if value is None:
        return []
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [
                invalid(
                    path,
                    value,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
                    "regex used for validation is '[0-9]+%')",
                )
            ]
        if at_most_100 and int(value[:-1]) > 100:
            return [invalid(path, value, "must not be greater than 100%")]
        return []
    if value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def _is_zero(value: IntOrString | None) -> bool:
    return value == 0 or (isinstance(value, str) and _PERCENT.match(value) is not None and int(value[:-1]) == 0)


def _deployment_rollout(
    workload: Workload, replicas: int, errors: list[FieldError]
) -> tuple[str, IntOrString | None, IntOrString | None, int | None, int | None]:
    strategy = workload.spec.strategy
    kind = (strategy.type if strategy else None) or "RollingUpdate"
    rolling = strategy.rolling_update if strategy else None
    path = "spec.strategy"
    if kind == "Recreate":
        if rolling is not None:
            errors.append(forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
        return kind, None, None, 0, replicas
    if kind != "RollingUpdate":
        errors.append(not_supported(f"{path}.type", kind, ["Recreate", "RollingUpdate"]))
        return kind, None, None, None, None
    rolling = rolling or RollingUpdate()
    surge = rolling.max_surge if rolling.max_surge is not None else "25%"
    unavailable = rolling.max_unavailable if rolling.max_unavailable is not None else "25%"
    before = len(errors)
    errors.extend(_int_or_percent_errors(surge, f"{path}.rollingUpdate.maxSurge", at_most_100=False))
    errors.extend(_int_or_percent_errors(unavailable, f"{path}.rollingUpdate.maxUnavailable", at_most_100=True))
    if len(errors) > before:
        return kind, surge, unavailable, None, None
    if _is_zero(surge) and _is_zero(unavailable):
        errors.append(invalid(f"{path}.rollingUpdate.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
        return kind, surge, unavailable, None, None
    resolved_surge = resolve_int_or_percent(surge, replicas, round_up=True)
    resolved_unavailable = resolve_int_or_percent(unavailable, replicas, round_up=False)
    if resolved_surge == 0 and resolved_unavailable == 0:  # ResolveFenceposts: never stall a rollout
        resolved_unavailable = 1
    return kind, surge, unavailable, resolved_surge, resolved_unavailable


def _other_rollout(
    workload: Workload, replicas: int | None, errors: list[FieldError]
) -> tuple[str, IntOrString | None, IntOrString | None, int | None, int | None]:
    strategy = workload.spec.update_strategy
    kind = (strategy.type if strategy else None) or "RollingUpdate"
    rolling = (strategy.rolling_update if strategy else None) or RollingUpdate()
    path = "spec.updateStrategy"
    if kind not in ("RollingUpdate", "OnDelete"):
        errors.append(not_supported(f"{path}.type", kind, ["OnDelete", "RollingUpdate"]))
        return kind, None, None, None, None
    if kind == "OnDelete":
        return kind, None, None, None, None
    surge: IntOrString | None
    if workload.kind == "DaemonSet":
        surge = rolling.max_surge if rolling.max_surge is not None else 0
        unavailable: IntOrString = rolling.max_unavailable if rolling.max_unavailable is not None else 1
        errors.extend(_int_or_percent_errors(surge, f"{path}.rollingUpdate.maxSurge", at_most_100=False))
        errors.extend(_int_or_percent_errors(unavailable, f"{path}.rollingUpdate.maxUnavailable", at_most_100=True))
        return kind, surge, unavailable, None, None
    surge = 0
    unavailable = rolling.max_unavailable if rolling.max_unavailable is not None else 1
    before = len(errors)
    errors.extend(_int_or_percent_errors(unavailable, f"{path}.rollingUpdate.maxUnavailable", at_most_100=True))
    if len(errors) > before or replicas is None:
        return kind, surge, unavailable, None, None
    # getStatefulSetMaxUnavailable: percentages round up, and at least one Pod is updated at a time
    return kind, surge, unavailable, 0, max(1, resolve_int_or_percent(unavailable, replicas, round_up=True))


# --- affinity --------------------------------------------------------------------------------------------------


def _self_anti_affinity(term: PodAffinityTerm, labels: Mapping[str, str], namespace: str) -> bool:
    if term.namespaces and namespace not in term.namespaces:
        return False
    if term.label_selector is None:
        return False
    try:
        return selector_from_label_selector(term.label_selector).matches(labels)
    except SelectorError:
        return False


def _anti_affinity_limits(spec: PodSpec, labels: Mapping[str, str], namespace: str) -> tuple[int | None, int | None]:
    anti = spec.affinity.pod_anti_affinity if spec.affinity else None
    terms = anti.required_during_scheduling_ignored_during_execution or [] if anti else []
    per_node = per_zone = None
    for term in terms:
        if not _self_anti_affinity(term, labels, namespace):
            continue
        if term.topology_key == HOSTNAME_LABEL:
            per_node = 1
        elif term.topology_key == ZONE_LABEL:
            per_zone = 1
    return per_node, per_zone


# --- parsing ---------------------------------------------------------------------------------------------------


def parse_workload(raw: dict[str, Any], *, path: str = "") -> WorkloadInfo:
    """Validate a Deployment/StatefulSet/DaemonSet manifest and reduce it to a :class:`WorkloadInfo`.

    Raises:
        InvalidDocument: every violation, with paths prefixed by ``path`` (e.g. ``spec.workload``).
    """
    if not isinstance(raw, dict):
        raise InvalidDocument(
            [FieldError(field=path, type="TypeInvalid", message="Expected `object`", value=type(raw).__name__)]
        )
    kind = raw.get("kind")
    if kind not in WORKLOAD_KINDS:
        error = required("kind") if not kind else not_supported("kind", kind, WORKLOAD_KINDS)
        raise InvalidDocument(prefixed([error], path), summary="workload is invalid")
    workload = convert_view(raw, Workload, path)
    errors: list[FieldError] = []
    api_version = raw.get("apiVersion")
    if not api_version:
        errors.append(required("apiVersion"))
    elif api_version != "apps/v1":
        errors.append(not_supported("apiVersion", api_version, ["apps/v1"]))
    name = workload.metadata.name or ""
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    namespace = workload.metadata.namespace or "default"
    spec = workload.spec
    labels = dict(spec.template.metadata.labels or {})
    selector = Selector()
    if spec.selector is None:
        errors.append(required("spec.selector"))
    elif not spec.selector.match_labels and not spec.selector.match_expressions:
        errors.append(invalid("spec.selector", {}, f"empty selector is invalid for {kind.lower()}"))
    else:
        try:
            selector = selector_from_label_selector(spec.selector)
        except SelectorError as exc:
            errors.append(
                invalid("spec.selector", msgspec.to_builtins(spec.selector), f"invalid label selector: {exc}")
            )
        else:
            if not selector.matches(labels):
                errors.append(
                    invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
                )
    replicas: int | None = None
    if kind == "DaemonSet":
        if spec.replicas is not None:
            errors.append(forbidden("spec.replicas", "DaemonSets have no replicas field", spec.replicas))
    else:
        replicas = 1 if spec.replicas is None else spec.replicas
        if replicas < 0:
            errors.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    pod_spec = spec.template.spec
    if not pod_spec.containers:
        errors.append(required("spec.template.spec.containers"))
    cpu, memory, resource_errors = pod_requests(pod_spec, "spec.template.spec")
    errors.extend(resource_errors)
    node_affinity = pod_spec.affinity.node_affinity if pod_spec.affinity else None
    required_selector = node_affinity.required_during_scheduling_ignored_during_execution if node_affinity else None
    terms: tuple[NodeSelectorTerm, ...] = ()
    if required_selector is not None:
        terms = tuple(required_selector.node_selector_terms)
        if not terms:
            errors.append(
                required(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                    ".nodeSelectorTerms",
                    "must have at least one node selector term",
                )
            )
    for index, constraint in enumerate(pod_spec.topology_spread_constraints or []):
        where = f"spec.template.spec.topologySpreadConstraints[{index}]"
        if constraint.max_skew <= 0:
            errors.append(invalid(f"{where}.maxSkew", constraint.max_skew, "must be greater than zero"))
        if constraint.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errors.append(
                not_supported(
                    f"{where}.whenUnsatisfiable", constraint.when_unsatisfiable, ["DoNotSchedule", "ScheduleAnyway"]
                )
            )
    if kind == "Deployment":
        rollout = _deployment_rollout(workload, replicas or 0, errors)
    else:
        rollout = _other_rollout(workload, replicas, errors)
    strategy, surge_value, unavailable_value, surge, unavailable = rollout
    if errors:
        raise InvalidDocument(prefixed(errors, path), summary=f"{kind} is invalid")
    per_node, per_zone = _anti_affinity_limits(pod_spec, labels, namespace)
    tolerations = list(pod_spec.tolerations or [])
    if kind == "DaemonSet":
        tolerations.extend(daemonset_default_tolerations())
    return WorkloadInfo(
        kind=kind,
        name=name,
        namespace=namespace,
        replicas=replicas,
        selector=selector,
        template_labels=labels,
        cpu_millis=cpu,
        memory_bytes=memory,
        node_selector=dict(pod_spec.node_selector or {}),
        tolerations=tuple(tolerations),
        required_node_terms=terms,
        max_per_node=per_node,
        max_per_zone=per_zone,
        topology_spread=tuple(pod_spec.topology_spread_constraints or []),
        update_strategy=strategy,
        max_surge_value=surge_value,
        max_unavailable_value=unavailable_value,
        max_surge=surge,
        max_unavailable=unavailable,
    )


def daemonset_default_tolerations() -> list[Toleration]:
    """Tolerations the DaemonSet controller adds to its Pods (``pkg/controller/daemon/util`` ``AddOrUpdate…``).

    The network-unavailable toleration (host-network Pods only) is left out.
    """
    no_execute = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    no_schedule = (
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        UNSCHEDULABLE_TAINT_KEY,
    )
    return [Toleration(key=k, operator="Exists", effect="NoExecute") for k in no_execute] + [
        Toleration(key=k, operator="Exists", effect="NoSchedule") for k in no_schedule
    ]


# --- scheduling predicates -------------------------------------------------------------------------------------


class TaintLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def effect(self) -> str: ...
    @property
    def value(self) -> str | None: ...


def toleration_tolerates(toleration: Toleration, taint: TaintLike) -> bool:
    """``Toleration.ToleratesTaint``: effect (empty = all), key (empty + Exists = all), then Exists or Equal."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    operator = toleration.operator or "Equal"
    if toleration.key and toleration.key != taint.key:
        return False
    if not toleration.key and operator != "Exists":
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.value or "") == (taint.value or "")


def untolerated_taint(tolerations: Iterable[Toleration], taints: Iterable[TaintLike]) -> TaintLike | None:
    """The first NoSchedule/NoExecute taint no toleration tolerates (PreferNoSchedule never blocks)."""
    tolerations = list(tolerations)
    for taint in taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if not any(toleration_tolerates(t, taint) for t in tolerations):
            return taint
    return None


def tolerates(tolerations: Iterable[Toleration], taints: Iterable[TaintLike]) -> bool:
    """Whether every NoSchedule and NoExecute taint is tolerated."""
    return untolerated_taint(tolerations, taints) is None


def _requirement_matches(requirement: NodeSelectorRequirement, value: str | None) -> bool:
    values = requirement.values or []
    operator = requirement.operator
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            actual, bound = int(value), int(values[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def node_matches_term(labels: Mapping[str, str], name: str, term: NodeSelectorTerm) -> bool:
    """One node selector term: every expression (labels) and field (``metadata.name``) requirement holds.

    A term with no requirements matches nothing (``nodeaffinity.NewNodeSelector``).
    """
    expressions = term.match_expressions or []
    fields = term.match_fields or []
    if not expressions and not fields:
        return False
    if not all(_requirement_matches(r, labels.get(r.key)) for r in expressions):
        return False
    return all(r.key == "metadata.name" and _requirement_matches(r, name) for r in fields)


def node_matches_affinity(labels: Mapping[str, str], name: str, terms: Sequence[NodeSelectorTerm]) -> bool:
    """Required node affinity: the terms are ORed; no terms means no constraint."""
    return not terms or any(node_matches_term(labels, name, t) for t in terms)


class _Taint(msgspec.Struct, frozen=True):
    key: str
    effect: str
    value: str | None = None


def node_labels(node: ClusterNode) -> dict[str, str]:
    """The node's labels plus the zone and hostname labels every real node carries, when a hand-written node
    leaves them out (``zone`` wins over nothing; an explicit label is kept)."""
    labels = dict(node.labels)
    if node.zone is not None:
        labels.setdefault(ZONE_LABEL, node.zone)
    labels.setdefault(HOSTNAME_LABEL, node.name)
    return labels


def node_ineligibility_reason(node: ClusterNode, workload: WorkloadInfo) -> str | None:
    """Why the scheduler would not place one of the workload's Pods on ``node``; ``None`` when it may.

    Capacity and spread are the optimizer's business; this covers readiness, cordoning, taints, ``nodeSelector``
    and required node affinity. NotReady and cordoned nodes are treated as the taints the node lifecycle
    controller puts on them, so a toleration for those taints (as DaemonSet Pods carry) lets Pods through.
    """
    implicit: list[TaintLike] = []
    if not node.ready:
        implicit.append(_Taint(key=NOT_READY_TAINT_KEY, effect="NoSchedule"))
    if node.unschedulable:
        implicit.append(_Taint(key=UNSCHEDULABLE_TAINT_KEY, effect="NoSchedule"))
    blocking = untolerated_taint(workload.tolerations, implicit)
    if blocking is not None:
        return "NotReady" if blocking.key == NOT_READY_TAINT_KEY else "unschedulable"
    taint = untolerated_taint(workload.tolerations, node.taints)
    if taint is not None:
        shown = f"{taint.key}={taint.value}" if taint.value else taint.key
        return f"taint {shown}:{taint.effect} not tolerated"
    labels = node_labels(node)
    for key, value in sorted(workload.node_selector.items()):
        if labels.get(key) != value:
            return f"nodeSelector {key}={value} not matched"
    if not node_matches_affinity(labels, node.name, workload.required_node_terms):
        return "required node affinity not matched"
    return None


def node_eligible(node: ClusterNode, workload: WorkloadInfo) -> bool:
    """Whether the workload's Pods may be scheduled on ``node`` (see :func:`node_ineligibility_reason`)."""
    return node_ineligibility_reason(node, workload) is None


__all__ = [
    "WORKLOAD_KINDS",
    "WorkloadInfo",
    "daemonset_default_tolerations",
    "node_eligible",
    "node_ineligibility_reason",
    "node_labels",
    "node_matches_affinity",
    "node_matches_term",
    "parse_workload",
    "pod_requests",
    "resolve_int_or_percent",
    "tolerates",
    "toleration_tolerates",
    "untolerated_taint",
]
