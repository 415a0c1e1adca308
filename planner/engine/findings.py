"""Findings (stable rule IDs, evidence numbers, concrete fixes) and the pass/fail verdict.

Rule IDs never change meaning; new rules get new IDs.

| id | name | when |
|---|---|---|
| TP001 | local-uneven-pod-load | ETP Local and the LB's per-node split makes per-Pod load uneven |
| TP002 | local-drop-during-detection | ETP Local: nodes without Ready Pods still get LB traffic, which is DROPped |
| TP003 | l2-single-leader | MetalLB L2: one node takes every new connection |
| TP004 | client-ip-lost-under-cluster | client IP required but the Pods see a node or LB address |
| TP005 | affinity-behind-proxy-or-nat | ClientIP affinity keyed on few source addresses: all clients pinned together |
| TP006 | affinity-no-effect-headless-or-externalname | ClientIP affinity on a Service kube-proxy skips |
| TP007 | itp-local-drops-callers | ITP Local and callers on nodes without endpoints |
| TP008 | hints-disabled | topology hints requested but a safeguard or a missing zone disables them |
| TP009 | ipvs-affinity-caveats | IPVS: persistence per virtual server, rr per node, deprecated |
| TP010 | xt-recent-limit | iptables ClientIP: more than 100 clients per endpoint per node lose stickiness |
| TP011 | affinity-timeout-range | timeoutSeconds above the 10800 default: valid up to 86400 |
| TP012 | no-endpoints-reject | no usable endpoint at all: connections are REJECTed |
| TP013 | nodeport-local-no-health-check | NodePort + Local has no healthCheckNodePort |
| TP014 | random-not-round-robin | iptables/nftables choose at random per connection |
"""

from __future__ import annotations

import math

import numpy as np

from planner.domain.traffic import Callers, LoadBalancer, Requirements
from planner.engine.external import detection_seconds, entry_shares, leader_index
from planner.engine.inputs import DEFAULT_AFFINITY_TIMEOUT_SECONDS, EngineInput
from planner.engine.internal import caller_shares
from planner.engine.metrics import FloatArray, IntArray
from planner.engine.results import Finding, Fix, PolicyResult, RequirementCheck

XT_RECENT_LIST_ENTRIES = 100
"""``ip_list_tot`` default of linux net/netfilter/xt_recent.c."""
EPS = 1e-9


def even_counts(inflow: FloatArray, current_total: int, limit: int = 64) -> IntArray:
    """Pods per node proportional to ``inflow`` (so every Pod gets the same share), with at least
    ``current_total`` Pods in all, using the smallest such multiple."""
    counts: IntArray = np.zeros(inflow.shape, dtype=np.int64)
    receiving = np.flatnonzero(inflow > EPS)
    if receiving.shape[0] == 0:
        return counts
    shares = inflow[receiving]
    base = shares / shares.min()
    for multiple in range(1, limit + 1):
        scaled = base * multiple
        rounded = np.round(scaled)
        # np.allclose(scaled, rounded, atol=1e-6) with its default rtol, on the receiving nodes only
        if (np.abs(scaled - rounded) <= 1e-6 + 1e-5 * np.abs(rounded)).all() and rounded.sum() >= current_total:
            counts[receiving] = rounded
            return counts
    factor = max(1, math.ceil(current_total / base.sum()))
    counts[receiving] = np.maximum(np.round(base * factor), 1)
    return counts


def same_count_spread(inp: EngineInput, lb: LoadBalancer) -> dict[str, int] | None:
    """The same number of replicas, evenly per node, for an equal-per-node LB with cross-zone balancing.

    Every used node then gets the same LB share and the same Pod count, so every Pod gets 1/R. R replicas go
    R/K per node on K nodes, K the largest divisor of R not above the up, schedulable nodes; nodes with the most
    Ready Pods today come first (fewest moves), then node order. None when that puts everything on one node.
    """
    if lb.model != "nodeEqual" or not lb.cross_zone:
        return None
    replicas = int(inp.ready.sum())
    usable = np.flatnonzero(inp.node_up & inp.node_schedulable)
    nodes = max((k for k in range(1, min(replicas, usable.shape[0]) + 1) if replicas % k == 0), default=0)
    if nodes < 2:
        return None
    chosen = usable[np.argsort(-inp.ready[usable], kind="stable")[:nodes]]
    return {inp.node_names[i]: replicas // nodes for i in sorted(chosen.tolist())}


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _lb(inp: EngineInput) -> LoadBalancer:
    return inp.traffic.external.load_balancer if inp.traffic.external else LoadBalancer()


def _by_policy(results: list[PolicyResult], **fields: object) -> PolicyResult | None:
    for result in results:
        if all(getattr(result.policy, k) == v for k, v in fields.items()):
            return result
    return None


def findings_for(inp: EngineInput, results: list[PolicyResult], *, rates_given: bool) -> list[Finding]:
    """Findings for the current policy (``results[0]``), using the alternatives as evidence for fixes."""
    del rates_given
    current = results[0]
    key = current.policy
    summary = current.summary
    policy = inp.policy
    lb = _lb(inp)
    external = inp.traffic.external is not None and policy.externally_accessible
    internal = inp.traffic.internal is not None
    clients = inp.traffic.clients
    out: list[Finding] = []
    etp = key.external_traffic_policy
    uses_kube_proxy = lb.model != "ipTargets"

    ext_summary = summary.external
    if (
        external
        and etp == "Local"
        and uses_kube_proxy
        and ext_summary is not None
        and ext_summary.hottest_pod_ratio > 1 + 1e-6
    ):
        inflow = entry_shares(lb, "Local", inp.ready, inp.node_up, inp.zone, leader=leader_index(inp, lb))
        counts = even_counts(np.where(inp.ready > 0, inflow, 0.0), int(inp.ready.sum()))
        placed = np.flatnonzero(counts)
        proportional = {
            inp.node_names[i]: count for i, count in zip(placed.tolist(), counts[placed].tolist(), strict=True)
        }
        same_count = same_count_spread(inp, lb)
        replicas = same_count or proportional
        even_text = (
            f"the same {int(inp.ready.sum())} replicas as {same_count} (equal Pods per node), or Pods per node "
            f"proportional to each node's share of LB traffic: {proportional}"
            if same_count
            else f"Pods per node proportional to each node's share of LB traffic: {proportional}"
        )
        cluster = _by_policy(
            results,
            external_traffic_policy="Cluster",
            session_affinity=key.session_affinity,
            internal_traffic_policy=key.internal_traffic_policy,
            topology=key.topology,
        )
        cluster_ext = cluster.summary.external if cluster else None
        alt = f"; externalTrafficPolicy: Cluster gives {cluster_ext.hottest_pod_ratio:.2f}x" if cluster_ext else ""
        out.append(
            Finding(
                id="TP001",
                name="local-uneven-pod-load",
                severity="warning",
                message=(
                    f"externalTrafficPolicy: Local with a {lb.model} load balancer splits traffic per node, not per "
                    f"Pod: the hottest Pod gets {ext_summary.hottest_pod_ratio:.2f}x the mean of external traffic "
                    f"({ext_summary.hottest_pod_share:.1%} of external connections){alt}. Even per Pod: "
                    f"{even_text}."
                ),
                evidence={
                    "hottestPodRatio": ext_summary.hottest_pod_ratio,
                    "hottestPodShare": ext_summary.hottest_pod_share,
                    "coefficientOfVariation": ext_summary.coefficient_of_variation,
                },
                fix=Fix(
                    description="equal Pods on every used node"
                    if same_count
                    else "place Pods in proportion to each node's LB share",
                    replicas=replicas,
                ),
            )
        )

    if external and etp == "Local" and lb.model in ("nodeEqual", "podWeighted"):
        detect = detection_seconds(lb, "Local")
        failure = current.failure
        ext_dropped = ext_summary.dropped_fraction if ext_summary is not None else 0.0
        ext_dropped_rate = ext_summary.dropped_connections_per_second if ext_summary is not None else 0.0
        if not lb.health_check and ext_dropped > EPS:
            out.append(
                Finding(
                    id="TP002",
                    name="local-drop-during-detection",
                    severity="error",
                    message=(
                        f"externalTrafficPolicy: Local without load-balancer health checks: "
                        f"{_pct(ext_dropped)} of new external connections reach nodes without a Ready Pod and "
                        "are silently DROPped there (clients time out; kube-proxy does not reject them)."
                    ),
                    evidence={
                        "droppedFraction": ext_dropped,
                        "droppedConnectionsPerSecond": ext_dropped_rate,
                    },
                    fix=Fix(
                        description="health-check healthCheckNodePort (type: LoadBalancer), or use Cluster",
                        field="spec.externalTrafficPolicy",
                        value="Cluster",
                    ),
                )
            )
        elif failure is not None and failure.connections_lost_during_detection:
            out.append(
                Finding(
                    id="TP002",
                    name="local-drop-during-detection",
                    severity="warning",
                    message=(
                        f"If node {failure.node} dies, the load balancer keeps sending it "
                        f"{failure.lost_connections_per_second_until_detected:.1f} connections/s for about "
                        f"{detect:g} s until its health check fails: about "
                        f"{failure.connections_lost_during_detection:.0f} connections are lost. The same window "
                        "applies when a node's last Ready Pod goes away; such nodes DROP new connections, they do "
                        "not reject them. Survivors then carry the hottest Pod at "
                        f"{failure.survivors_hottest_pod_ratio:.2f}x the mean."
                    ),
                    evidence={
                        "detectionSeconds": detect,
                        "connectionsLostDuringDetection": failure.connections_lost_during_detection,
                        "survivorsHottestPodRatio": failure.survivors_hottest_pod_ratio,
                    },
                    fix=Fix(
                        description="shorten the LB's health-check interval x unhealthy threshold",
                        field="spec.traffic.external.loadBalancer.detectionSeconds",
                        value=max(1.0, detect / 2),
                    ),
                )
            )

    if external and lb.model == "l2Leader":
        leader = int(
            np.argmax(
                entry_shares(lb, etp or "Cluster", inp.ready, inp.node_up, inp.zone, leader=leader_index(inp, lb))
            )
        )
        leader_pods = int(inp.ready[leader])
        detail = (
            f"under Local only its {leader_pods} Pod(s) serve, each {1 / max(leader_pods, 1):.0%} of traffic"
            if etp == "Local"
            else "under Cluster it spreads over every Pod but SNATs, so Pods see the leader's address"
        )
        out.append(
            Finding(
                id="TP003",
                name="l2-single-leader",
                severity="warning",
                message=(
                    f"MetalLB L2 mode: one announcing node ({inp.node_names[leader]}) receives every new "
                    f"connection; {detail}."
                ),
                evidence={
                    "leaderReadyPods": float(leader_pods),
                    "hottestPodRatio": (ext_summary or summary).hottest_pod_ratio,
                },
                fix=Fix(description="use MetalLB BGP mode (ECMP over nodes) or externalTrafficPolicy: Cluster"),
            )
        )

    visible = summary.client_ip_visible_fraction
    if inp.requirements.client_ip_required and visible is not None and visible < 1 - EPS:
        header = summary.client_ip.in_proxy_protocol_header
        local = _by_policy(
            results,
            external_traffic_policy="Local",
            session_affinity=key.session_affinity,
            internal_traffic_policy=key.internal_traffic_policy,
            topology=key.topology,
        )
        if etp == "Cluster" and uses_kube_proxy and lb.client_ip == "passthrough":
            reason = (
                "externalTrafficPolicy: Cluster masquerades all external traffic to a node address, even when "
                "the chosen Pod is on the receiving node (it does not preserve the client IP)"
            )
            fix = Fix(
                description="externalTrafficPolicy: Local keeps the client IP"
                + (
                    f" (hottest Pod {local.summary.hottest_pod_ratio:.2f}x, dropped "
                    f"{_pct(local.summary.dropped_fraction)})"
                    if local
                    else ""
                ),
                field="spec.externalTrafficPolicy",
                value="Local",
            )
        elif lb.model == "ipTargets":
            reason = "the NLB forwards to Pod IPs with client-IP preservation off (the IP-target default)"
            fix = Fix(
                description="enable preserve_client_ip.enabled on the target group, or PROXY protocol",
                field="spec.traffic.external.loadBalancer.preserveClientIP",
                value=True,
            )
        else:
            reason = "the load balancer proxies connections, so Pods see the load balancer's address"
            fix = Fix(
                description="use a passthrough LB, or PROXY protocol",
                field="spec.traffic.external.loadBalancer.clientIP",
                value="proxyProtocol",
            )
        out.append(
            Finding(
                id="TP004",
                name="client-ip-lost-under-cluster",
                severity="info" if header else "error",
                message=f"Client IP required, but only {_pct(visible)} of connections show it: {reason}."
                + (" The PROXY protocol header still carries it." if header else ""),
                evidence={"clientIPVisibleFraction": visible},
                fix=fix,
            )
        )

    if key.session_affinity == "ClientIP" and policy.proxied:
        behind_proxy = external and lb.client_ip != "passthrough" and uses_kube_proxy
        nat = clients.nat_addresses
        pods = int(inp.ready.sum())
        if behind_proxy or (nat is not None and nat < max(pods, 2)):
            sources = 1 if behind_proxy else int(nat or 1)
            why = (
                "the load balancer proxies connections, so every client has the LB's address"
                if behind_proxy
                else f"{clients.count} clients share {sources} NAT address(es)"
            )
            out.append(
                Finding(
                    id="TP005",
                    name="affinity-behind-proxy-or-nat",
                    severity="warning",
                    message=(
                        f"sessionAffinity: ClientIP keys on the source address, and {why}: each node pins all of "
                        f"them to at most {sources} Pod(s) of {pods}, so one Pod per entry node takes everything "
                        f"that node forwards."
                    ),
                    evidence={"sourceAddresses": float(sources), "readyPods": float(pods)},
                    fix=Fix(
                        description="drop ClientIP affinity (use application-level sessions) or pass the client IP",
                        field="spec.sessionAffinity",
                        value="None",
                    ),
                )
            )
    if key.session_affinity == "ClientIP" and not policy.proxied:
        kind = "ExternalName" if policy.type == "ExternalName" else "headless"
        out.append(
            Finding(
                id="TP006",
                name="affinity-no-effect-headless-or-externalname",
                severity="warning",
                message=(
                    f"sessionAffinity: ClientIP is accepted on a {kind} Service but has no effect: kube-proxy "
                    "skips Services without a ClusterIP and ExternalName Services."
                ),
                evidence={},
                fix=Fix(description="remove sessionAffinity", field="spec.sessionAffinity", value="None"),
            )
        )

    int_summary = summary.internal
    if internal and key.internal_traffic_policy == "Local" and policy.proxied and int_summary is not None:
        callers = caller_shares(
            inp.traffic.internal.callers if inp.traffic.internal else Callers(),
            inp.node_names,
            inp.zone,
            inp.zone_names,
            inp.node_up,
        )
        without = [inp.node_names[i] for i in np.flatnonzero((callers > 0) & (inp.ready + inp.terminating == 0))]
        if without and int_summary.dropped_fraction > EPS:
            share = int_summary.dropped_fraction
            replicas = dict.fromkeys(without, 1)
            out.append(
                Finding(
                    id="TP007",
                    name="itp-local-drops-callers",
                    severity="error",
                    message=(
                        f"internalTrafficPolicy: Local drops ClusterIP connections from callers on nodes without a "
                        f"local endpoint ({', '.join(without[:5])}{'...' if len(without) > 5 else ''}): "
                        f"{_pct(share)} of in-cluster connections fail."
                    ),
                    evidence={
                        "droppedCallerFraction": share,
                        "droppedConnectionsPerSecond": int_summary.dropped_connections_per_second,
                        "nodesWithoutEndpoints": float(len(without)),
                    },
                    fix=Fix(
                        description="run a Pod next to every caller (or use trafficDistribution: PreferSameNode, "
                        "which falls back instead of dropping)",
                        field="spec.internalTrafficPolicy",
                        value="Cluster",
                        replicas=replicas,
                    ),
                )
            )

    topology = current.topology
    uses_cluster = (external and etp == "Cluster") or (internal and key.internal_traffic_policy == "Cluster")
    if key.topology != "none" and uses_cluster and not topology.engaged and policy.proxied:
        out.append(
            Finding(
                id="TP008",
                name="hints-disabled",
                severity="warning",
                message=f"{key.topology} is set but kube-proxy routes cluster-wide: {topology.message}.",
                evidence={"engagedNodeFraction": topology.engaged_node_fraction},
                fix=Fix(
                    description="give every zone Ready endpoints (at least as many endpoints as zones) and "
                    "zone labels on every node",
                ),
            )
        )

    if inp.traffic.data_plane == "ipvs":
        out.append(
            Finding(
                id="TP009",
                name="ipvs-affinity-caveats",
                severity="info",
                message=(
                    "IPVS mode is deprecated since 1.35. Its rr scheduler rotates per node and per virtual server, "
                    "not cluster-wide"
                    + (
                        "; ClientIP persistence is per virtual server, so the ClusterIP, every NodeIP:NodePort and "
                        "the LB IP pin a client independently, and each new connection refreshes the timeout"
                        if key.session_affinity == "ClientIP"
                        else ""
                    )
                    + "."
                ),
                evidence={},
                fix=Fix(description="move kube-proxy to nftables mode"),
            )
        )

    if key.session_affinity == "ClientIP" and inp.traffic.data_plane == "iptables" and policy.proxied:
        sources = clients.nat_addresses or clients.count
        endpoints = max(int(inp.ready.sum()), 1)
        per_endpoint = sources / endpoints
        if current.affinity is not None:
            per_endpoint = float(current.affinity.recent_entries_per_endpoint_max)
        if per_endpoint > XT_RECENT_LIST_ENTRIES:
            out.append(
                Finding(
                    id="TP010",
                    name="xt-recent-limit",
                    severity="warning",
                    message=(
                        f"iptables keeps ClientIP affinity in xt_recent lists of {XT_RECENT_LIST_ENTRIES} entries "
                        f"per endpoint per node; about {per_endpoint:.0f} client addresses per endpoint evict each "
                        "other, so stickiness is silently lost for most clients."
                    ),
                    evidence={"clientsPerEndpoint": per_endpoint},
                    fix=Fix(description="use nftables mode (sets without that limit) or application sessions"),
                )
            )

    timeout = policy.timeout_seconds
    if key.session_affinity == "ClientIP" and timeout is not None and timeout > DEFAULT_AFFINITY_TIMEOUT_SECONDS:
        out.append(
            Finding(
                id="TP011",
                name="affinity-timeout-range",
                severity="info",
                message=(
                    f"timeoutSeconds {timeout} is above the 10800 s default; that is valid: the maximum is 86400 s "
                    "(1 day). The window restarts with each new connection, not with each packet."
                ),
                evidence={"timeoutSeconds": float(timeout)},
                fix=None,
            )
        )

    if summary.rejected and policy.proxied:
        out.append(
            Finding(
                id="TP012",
                name="no-endpoints-reject",
                severity="error",
                message=(
                    "The Service has no Ready or serving-terminating endpoint: kube-proxy REJECTs every connection."
                ),
                evidence={"readyPods": 0.0},
                fix=Fix(description="run at least one Ready Pod matching the selector", field="spec.selector"),
            )
        )

    if external and etp == "Local" and policy.type == "NodePort" and uses_kube_proxy:
        out.append(
            Finding(
                id="TP013",
                name="nodeport-local-no-health-check",
                severity="info",
                message=(
                    "type: NodePort with externalTrafficPolicy: Local gets no healthCheckNodePort (only "
                    "LoadBalancer does), so whatever sends traffic to the NodePort must find the nodes with Pods "
                    "itself; the others DROP it."
                ),
                evidence={},
                fix=Fix(description="use type: LoadBalancer, or health-check the NodePort from the front end"),
            )
        )

    if inp.traffic.data_plane in ("iptables", "nftables") and policy.proxied and summary.served_connections_per_second:
        pods = int(inp.ready.sum())
        if pods > 1 and rates_given_low(summary.served_connections_per_second, pods):
            out.append(
                Finding(
                    id="TP014",
                    name="random-not-round-robin",
                    severity="info",
                    message=(
                        f"{inp.traffic.data_plane} mode picks an endpoint uniformly at random per new connection "
                        f"(not round-robin); at {summary.served_connections_per_second:g} connections/s over {pods} "
                        "Pods, short windows look uneven, and keep-alive connections pin all their requests."
                    ),
                    evidence={"connectionsPerSecondPerPod": summary.served_connections_per_second / pods},
                    fix=None,
                )
            )
    return out


def rates_given_low(connections_per_second: float, pods: int) -> bool:
    """Few connections per Pod: a one-second window has a binomial spread above 30 % of the mean."""
    per_pod = connections_per_second / pods
    # A margin far below any real difference keeps float noise in the rates (10 connections/s per Pod computed
    # as 9.999999999999996) from deciding the finding.
    return per_pod > 0 and math.sqrt(per_pod * (1 - 1 / pods)) / per_pod > 0.3 + 1e-9


def verdict_for(requirements: Requirements, current: PolicyResult) -> tuple[list[RequirementCheck], list[str]]:
    """Check the current policy against the requirements; return every check and the failing ones as text."""
    summary = current.summary
    checks: list[RequirementCheck] = []
    failures: list[str] = []

    def check(name: str, limit: float | bool, actual: float | bool, passed: bool, text: str) -> None:
        checks.append(RequirementCheck(requirement=name, limit=limit, actual=actual, passed=passed))
        if not passed:
            failures.append(text)

    if requirements.client_ip_required:
        visible = summary.client_ip_visible_fraction
        shown = 1.0 if summary.client_ip.in_proxy_protocol_header else (visible if visible is not None else 0.0)
        check(
            "clientIPRequired",
            True,
            shown >= 1 - EPS,
            shown >= 1 - EPS,
            f"client IP visible on {_pct(shown)} of connections, required on all",
        )
    if requirements.max_hottest_pod_ratio is not None:
        limit = requirements.max_hottest_pod_ratio
        actual = summary.hottest_pod_ratio
        check(
            "maxHottestPodRatio", limit, actual, actual <= limit + EPS, f"hottest Pod {actual:.2f}x mean > {limit:.2f}x"
        )
    if requirements.max_dropped_fraction is not None:
        limit = requirements.max_dropped_fraction
        actual = summary.dropped_fraction
        check("maxDroppedFraction", limit, actual, actual <= limit + EPS, f"dropped {actual:.1%} > {limit:.1%}")
    if requirements.max_extra_hop_fraction is not None:
        limit = requirements.max_extra_hop_fraction
        actual = summary.extra_hop_fraction
        check("maxExtraHopFraction", limit, actual, actual <= limit + EPS, f"extra hop {actual:.1%} > {limit:.1%}")
    if requirements.max_affinity_hottest_share is not None and current.affinity is not None:
        limit = requirements.max_affinity_hottest_share
        actual = float(current.affinity.hottest_pod_share_p99)
        check(
            "maxAffinityHottestShare",
            limit,
            actual,
            actual <= limit + EPS,
            f"p99 hottest Pod share under affinity {actual:.1%} > {limit:.1%}",
        )
    if requirements.pod_capacity_connections_per_second is not None:
        limit = requirements.pod_capacity_connections_per_second
        actual = summary.hottest_pod_connections_per_second
        check(
            "podCapacityConnectionsPerSecond",
            limit,
            actual,
            actual <= limit + EPS,
            f"hottest Pod {actual:.1f} connections/s > capacity {limit:.1f}",
        )
    return checks, failures


__all__ = ["XT_RECENT_LIST_ENTRIES", "even_counts", "findings_for", "verdict_for"]
