"""Help text for the engine's rule IDs and for requirement checks (SARIF rules, HTML and Markdown legends)."""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    name: str
    summary: str
    help: str


RULES: dict[str, Rule] = {
    "TP001": Rule(
        "local-uneven-pod-load",
        "externalTrafficPolicy: Local splits traffic per node, so Pods on busy nodes get more",
        "With externalTrafficPolicy: Local the load balancer splits traffic per node and each node's Pods share "
        "that node's part. Place Pods in proportion to each node's share (the finding names the counts), or use "
        "externalTrafficPolicy: Cluster if the client IP is not needed.",
    ),
    "TP002": Rule(
        "local-drop-during-detection",
        "externalTrafficPolicy: Local drops traffic sent to nodes without a Ready Pod",
        "Nodes without a Ready Pod DROP new connections under Local until the load balancer's health check on "
        "healthCheckNodePort removes them. Health-check the nodes and keep the detection time short.",
    ),
    "TP003": Rule(
        "l2-single-leader",
        "MetalLB L2 mode sends every new connection to one node",
        "In L2 mode one announcing node receives all traffic. Use BGP mode (ECMP over nodes) or "
        "externalTrafficPolicy: Cluster.",
    ),
    "TP004": Rule(
        "client-ip-lost-under-cluster",
        "The client IP is required but the Pods see a node or load-balancer address",
        "externalTrafficPolicy: Cluster masquerades external traffic; proxying load balancers replace the source "
        "address. Use Local, a passthrough load balancer, or PROXY protocol.",
    ),
    "TP005": Rule(
        "affinity-behind-proxy-or-nat",
        "sessionAffinity: ClientIP keyed on few source addresses pins everyone to few Pods",
        "Behind a proxying load balancer or NAT, ClientIP affinity sees one or few addresses. Use application "
        "sessions, or pass the client IP through.",
    ),
    "TP006": Rule(
        "affinity-no-effect-headless-or-externalname",
        "sessionAffinity has no effect on a headless or ExternalName Service",
        "kube-proxy skips Services without a ClusterIP and ExternalName Services; remove sessionAffinity.",
    ),
    "TP007": Rule(
        "itp-local-drops-callers",
        "internalTrafficPolicy: Local drops callers on nodes without an endpoint",
        "Run a Pod on every node with callers, or use trafficDistribution: PreferSameNode, which falls back "
        "instead of dropping.",
    ),
    "TP008": Rule(
        "hints-disabled",
        "Topology hints are requested but a safeguard disables them",
        "Give every zone Ready endpoints (at least as many endpoints as zones) and zone labels on every node.",
    ),
    "TP009": Rule(
        "ipvs-affinity-caveats",
        "IPVS mode: persistence per virtual server, round robin per node; deprecated",
        "Move kube-proxy to nftables mode.",
    ),
    "TP010": Rule(
        "xt-recent-limit",
        "iptables ClientIP affinity loses stickiness beyond 100 clients per endpoint per node",
        "iptables keeps affinity in xt_recent lists of 100 entries; use nftables mode or application sessions.",
    ),
    "TP011": Rule(
        "affinity-timeout-range",
        "timeoutSeconds above the 10800 s default",
        "Valid up to 86400 s; the window restarts with each new connection.",
    ),
    "TP012": Rule(
        "no-endpoints-reject",
        "No usable endpoint: kube-proxy rejects every connection",
        "Run at least one Ready Pod matching the selector.",
    ),
    "TP013": Rule(
        "nodeport-local-no-health-check",
        "NodePort with externalTrafficPolicy: Local has no healthCheckNodePort",
        "Use type: LoadBalancer, or health-check the NodePort from the front end.",
    ),
    "TP014": Rule(
        "random-not-round-robin",
        "iptables/nftables pick endpoints at random per connection",
        "At low rates short windows look uneven; keep-alive connections pin all their requests.",
    ),
}

REQUIREMENTS: dict[str, str] = {
    "clientIPRequired": "Pods must see the client's own IP address on the main entry path",
    "maxHottestPodRatio": "The hottest Pod's load over the mean Pod load must stay at or below the limit",
    "maxDroppedFraction": "The fraction of connections dropped must stay at or below the limit",
    "maxExtraHopFraction": "The fraction of connections forwarded to another node must stay at or below the limit",
    "maxAffinityHottestShare": "Under session affinity, the p99 hottest-Pod share must stay at or below the limit",
    "podCapacityConnectionsPerSecond": "The hottest Pod's connections per second must fit one Pod's capacity",
}


def rule_for(rule_id: str, name: str = "", message: str = "") -> Rule:
    """The rule's help; an ID this version does not know gets its name and message."""
    return RULES.get(rule_id) or Rule(name or rule_id, message or rule_id, message or rule_id)


def requirement_rule_id(requirement: str) -> str:
    return f"requirement/{requirement}"


__all__ = ["REQUIREMENTS", "RULES", "Rule", "requirement_rule_id", "rule_for"]
