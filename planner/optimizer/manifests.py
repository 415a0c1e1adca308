"""The manifests a reviewer applies: workload, PodDisruptionBudget and Service, as kubectl prints them.

The workload gets the chosen replica count, a required node affinity on the chosen nodes and a hostname
``topologySpreadConstraints`` with maxSkew 1 (``matchLabelKeys: [pod-template-hash]`` so that old and new
ReplicaSets are counted apart during a rollout), plus required hostname anti-affinity when at most one Pod may run
per node. Those constraints make the scheduler spread the Pods evenly over the chosen nodes; when the plan is not
an even spread (capacity or per-zone balance made it uneven), the scheduler's outcome is simulated and reported.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import numpy as np
import yaml

from planner.domain.k8s import HOSTNAME_LABEL
from planner.engine.metrics import IntArray
from planner.optimizer.baselines import spread_max_skew_1
from planner.optimizer.instance import Instance, ServiceInstance
from planner.optimizer.quality import measure
from planner.optimizer.rollout import DisruptionPlan
from planner.optimizer.schema import Manifests, PlacementQuality

TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata", "spec")


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: doc[k] for k in TOP_LEVEL_ORDER if k in doc}
    out.update({k: v for k, v in doc.items() if k not in out})
    return out


def to_yaml(docs: list[tuple[list[str], dict[str, Any]]]) -> str:
    """Multi-document YAML, each document preceded by its comment lines, keys in kubectl's order."""
    parts = []
    for comments, doc in docs:
        header = "".join(f"# {line}\n" for line in comments)
        body = yaml.safe_dump(_ordered(doc), sort_keys=False, default_flow_style=False, width=120)
        parts.append(header + body)
    return "---\n" + "---\n".join(parts)


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels = workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    return dict(labels)


def _pin_nodes(pod_spec: dict[str, Any], nodes: list[str]) -> None:
    affinity = pod_spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    expression = {"key": HOSTNAME_LABEL, "operator": "In", "values": nodes}
    terms = required.get("nodeSelectorTerms") or [{}]
    for term in terms:
        kept = [e for e in term.get("matchExpressions", []) if e.get("key") != HOSTNAME_LABEL]
        term["matchExpressions"] = [*kept, expression]
    required["nodeSelectorTerms"] = terms


def _spread(pod_spec: dict[str, Any], labels: dict[str, str], kind: str) -> None:
    kept = [c for c in pod_spec.get("topologySpreadConstraints", []) if c.get("topologyKey") != HOSTNAME_LABEL]
    constraint: dict[str, Any] = {
        "labelSelector": {"matchLabels": labels},
        "maxSkew": 1,
        "topologyKey": HOSTNAME_LABEL,
        "whenUnsatisfiable": "DoNotSchedule",
        "nodeTaintsPolicy": "Honor",
    }
    if kind == "Deployment":
        constraint["matchLabelKeys"] = ["pod-template-hash"]
    pod_spec["topologySpreadConstraints"] = [*kept, constraint]


def _anti_affinity(pod_spec: dict[str, Any], labels: dict[str, str]) -> None:
    anti = pod_spec.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
    terms = [
        t
        for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        if t.get("topologyKey") != HOSTNAME_LABEL
    ]
    terms.append({"labelSelector": {"matchLabels": labels}, "topologyKey": HOSTNAME_LABEL})
    anti["requiredDuringSchedulingIgnoredDuringExecution"] = terms


def _scheduler_outcome(
    svc: ServiceInstance, inst: Instance, pods: IntArray, quality: PlacementQuality
) -> tuple[bool, str]:
    """Simulate the scheduler under the emitted constraints and compare with the plan."""
    sim, pending = spread_max_skew_1(svc, inst.cluster, inst.free, int(pods.sum()), nodes=pods)
    same_counts = sorted(sim[pods > 0].tolist()) == sorted(pods[pods > 0].tolist()) and pending == 0
    if same_counts:
        return True, (
            "The constraints pin the plan: the scheduler can only spread the Pods evenly (skew <= 1) over "
            "the chosen nodes, which gives the plan's Pods per node up to which node takes which count."
        )
    sim_quality = measure(svc, inst.cluster, sim)
    detail = ", ".join(f"{inst.cluster.node_names[int(n)]}={int(sim[n])}" for n in np.flatnonzero(sim > 0))
    return False, (
        f"The constraints do not pin this uneven plan: the scheduler would produce about {detail}"
        + (f" with {pending} Pod(s) Pending" if pending else "")
        + f", hottest-Pod ratio {sim_quality.hottest_pod_ratio:.4f} instead of {quality.hottest_pod_ratio:.4f}. "
        "To reproduce the plan exactly, split the workload into one Deployment per node group with its own node "
        "affinity and replica count."
    )


def render_manifests(
    svc: ServiceInstance,
    inst: Instance,
    pods: IntArray,
    quality: PlacementQuality,
    disruption: DisruptionPlan | None = None,
) -> Manifests:
    names = [inst.cluster.node_names[int(n)] for n in np.flatnonzero(pods > 0)]
    replicas = int(pods.sum())
    service = copy.deepcopy(svc.goal.plan.spec.service)
    inputs: list[tuple[list[str], dict[str, Any]]] = []
    docs: list[tuple[list[str], dict[str, Any]]] = []
    reproduces, note = _scheduler_outcome(svc, inst, pods, quality)
    if svc.workload is not None:
        original = svc.workload
        inputs.append(([], original))
        workload = copy.deepcopy(original)
        kind = str(workload.get("kind", "Deployment"))
        labels = _pod_labels(workload)
        spec = workload.setdefault("spec", {})
        pod_spec = spec.setdefault("template", {}).setdefault("spec", {})
        comments = [
            f"{kind} {workload.get('metadata', {}).get('name', '')}: placement recommended for an "
            f"engine-measured hottest-Pod ratio of {quality.hottest_pod_ratio:.4f}."
        ]
        if kind != "DaemonSet":
            spec["replicas"] = replicas
            comments.append(f"spec.replicas: {replicas} (the plan's replica count).")
        _pin_nodes(pod_spec, names)
        comments.append(f"nodeAffinity: only the {len(names)} chosen node(s), so empty nodes stay out of the LB.")
        _spread(pod_spec, labels, kind)
        comments.append(
            "topologySpreadConstraints: maxSkew 1 per node keeps the Pods per node within one; nodeTaintsPolicy "
            "Honor leaves a cordoned node out of the skew, so a drain's replacement Pods can land elsewhere."
        )
        if svc.max_per_node == 1:
            _anti_affinity(pod_spec, labels)
            comments.append("podAntiAffinity: at most one Pod per node (HA rule).")
        docs.append((comments, workload))
        namespace = workload.get("metadata", {}).get("namespace") or svc.namespace
        budget = disruption.max_unavailable if disruption is not None else 1
        pdb = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": f"{workload.get('metadata', {}).get('name', svc.name)}", "namespace": namespace},
            "spec": {"maxUnavailable": budget, "selector": {"matchLabels": labels}},
        }
        pdb_comments = [
            f"PodDisruptionBudget: evict at most {budget} Pod(s) at a time so a drain never empties a node's share "
            "at once.",
            "Evicted Pods can only move to the other chosen nodes (the node affinity pins the set).",
        ]
        if disruption is not None:
            pdb_comments.append(disruption.text)
        docs.append((pdb_comments, pdb))
    inputs.append(([], svc.goal.plan.spec.service))
    service_comments = ["Service: unchanged."]
    if svc.balance_model == "leader":
        service.setdefault("spec", {})["externalTrafficPolicy"] = "Cluster"
        service_comments = [
            "Service: externalTrafficPolicy Cluster, because with MetalLB L2 and Local only the elected node's Pods "
            "serve; Cluster spreads over every Pod (client IP is then masqueraded)."
        ]
        service["spec"].pop("healthCheckNodePort", None)
    docs.append((service_comments, service))
    text = to_yaml(docs)
    diff = "".join(
        difflib.unified_diff(
            to_yaml(inputs).splitlines(keepends=True),
            to_yaml([([], d) for _, d in docs]).splitlines(keepends=True),
            fromfile="input.yaml",
            tofile="recommended.yaml",
        )
    )
    return Manifests(yaml=text, diff=diff, reproduces_plan=reproduces, scheduler_note=note)
