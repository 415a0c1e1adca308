"""Which nodes a workload's Pods may be scheduled on, and why not.

Follows kube-scheduler's filters: NodeUnschedulable (``spec.unschedulable`` unless tolerated), TaintToleration
(NoSchedule and NoExecute taints must be tolerated; PreferNoSchedule only scores), NodeAffinity (``nodeSelector``
and required node affinity terms, ORed terms of ANDed expressions) and a Ready node condition (a NotReady node
carries the ``node.kubernetes.io/not-ready`` taint and its Pods would not serve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from planner.domain.documents import ClusterNode, NodeTaint
from planner.domain.k8s import HOSTNAME_LABEL, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Toleration

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def tolerates(tolerations: Sequence[Toleration], taint: NodeTaint) -> bool:
    """Whether any toleration matches the taint (``core/v1`` ``Toleration.ToleratesTaint``)."""
    for tol in tolerations:
        if tol.effect and tol.effect != taint.effect:
            continue
        operator = tol.operator or "Equal"
        if not tol.key:
            if operator == "Exists":
                return True
            continue
        if tol.key != taint.key:
            continue
        if operator == "Exists" or (tol.value or "") == (taint.value or ""):
            return True
    return False


def _node_labels(node: ClusterNode) -> dict[str, str]:
    labels = dict(node.labels)
    labels.setdefault(HOSTNAME_LABEL, node.name)
    if node.zone is not None:
        labels.setdefault("topology.kubernetes.io/zone", node.zone)
    return labels


def _requirement_matches(req: NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    present = req.key in labels
    values = req.values or []
    if req.operator == "In":
        return present and labels[req.key] in values
    if req.operator == "NotIn":
        return not present or labels[req.key] not in values
    if req.operator == "Exists":
        return present
    if req.operator == "DoesNotExist":
        return not present
    if req.operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(labels[req.key]), int(values[0])
        except ValueError:
            return False
        return have > want if req.operator == "Gt" else have < want
    return False


def _term_matches(term: NodeSelectorTerm, node: ClusterNode, labels: Mapping[str, str]) -> bool:
    if not term.match_expressions and not term.match_fields:
        return False  # an empty term matches no objects
    for req in term.match_expressions or []:
        if not _requirement_matches(req, labels):
            return False
    return all(_requirement_matches(req, {"metadata.name": node.name}) for req in term.match_fields or [])


def ineligibility(node: ClusterNode, pod: PodSpec) -> str | None:
    """Why the workload's Pods cannot run on ``node``, in the user's terms, or ``None`` when they can."""
    tolerations = pod.tolerations or []
    if not node.ready:
        return "node is NotReady"
    if node.unschedulable and not tolerates(tolerations, NodeTaint(key=UNSCHEDULABLE_TAINT, effect="NoSchedule")):
        return "node is cordoned (unschedulable)"
    for taint in node.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            shown = f"{taint.key}={taint.value}" if taint.value else taint.key
            return f"taint {shown}:{taint.effect} is not tolerated"
    labels = _node_labels(node)
    for key, value in (pod.node_selector or {}).items():
        if labels.get(key) != value:
            return f"nodeSelector {key}={value} does not match"
    affinity = pod.affinity.node_affinity if pod.affinity else None
    required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
    if required is not None and not any(_term_matches(t, node, labels) for t in required.node_selector_terms):
        return "required node affinity does not match"
    return None


def untolerated_taint(node: ClusterNode, pod: PodSpec) -> NodeTaint | None:
    """The first scheduling taint on ``node`` the Pod does not tolerate (for relaxation suggestions)."""
    for taint in node.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not tolerates(pod.tolerations or [], taint):
            return taint
    return None
