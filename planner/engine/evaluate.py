"""Evaluate one Service under its current policy and every applicable alternative.

Public entry points: :func:`evaluate_plan` (documents) and :func:`evaluate_input` (an :class:`EngineInput`),
plus :func:`compare` for what-if diffs.
"""

from __future__ import annotations

from itertools import product
from typing import Literal

import msgspec
import numpy as np

from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.traffic import LoadBalancer
from planner.engine.affinity import AffinitySkew, affinity_skew
from planner.engine.external import detection_seconds, entry_shares, external_flow, leader_index
from planner.engine.findings import findings_for, verdict_for
from planner.engine.flow import Flow, PodGroups, dispatch, pod_groups
from planner.engine.inputs import EngineInput, TrafficPolicy
from planner.engine.internal import caller_shares
from planner.engine.metrics import BoolArray, FloatArray, IntArray
from planner.engine.resolve import build_input
from planner.engine.results import (
    ClientIpVisibility,
    Evaluation,
    FailureOutcome,
    NodeTable,
    PathSummary,
    PolicyKey,
    PolicyResult,
    PolicySummary,
    TopologyOutcome,
    TopologySource,
)
from planner.engine.routing import CandidateRouting, Topology, cluster_routing, local_routing
from planner.engine.topology_auto import AutoHints, auto_hints

AFFINITY_SAMPLES = 200
"""Monte Carlo draws of the client population per affinity estimate."""

EntryPathName = Literal["LoadBalancer", "NodePort", "ExternalIP"]


def _hint_source(topology: TopologySource) -> Topology:
    if topology in ("PreferClose", "PreferSameZone"):
        return "PreferSameZone"
    if topology == "PreferSameNode":
        return "PreferSameNode"
    if topology == "Auto":
        return "Auto"
    return "none"


def current_policy(inp: EngineInput) -> PolicyKey:
    policy = inp.policy
    topology: TopologySource = "none"
    if policy.topology_auto:
        topology = "Auto"
    elif policy.traffic_distribution is not None:
        topology = policy.traffic_distribution
    return PolicyKey(
        external_traffic_policy=policy.external_traffic_policy,
        internal_traffic_policy=policy.internal_traffic_policy,
        session_affinity=policy.session_affinity,
        topology=topology,
    )


def topology_options(kubernetes_minor: int) -> list[TopologySource]:
    """``trafficDistribution`` values the cluster accepts (PreferClose 1.30+, PreferSame* on by default from 1.34)."""
    options: list[TopologySource] = ["none"]
    if kubernetes_minor >= 34:
        options += ["PreferSameZone", "PreferSameNode"]
    elif kubernetes_minor >= 30:
        options.append("PreferClose")
    options.append("Auto")
    return options


def policy_matrix(inp: EngineInput) -> list[PolicyKey]:
    """The current policy first, then every applicable alternative (none for headless/ExternalName Services)."""
    current = current_policy(inp)
    if not inp.policy.proxied:
        return [current]
    etps: list[TrafficPolicy | None] = ["Cluster", "Local"] if inp.policy.externally_accessible else [None]
    itps: list[TrafficPolicy | None] = ["Cluster", "Local"] if inp.policy.internal_traffic_policy else [None]
    keys = [current]
    for etp, itp, affinity, topology in product(
        etps, itps, ("None", "ClientIP"), topology_options(inp.kubernetes_minor)
    ):
        key = PolicyKey(
            external_traffic_policy=etp,
            internal_traffic_policy=itp,
            session_affinity=affinity,  # type: ignore[arg-type]
            topology=topology,
        )
        if key != current:
            keys.append(key)
    return keys


class _State(msgspec.Struct, frozen=True, kw_only=True):
    """Endpoints and node health the flows are computed from (the input's, or after a failure)."""

    tag: object
    """Cache key: ``"base"`` for the input's own state, ``("down", n)`` after node ``n`` fails."""
    ready: IntArray
    terminating: IntArray
    node_up: BoolArray


class _Path(msgspec.Struct, frozen=True, kw_only=True):
    """One traffic path (external or internal) of one policy, in connections per second."""

    flow: Flow
    groups: PodGroups
    offered: float
    requests_per_connection: float


class _Computed(msgspec.Struct, frozen=True, kw_only=True):
    flow: Flow
    groups: PodGroups
    requests_per_pod: FloatArray
    offered: float
    external: _Path | None = None
    internal: _Path | None = None


class _Evaluator:
    """Caches the pieces policies share (routings, LB inflow, unit flows), so the full matrix stays cheap."""

    def __init__(self, inp: EngineInput) -> None:
        self.inp = inp
        traffic = inp.traffic
        self.lb = traffic.external.load_balancer if traffic.external else LoadBalancer()
        ext_rate = traffic.external.connections_per_second if traffic.external else 0.0
        int_rate = traffic.internal.connections_per_second if traffic.internal else 0.0
        self.rates_given = ext_rate + int_rate > 0
        if not self.rates_given:
            # Shares only: one connection per second on the path the Service is for.
            if traffic.external is not None or (traffic.internal is None and inp.policy.externally_accessible):
                ext_rate = 1.0
            else:
                int_rate = 1.0
        self.ext_rate = float(ext_rate) if inp.policy.externally_accessible else 0.0
        self.int_rate = float(int_rate)
        self.ext_rpc = traffic.external.requests_per_connection if traffic.external else 1.0
        self.int_rpc = traffic.internal.requests_per_connection if traffic.internal else 1.0
        self.state = _State(tag="base", ready=inp.ready, terminating=inp.terminating, node_up=inp.node_up)
        self.leader = leader_index(inp, self.lb)
        self._routing: dict[tuple[object, str, str], CandidateRouting] = {}
        self._auto: dict[object, AutoHints] = {}
        self._computed: dict[tuple[object, ...], _Computed] = {}
        self._down: dict[int, _State] = {}
        self._callers: FloatArray | None = None
        self._affinity: dict[tuple[object, ...], AffinitySkew] = {}

    # --- shared pieces ------------------------------------------------------------------------------------------

    def auto(self, state: _State) -> AutoHints:
        inp = self.inp
        if state.tag in self._auto:
            return self._auto[state.tag]
        hints = auto_hints(
            inp.zone,
            inp.cpu_milli,
            state.node_up,
            inp.control_plane,
            state.ready,
            inp.zone_count,
        )
        self._auto[state.tag] = hints
        return hints

    def routing(self, policy: TrafficPolicy, topology: TopologySource, state: _State) -> CandidateRouting:
        source = _hint_source(topology) if policy == "Cluster" else "none"
        key = (state.tag, policy, source)
        if key in self._routing:
            return self._routing[key]
        inp = self.inp
        if policy == "Local":
            routing = local_routing(state.ready, state.terminating, inp.zone)
        else:
            auto_weights = None
            if source == "Auto":
                hints = self.auto(state)
                auto_weights = hints.zone_weights if hints.engaged else None
            routing = cluster_routing(
                state.ready,
                state.terminating,
                inp.zone,
                inp.zone_count,
                topology=source,
                node_hints_enabled=inp.node_hints_enabled,
                auto_zone_weights=auto_weights,
            )
        self._routing[key] = routing
        return routing

    def callers(self) -> FloatArray:
        if self._callers is None:
            inp = self.inp
            callers = inp.traffic.internal.callers if inp.traffic.internal else None
            if callers is None:
                up = inp.node_up.astype(np.float64)
                self._callers = up / up.sum() if up.sum() > 0 else up
            else:
                self._callers = caller_shares(callers, inp.node_names, inp.zone, inp.zone_names, inp.node_up)
        return self._callers

    def down(self, node: int) -> _State:
        """The input's state after ``node`` fails: not up, its Pods gone."""
        if node not in self._down:
            ready = self.inp.ready.copy()
            terminating = self.inp.terminating.copy()
            node_up = self.inp.node_up.copy()
            ready[node] = terminating[node] = 0
            node_up[node] = False
            self._down[node] = _State(tag=("down", node), ready=ready, terminating=terminating, node_up=node_up)
        return self._down[node]

    def ext_inflow(self, policy: TrafficPolicy, state: _State) -> FloatArray:
        return entry_shares(self.lb, policy, state.ready, state.node_up, self.inp.zone, leader=self.leader)

    def compute(self, key: PolicyKey, state: _State) -> _Computed:
        """Combined external + internal flow of one policy, in connections per second."""
        inp = self.inp
        ext_source = _hint_source(key.topology) if key.external_traffic_policy == "Cluster" else "none"
        int_source = _hint_source(key.topology) if key.internal_traffic_policy == "Cluster" else "none"
        cache_key = (state.tag, key.external_traffic_policy, ext_source, key.internal_traffic_policy, int_source)
        if cache_key in self._computed:
            return self._computed[cache_key]
        nodes = inp.node_count
        zero = np.zeros(nodes, dtype=np.float64)
        flow = Flow(
            received=zero, forwarded=zero, served_locally=zero, dropped=zero, ready_load=zero, terminating_load=zero
        )
        offered = 0.0
        ext_per_pod = int_per_pod = None
        ext_path = int_path = None
        if not inp.policy.proxied:
            # Headless: clients connect to Pod IPs from DNS; ExternalName: no endpoints. No kube-proxy either way.
            served = state.ready.astype(np.float64)
            total = served.sum()
            rate = self.ext_rate + self.int_rate
            share = served / total if total > 0 else zero
            flow = Flow(
                received=share * rate,
                forwarded=zero,
                served_locally=share * rate,
                dropped=zero,
                ready_load=share * rate,
                terminating_load=zero,
            )
            offered = rate if total > 0 else 0.0
        else:
            if self.ext_rate > 0 and key.external_traffic_policy is not None:
                etp = key.external_traffic_policy
                unit = external_flow(self.ext_inflow(etp, state), self.routing(etp, key.topology, state), self.lb)
                scaled = unit.scaled(self.ext_rate)
                flow = flow.plus(scaled)
                ext_per_pod = pod_groups(unit, state.ready, state.terminating).per_pod
                offered += self.ext_rate
                ext_path = _Path(
                    flow=scaled,
                    groups=pod_groups(scaled, state.ready, state.terminating),
                    offered=self.ext_rate,
                    requests_per_connection=self.ext_rpc,
                )
            if self.int_rate > 0 and key.internal_traffic_policy is not None:
                itp = key.internal_traffic_policy
                callers = np.where(state.node_up, self.callers(), 0.0)
                total_callers = callers.sum()
                if total_callers > 0:
                    unit = dispatch(callers / total_callers, self.routing(itp, key.topology, state))
                    scaled = unit.scaled(self.int_rate)
                    flow = flow.plus(scaled)
                    int_per_pod = pod_groups(unit, state.ready, state.terminating).per_pod
                    offered += self.int_rate
                    int_path = _Path(
                        flow=scaled,
                        groups=pod_groups(scaled, state.ready, state.terminating),
                        offered=self.int_rate,
                        requests_per_connection=self.int_rpc,
                    )
        groups = pod_groups(flow, state.ready, state.terminating)
        requests = np.zeros_like(groups.per_pod)
        if ext_per_pod is not None:
            requests += ext_per_pod * self.ext_rate * self.ext_rpc
        if int_per_pod is not None:
            requests += int_per_pod * self.int_rate * self.int_rpc
        if ext_per_pod is None and int_per_pod is None:
            requests = groups.per_pod * max(self.ext_rpc, self.int_rpc)
        computed = _Computed(
            flow=flow,
            groups=groups,
            requests_per_pod=requests,
            offered=offered,
            external=ext_path,
            internal=int_path,
        )
        self._computed[cache_key] = computed
        return computed

    # --- per policy ---------------------------------------------------------------------------------------------

    def summary(self, key: PolicyKey, computed: _Computed) -> PolicySummary:
        flow, groups = computed.flow, computed.groups
        served = flow.total_served
        offered = computed.offered
        dropped = max(offered - served, 0.0)
        pods = int(groups.pods.sum())
        hottest = groups.hottest()
        hottest_index = int(np.argmax(np.where(groups.pods > 0, groups.per_pod, -1.0))) if pods else 0
        visibility = self.client_ip(key, flow)
        main = self.main_visibility(visibility)
        rejected = served == 0 and int(self.state.ready.sum() + self.state.terminating.sum()) == 0
        return PolicySummary(
            hottest_pod_ratio=groups.hottest_ratio(),
            coefficient_of_variation=groups.cv(),
            dropped_fraction=dropped / offered if offered > 0 else 0.0,
            rejected=rejected,
            extra_hop_fraction=flow.extra_hop_fraction(),
            client_ip_visible_fraction=main,
            client_ip=visibility,
            offered_connections_per_second=offered,
            served_connections_per_second=served,
            dropped_connections_per_second=dropped,
            mean_pod_connections_per_second=served / pods if pods else 0.0,
            hottest_pod_connections_per_second=hottest,
            hottest_pod_requests_per_second=float(computed.requests_per_pod[hottest_index]) if pods else 0.0,
            hottest_pod_share=hottest / offered if offered > 0 else 0.0,
            external=self.path_summary(computed.external, self.external_visibility(visibility)),
            internal=self.path_summary(computed.internal, visibility.in_cluster_cluster_ip),
        )

    @staticmethod
    def path_summary(path: _Path | None, visible: float | None) -> PathSummary | None:
        if path is None:
            return None
        flow, groups, offered = path.flow, path.groups, path.offered
        served = flow.total_served
        dropped = max(offered - served, 0.0)
        pods = int(groups.pods.sum())
        present = groups.pods > 0
        hottest = groups.hottest()
        coldest = float(groups.per_pod[present].min()) if pods else 0.0
        return PathSummary(
            hottest_pod_ratio=groups.hottest_ratio(),
            coefficient_of_variation=groups.cv(),
            dropped_fraction=dropped / offered if offered > 0 else 0.0,
            extra_hop_fraction=flow.extra_hop_fraction(),
            client_ip_visible_fraction=visible,
            offered_connections_per_second=offered,
            served_connections_per_second=served,
            dropped_connections_per_second=dropped,
            mean_pod_connections_per_second=served / pods if pods else 0.0,
            hottest_pod_connections_per_second=hottest,
            hottest_pod_requests_per_second=hottest * path.requests_per_connection,
            hottest_pod_share=hottest / offered if offered > 0 else 0.0,
            mean_pod_share=served / pods / offered if pods and offered > 0 else 0.0,
            coldest_pod_share=coldest / offered if offered > 0 else 0.0,
        )

    def entry_path(self) -> EntryPathName:
        traffic = self.inp.traffic
        if traffic.external is not None and traffic.external.entry is not None:
            return traffic.external.entry
        service_type = self.inp.policy.type
        if service_type == "LoadBalancer":
            return "LoadBalancer"
        return "NodePort" if service_type == "NodePort" else "ExternalIP"

    def client_ip(self, key: PolicyKey, flow: Flow) -> ClientIpVisibility:
        """traffic-semantics.md section 8, client-IP visibility matrix (plus Cilium and PROXY protocol)."""
        policy = self.inp.policy
        lb = self.lb
        data_plane = self.inp.traffic.data_plane
        served_here = 1.0 - flow.extra_hop_fraction()

        def at_node(etp: TrafficPolicy | None) -> float:
            if etp == "Local" or data_plane == "ciliumDSR":
                return 1.0
            if data_plane == "ciliumSNAT":
                return served_here  # Cilium SNATs only when the backend is on another node
            return 0.0  # kube-proxy masquerades all external traffic under Cluster, local endpoint or not

        etp = key.external_traffic_policy
        if not policy.proxied:
            return ClientIpVisibility(
                load_balancer=None,
                node_port=None,
                external_ip=None,
                in_cluster_cluster_ip=1.0 if policy.type != "ExternalName" else None,
                in_cluster_load_balancer_ip=None,
                in_proxy_protocol_header=False,
            )
        load_balancer: float | None = None
        if policy.type == "LoadBalancer":
            if lb.model == "ipTargets":
                load_balancer = 1.0 if lb.preserve_client_ip and lb.client_ip == "passthrough" else 0.0
            elif lb.client_ip != "passthrough":
                load_balancer = 0.0
            else:
                load_balancer = at_node(etp)
        has_lb_ip = policy.type == "LoadBalancer" or policy.external_ips > 0
        return ClientIpVisibility(
            load_balancer=load_balancer,
            node_port=at_node(etp) if policy.type in ("NodePort", "LoadBalancer") else None,
            external_ip=at_node(etp) if policy.external_ips > 0 else None,
            in_cluster_cluster_ip=1.0,
            # In-cluster traffic to the LB IP is captured on the caller's node with Cluster semantics and no SNAT,
            # unless ipMode is Proxy: then it really leaves for the LB and arrives from a node address.
            in_cluster_load_balancer_ip=(0.0 if policy.lb_ip_mode_proxy else 1.0) if has_lb_ip else None,
            in_proxy_protocol_header=self.inp.traffic.external is not None and lb.client_ip == "proxyProtocol",
        )

    def external_visibility(self, visibility: ClientIpVisibility) -> float | None:
        """Client-IP visibility on the profile's external entry path."""
        path = self.entry_path()
        if path == "LoadBalancer":
            return visibility.load_balancer
        return visibility.node_port if path == "NodePort" else visibility.external_ip

    def main_visibility(self, visibility: ClientIpVisibility) -> float | None:
        if self.ext_rate > 0:
            return self.external_visibility(visibility)
        return visibility.in_cluster_cluster_ip

    def topology(self, key: PolicyKey) -> TopologyOutcome:
        inp = self.inp
        source = key.topology
        cluster_paths = [
            p
            for p, used in (
                (key.external_traffic_policy, self.ext_rate > 0),
                (key.internal_traffic_policy, self.int_rate > 0),
            )
            if used and p == "Cluster"
        ]
        safeguard: str | None = None
        if source == "none":
            return TopologyOutcome(
                source=source, engaged=False, engaged_node_fraction=0.0, safeguard=None, message="no topology hints"
            )
        if not inp.policy.proxied:
            message = "kube-proxy does not handle headless or ExternalName Services"
            return TopologyOutcome(
                source=source, engaged=False, engaged_node_fraction=0.0, safeguard=None, message=message
            )
        routing = self.routing("Cluster", source, self.state)
        up = inp.node_up
        fraction = float(routing.topology_engaged[up].mean()) if up.any() else 0.0
        if source == "Auto":
            hints = self.auto(self.state)
            safeguard = hints.reason
            message = hints.message
        elif fraction == 0.0:
            if int(inp.ready[inp.zone < 0].sum()) > 0:
                message = (
                    "an endpoint's node has no zone label, so no endpoint gets a zone hint and kube-proxy ignores hints"
                )
            else:
                message = "no node that receives traffic has a Ready endpoint in its zone"
        else:
            message = f"hints narrow the endpoint choice on {fraction:.0%} of up nodes"
        if not cluster_paths:
            message = "Local traffic policies ignore topology hints; " + message
        return TopologyOutcome(
            source=source,
            engaged=bool(cluster_paths) and fraction > 0,
            engaged_node_fraction=fraction,
            safeguard=safeguard,
            message=message,
        )

    def failure(self, key: PolicyKey) -> FailureOutcome | None:
        inp = self.inp
        etp = key.external_traffic_policy
        if etp is None or self.ext_rate <= 0 or not inp.policy.proxied:
            return None
        with_pods = (inp.ready + inp.terminating) > 0
        if not with_pods.any():
            return None
        inflow = self.ext_inflow(etp, self.state)
        if self.lb.model == "ipTargets":
            health_checked = True  # the LB health-checks the Pod targets themselves
        elif self.lb.model == "l2Leader":
            health_checked = True  # MetalLB moves the announcement when the leader's endpoints go
        else:
            health_checked = self.lb.health_check
        node = int(np.argmax(np.where(with_pods, inflow, -1.0)))
        detect = detection_seconds(self.lb, etp) if health_checked else None
        lost_per_second = self.ext_rate * float(inflow[node])
        survivors = self.compute(key, self.down(node))
        survivor_summary_offered = survivors.offered
        survivors_dropped = (
            max(survivor_summary_offered - survivors.flow.total_served, 0.0) / survivor_summary_offered
            if survivor_summary_offered > 0
            else 0.0
        )
        local_health = etp == "Local" and self.lb.model in ("nodeEqual", "podWeighted")
        drain_served = lost_per_second * (detect or 0.0) if local_health and health_checked else 0.0
        drain_dropped = lost_per_second if local_health and not health_checked else 0.0
        return FailureOutcome(
            node=inp.node_names[node],
            detection_seconds=detect,
            lost_connections_per_second_until_detected=lost_per_second,
            connections_lost_during_detection=lost_per_second * detect if detect is not None else None,
            survivors_hottest_pod_ratio=survivors.groups.hottest_ratio(),
            survivors_dropped_fraction=survivors_dropped,
            drain_connections_served_by_terminating=drain_served,
            drain_dropped_connections_per_second=drain_dropped,
        )

    def affinity(self, key: PolicyKey) -> AffinitySkew | None:
        inp = self.inp
        if key.session_affinity != "ClientIP" or not inp.policy.proxied:
            return None
        external = self.ext_rate > 0 and key.external_traffic_policy is not None
        if external and self.lb.model == "ipTargets":
            return None  # kube-proxy is bypassed; its affinity never runs
        policy = key.external_traffic_policy if external else key.internal_traffic_policy
        if policy is None or int(self.state.ready.sum() + self.state.terminating.sum()) == 0:
            return None
        routing = self.routing(policy, key.topology, self.state)
        entry = self.ext_inflow(policy, self.state) if external else self.callers()
        cache_key = (external, policy, _hint_source(key.topology) if policy == "Cluster" else "none")
        if cache_key not in self._affinity:
            lb = self.lb
            sticky = lb.client_affinity if lb.client_affinity is not None else True
            self._affinity[cache_key] = affinity_skew(
                entry,
                routing,
                clients=inp.traffic.clients,
                timeout_seconds=inp.policy.timeout_seconds or 10800,
                lb_client_sticky=bool(sticky) if external else True,
                lb_proxying=external and lb.client_ip != "passthrough",
                seed=inp.traffic.seed,
                samples=AFFINITY_SAMPLES,
            )
        return self._affinity[cache_key]

    def nodes(self, key: PolicyKey, computed: _Computed) -> NodeTable:
        inp = self.inp
        flow = computed.flow
        served = flow.ready_load + flow.terminating_load
        per_pod = np.divide(flow.ready_load, inp.ready, out=np.zeros_like(flow.ready_load), where=inp.ready > 0)
        per_terminating = np.divide(
            flow.terminating_load, inp.terminating, out=np.zeros_like(flow.terminating_load), where=inp.terminating > 0
        )
        etp = key.external_traffic_policy
        inflow = self.ext_inflow(etp, self.state) if etp is not None and self.ext_rate > 0 else None
        lost = inflow * self.ext_rate if inflow is not None else np.zeros(inp.node_count)
        zones = [inp.zone_names[z] if z >= 0 else None for z in inp.zone.tolist()]
        offered = computed.offered

        def path_per_pod(path: _Path | None) -> list[float]:
            if path is None:
                return []
            load = path.flow.ready_load
            per: FloatArray = np.divide(load, inp.ready, out=np.zeros_like(load), where=inp.ready > 0)
            return [float(x) for x in per]

        return NodeTable(
            names=list(inp.node_names),
            zones=zones,
            up=inp.node_up.tolist(),
            ready_pods=inp.ready.tolist(),
            terminating_pods=inp.terminating.tolist(),
            received_connections_per_second=flow.received.tolist(),
            forwarded_connections_per_second=flow.forwarded.tolist(),
            served_locally_connections_per_second=flow.served_locally.tolist(),
            dropped_connections_per_second=flow.dropped.tolist(),
            served_connections_per_second=served.tolist(),
            per_pod_connections_per_second=per_pod.tolist(),
            terminating_per_pod_connections_per_second=per_terminating.tolist(),
            per_pod_share=(per_pod / offered if offered > 0 else per_pod * 0).tolist(),
            failure_loss_connections_per_second=lost.tolist(),
            external_per_pod_connections_per_second=path_per_pod(computed.external),
            internal_per_pod_connections_per_second=path_per_pod(computed.internal),
        )

    def result(self, key: PolicyKey, *, current: bool) -> PolicyResult:
        computed = self.compute(key, self.state)
        return PolicyResult(
            policy=key,
            current=current,
            summary=self.summary(key, computed),
            topology=self.topology(key),
            failure=self.failure(key),
            affinity=self.affinity(key),
            nodes=self.nodes(key, computed) if current else None,
        )


def evaluate_input(inp: EngineInput) -> Evaluation:
    """Evaluate the current policy and every alternative; findings and verdict for the current one."""
    evaluator = _Evaluator(inp)
    keys = policy_matrix(inp)
    results = [evaluator.result(key, current=i == 0) for i, key in enumerate(keys)]
    current = results[0]
    checks, failures = verdict_for(inp.requirements, current)
    findings = findings_for(inp, results, rates_given=evaluator.rates_given)
    verdict: Literal["pass", "fail"] = "fail" if failures else "pass"
    return Evaluation(
        service=inp.service_name,
        kubernetes_version=f"1.{inp.kubernetes_minor}",
        verdict=verdict,
        checks=checks,
        failures=failures,
        current=current.policy,
        policies=results,
        findings=findings,
        summary=_summary_text(inp, results, verdict, failures, rates_given=evaluator.rates_given),
    )


def evaluate_plan(cluster: Cluster, plan: ServicePlan, *, scenario: Scenario | None = None) -> Evaluation:
    """Evaluate a ServicePlan on a Cluster, after applying the Scenario's changes (if any).

    Raises:
        InvalidDocument: malformed Service or references to unknown nodes, zones or fields (with field paths).
    """
    return evaluate_input(build_input(cluster, plan, scenario=scenario))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _line(summary: PolicySummary) -> str:
    return (
        f"hottest Pod {summary.hottest_pod_ratio:.2f}x mean, dropped {_pct(summary.dropped_fraction)}, "
        f"extra hop {_pct(summary.extra_hop_fraction)}, client IP {_pct(summary.client_ip_visible_fraction)}"
    )


def _summary_text(
    inp: EngineInput, results: list[PolicyResult], verdict: str, failures: list[str], *, rates_given: bool
) -> str:
    current = results[0]
    lines = [f"{inp.service_name} ({current.policy.label}): {_line(current.summary)}."]
    if not rates_given:
        lines.append("No traffic rate given: shares are computed for 1 connection/s.")
    better = [
        r
        for r in results[1:]
        if r.summary.dropped_fraction <= current.summary.dropped_fraction
        and r.summary.hottest_pod_ratio < current.summary.hottest_pod_ratio - 1e-9
    ]
    if better:
        best = min(better, key=lambda r: (r.summary.hottest_pod_ratio, r.summary.extra_hop_fraction))
        lines.append(f"More even: {best.policy.label}: {_line(best.summary)}.")
    lines.append(f"Verdict: {verdict}" + (f" ({'; '.join(failures)})." if failures else "."))
    return " ".join(lines)


def compare(base: Evaluation, other: Evaluation) -> list[str]:
    """Human diff lines between two evaluations' current policies (e.g. a scenario against its base)."""
    a, b = base.policies[0].summary, other.policies[0].summary
    lines: list[str] = []

    def ratio(name: str, x: float, y: float) -> None:
        if abs(x - y) > 1e-9:
            lines.append(f"{name} {x:.2f}x -> {y:.2f}x mean")

    def pct(name: str, x: float | None, y: float | None) -> None:
        if x != y and (x is None or y is None or abs(x - y) > 1e-9):
            lines.append(f"{name} {_pct(x)} -> {_pct(y)}")

    ratio("hottest Pod", a.hottest_pod_ratio, b.hottest_pod_ratio)
    pct("dropped", a.dropped_fraction, b.dropped_fraction)
    pct("extra hop", a.extra_hop_fraction, b.extra_hop_fraction)
    pct("client IP", a.client_ip_visible_fraction, b.client_ip_visible_fraction)
    if abs(a.hottest_pod_connections_per_second - b.hottest_pod_connections_per_second) > 1e-9:
        lines.append(
            f"hottest Pod {a.hottest_pod_connections_per_second:.1f} -> "
            f"{b.hottest_pod_connections_per_second:.1f} connections/s"
        )
    if base.verdict != other.verdict:
        lines.append(f"verdict {base.verdict} -> {other.verdict}")
    if base.current != other.current:
        lines.append(f"policy {base.current.label} -> {other.current.label}")
    return lines


__all__ = ["compare", "current_policy", "evaluate_input", "evaluate_plan", "policy_matrix", "topology_options"]
