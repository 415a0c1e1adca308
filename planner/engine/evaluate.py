"""Evaluate one Service under its current policy and every applicable alternative.

Public entry points: :func:`evaluate_plan` (documents) and :func:`evaluate_input` (an :class:`EngineInput`),
plus :func:`compare` for what-if diffs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Literal, NamedTuple

import msgspec
import numpy as np

from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.traffic import LoadBalancer
from planner.engine.affinity import AffinityMemo, AffinitySkew, StickyEstimate, affinity_skew, sticky_affinity_skews
from planner.engine.classes import node_classes
from planner.engine.external import detection_seconds, entry_shares, leader_index
from planner.engine.findings import findings_for, verdict_for
from planner.engine.flow import (
    FLOW_FIELDS,
    Flow,
    FlowRows,
    PodGroupRows,
    PodGroups,
    dispatch_rows,
    pod_group_rows,
)
from planner.engine.inputs import EngineInput, TrafficPolicy
from planner.engine.internal import caller_shares
from planner.engine.metrics import (
    BoolArray,
    FloatArray,
    IntArray,
    PodLoadRows,
    PodLoadStats,
    extra_hop_fraction,
)
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
from planner.engine.routing import CandidateRouting, Topology, cluster_routing, direct_routing, local_routing
from planner.engine.topology_auto import AutoHints, auto_hints

AFFINITY_SAMPLES = 200
"""Monte Carlo draws of the client population per affinity estimate of the current policy."""
ALTERNATIVE_SAMPLES_DIVISOR = 4
"""Alternatives in the matrix draw ``AFFINITY_SAMPLES // ALTERNATIVE_SAMPLES_DIVISOR`` samples (stated in each
result's ``affinity.samples``), unless they share the current policy's routing and reuse its estimate."""

EntryPathName = Literal["LoadBalancer", "NodePort", "ExternalIP"]


def _load_numbers(offered: float, served: float, stats: PodLoadStats) -> dict[str, float]:
    """The load figures a policy summary and a path summary share, from offered and served connections per second
    and the Pods' load statistics."""
    dropped = max(offered - served, 0.0)
    return {
        "hottest_pod_ratio": stats.hottest_ratio,
        "coefficient_of_variation": stats.cv,
        "dropped_fraction": dropped / offered if offered > 0 else 0.0,
        "offered_connections_per_second": offered,
        "served_connections_per_second": served,
        "dropped_connections_per_second": dropped,
        "mean_pod_connections_per_second": served / stats.pods if stats.pods else 0.0,
        "hottest_pod_connections_per_second": stats.hottest,
        "hottest_pod_share": stats.hottest / offered if offered > 0 else 0.0,
    }


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
    """Endpoints and node health the flows are computed from (the input's, or after a failure), per node class."""

    tag: object
    """Cache key: ``"base"`` for the input's own state, ``("down", c)`` after the node of class ``c`` fails."""
    ready: IntArray
    terminating: IntArray
    node_up: BoolArray
    has_pods: bool
    """Some Pod is Ready or serving-terminating (:func:`_state` sets it)."""


def _state(tag: object, ready: IntArray, terminating: IntArray, node_up: BoolArray) -> _State:
    has_pods = int(ready.sum() + terminating.sum()) > 0
    return _State(tag=tag, ready=ready, terminating=terminating, node_up=node_up, has_pods=has_pods)


class _FlowBatch:
    """Flows of one state computed together (traffic paths, or policies' combined flows); their per-Pod groups and
    statistics are built on first use, for every row at once."""

    def __init__(self, unit: FlowRows | None, flows: FlowRows, state: _State) -> None:
        self.unit = unit
        """Each path for one new connection per second in all (affinity reads its routing mixture); None for
        combined flows."""
        self.flows = flows
        self.state = state
        self._groups: PodGroupRows | None = None
        self._stats: PodLoadRows | None = None

    @property
    def groups(self) -> PodGroupRows:
        if self._groups is None:
            self._groups = pod_group_rows(
                self.flows.ready_load, self.flows.terminating_load, self.state.ready, self.state.terminating
            )
        return self._groups

    @property
    def stats(self) -> PodLoadRows:
        if self._stats is None:
            self._stats = self.groups.stats()
        return self._stats


class _BatchRow(msgspec.Struct, frozen=True, kw_only=True):
    """Row ``index`` of a batch of flows, with its totals (connections per second)."""

    batch: _FlowBatch
    index: int
    served: float
    forwarded: float

    @property
    def flow(self) -> Flow:
        return self.batch.flows.row(self.index)

    @property
    def groups(self) -> PodGroups:
        return self.batch.groups.row(self.index)

    @property
    def stats(self) -> PodLoadStats:
        return self.batch.stats.row(self.index)

    @property
    def extra_hop_fraction(self) -> float:
        return extra_hop_fraction(self.forwarded, self.served)


class _Path(_BatchRow, frozen=True, kw_only=True):
    """One traffic path (external or internal) of one policy, in connections per second."""

    state: _State
    offered: float
    requests_per_connection: float
    key: tuple[object, ...]
    """Cache key of this path (its summary is computed once per path)."""

    @property
    def unit_flow(self) -> Flow:
        assert self.batch.unit is not None  # paths are batched with their unit flows
        return self.batch.unit.row(self.index)


class _Computed(_BatchRow, frozen=True, kw_only=True):
    """One policy's combined flow (row ``index`` of ``batch``), with the paths it combines."""

    offered: float
    external: _Path | None = None
    internal: _Path | None = None


ComputeKey = tuple[object, TrafficPolicy | None, Topology, TrafficPolicy | None, Topology]


class _AffinityInputs(NamedTuple):
    """What one ``sessionAffinity: ClientIP`` estimate depends on (see :func:`affinity_skew`)."""

    entry: FloatArray
    routing: CandidateRouting
    client_sticky: bool
    """The LB (or the caller's own node) keeps a source on one node."""
    proxying: bool
    unit_flow: Flow | None

    @property
    def one_decision_per_key(self) -> bool:
        return self.client_sticky and not self.proxying


class _Evaluator:
    """Computes on node classes (planner.engine.classes) and caches every piece policies share: routings, LB
    inflow, each traffic path's flow, combined flows, summaries, failure analyses, topology outcomes and affinity
    estimates. Policies that differ only in sessionAffinity share all but the affinity part."""

    def __init__(self, inp: EngineInput, *, affinity_samples: int = AFFINITY_SAMPLES) -> None:
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
        self.affinity_samples = affinity_samples
        self.proxied = inp.policy.proxied
        self.matrix = policy_matrix(inp)
        self._templates: dict[PolicyKey, tuple[object, ...]] = {}
        self._failed: dict[TrafficPolicy, int] = {}
        """The class whose failure is analysed, per externalTrafficPolicy (its node with the largest inflow)."""
        leader = leader_index(inp, self.lb)
        alone: list[int] = []
        if self.lb.model == "l2Leader":
            # The leader takes everything: it must be a class of its own (explicit, or the worst case under Cluster:
            # the first up node with the fewest Ready endpoints; under Local it has endpoints anyway).
            if leader is not None:
                alone.append(leader)
            up = np.flatnonzero(inp.node_up)
            if up.shape[0]:
                alone.append(int(up[np.argmin(inp.ready[up])]))
        self.classes = classes = node_classes(
            inp.zone,
            inp.node_up,
            inp.control_plane,
            inp.cpu_milli,
            inp.ready,
            inp.terminating,
            self._node_callers(),
            alone=alone,
        )
        self.mult = classes.count.astype(np.float64)
        self.leader = int(classes.class_of_node[leader]) if leader is not None else None
        self.state = _state("base", classes.ready, classes.terminating, classes.node_up)
        self._routing: dict[tuple[object, str, str], CandidateRouting] = {}
        self._auto: dict[object, AutoHints] = {}
        self._inflow: dict[tuple[object, str], FloatArray] = {}
        self._paths: dict[tuple[object, ...], _Path | None] = {}
        self._computed: dict[ComputeKey, _Computed] = {}
        self._summaries: dict[ComputeKey, PolicySummary] = {}
        self._path_summaries: dict[tuple[object, ...], PathSummary] = {}
        self._failures: dict[ComputeKey, FailureOutcome | None] = {}
        self._topologies: dict[tuple[object, ...], TopologyOutcome] = {}
        self._down: dict[int, _State] = {}
        self._affinity: dict[tuple[object, ...], AffinitySkew] = {}
        self._affinity_memo = AffinityMemo()
        self._affinity_requests: dict[PolicyKey, tuple[tuple[object, ...], _AffinityInputs] | None] = {}

    # --- shared pieces ------------------------------------------------------------------------------------------

    def _node_callers(self) -> FloatArray:
        inp = self.inp
        callers = inp.traffic.internal.callers if inp.traffic.internal else None
        if callers is None:
            up = inp.node_up.astype(np.float64)
            total = up.sum()
            return up / total if total > 0 else up
        return caller_shares(callers, inp.node_names, inp.zone, inp.zone_names, inp.node_up)

    def auto(self, state: _State) -> AutoHints:
        if state.tag in self._auto:
            return self._auto[state.tag]
        c = self.classes
        hints = auto_hints(
            c.zone,
            c.cpu_milli,
            state.node_up,
            c.control_plane,
            state.ready,
            self.inp.zone_count,
            node_count=c.count,
        )
        self._auto[state.tag] = hints
        return hints

    def routing(self, policy: TrafficPolicy, topology: TopologySource, state: _State) -> CandidateRouting:
        source = _hint_source(topology) if policy == "Cluster" else "none"
        key = (state.tag, policy, source)
        if key in self._routing:
            return self._routing[key]
        inp = self.inp
        zone = self.classes.zone
        if policy == "Local":
            routing = local_routing(state.ready, state.terminating, zone)
        else:
            auto_weights = None
            if source == "Auto":
                hints = self.auto(state)
                auto_weights = hints.zone_weights if hints.engaged else None
            routing = cluster_routing(
                state.ready,
                state.terminating,
                zone,
                inp.zone_count,
                topology=source,
                node_hints_enabled=inp.node_hints_enabled,
                auto_zone_weights=auto_weights,
            )
        self._routing[key] = routing
        return routing

    def down(self, cls: int) -> _State:
        """The input's state after the node of class ``cls`` (a class of one) fails: not up, its Pods gone."""
        if cls not in self._down:
            ready = self.state.ready.copy()
            terminating = self.state.terminating.copy()
            node_up = self.state.node_up.copy()
            ready[cls] = terminating[cls] = 0
            node_up[cls] = False
            self._down[cls] = _state(("down", cls), ready, terminating, node_up)
        return self._down[cls]

    def ext_inflow(self, policy: TrafficPolicy, state: _State) -> FloatArray:
        """Share of external connections entering each node of each class."""
        key = (state.tag, policy)
        if key not in self._inflow:
            self._inflow[key] = entry_shares(
                self.lb,
                policy,
                state.ready,
                state.node_up,
                self.classes.zone,
                leader=self.leader,
                multiplicity=self.mult,
            )
        return self._inflow[key]

    def _source(self, policy: TrafficPolicy | None, topology: TopologySource) -> Topology:
        return _hint_source(topology) if policy == "Cluster" else "none"

    def _template(self, key: PolicyKey) -> tuple[object, ...]:
        """What a policy's flows depend on besides the state: each path's policy and hint source."""
        found = self._templates.get(key)
        if found is None:
            etp, itp = key.external_traffic_policy, key.internal_traffic_policy
            found = self._templates[key] = (etp, self._source(etp, key.topology), itp, self._source(itp, key.topology))
        return found

    def compute_key(self, key: PolicyKey, state: _State) -> ComputeKey:
        """What a policy's flows depend on: the state, and each path's policy and hint source."""
        return (state.tag, *self._template(key))  # type: ignore[return-value]

    def _path_keys(self, key: PolicyKey, state: _State) -> tuple[tuple[object, ...] | None, tuple[object, ...] | None]:
        """Cache keys of the policy's external and internal path (None: the path carries nothing)."""
        etp, itp = key.external_traffic_policy, key.internal_traffic_policy
        ext = ("ext", state.tag, etp, self._source(etp, key.topology)) if self.ext_rate > 0 and etp else None
        internal = ("int", state.tag, itp, self._source(itp, key.topology)) if self.int_rate > 0 and itp else None
        return ext, internal

    def _prepare(self, state: _State, keys: list[PolicyKey]) -> None:
        """Every traffic path and combined flow of ``keys`` in ``state``, computed together (one row each)."""
        mult = self.mult
        # One policy per distinct pair of paths (the matrix repeats them for sessionAffinity, and hint sources
        # that Local paths ignore).
        keys = list({self._template(key): key for key in reversed(keys)}.values())
        path_keys: dict[tuple[object, ...], tuple[FloatArray, CandidateRouting, float, float]] = {}
        callers: FloatArray | None = None
        for key in keys:
            ext_key, int_key = self._path_keys(key, state)
            if ext_key is not None and ext_key not in path_keys and ext_key not in self._paths:
                etp = key.external_traffic_policy
                assert etp is not None
                inflow = self.ext_inflow(etp, state)
                routing = (
                    direct_routing(self.classes.zone)
                    if self.lb.model == "ipTargets"
                    else self.routing(etp, key.topology, state)
                )
                path_keys[ext_key] = (inflow, routing, self.ext_rate, self.ext_rpc)
            if int_key is not None and int_key not in path_keys and int_key not in self._paths:
                itp = key.internal_traffic_policy
                assert itp is not None
                if callers is None:
                    callers = np.where(state.node_up, self.classes.callers, 0.0)
                total_callers = float(callers @ mult)
                if total_callers > 0:
                    routing = self.routing(itp, key.topology, state)
                    path_keys[int_key] = (callers / total_callers, routing, self.int_rate, self.int_rpc)
                else:
                    self._paths[int_key] = None
        if path_keys:
            entries = list(path_keys.values())
            unit = dispatch_rows(np.stack([e[0] for e in entries]), [e[1] for e in entries], mult)
            flows = unit.scaled(np.array([e[2] for e in entries]))
            batch = _FlowBatch(unit, flows, state)
            served = flows.totals(flows.ready_load) + flows.totals(flows.terminating_load)
            forwarded = flows.totals(flows.forwarded)
            for i, (cache_key, entry) in enumerate(path_keys.items()):
                self._paths[cache_key] = _Path(
                    state=state,
                    offered=entry[2],
                    requests_per_connection=entry[3],
                    key=cache_key,
                    batch=batch,
                    index=i,
                    served=float(served[i]),
                    forwarded=float(forwarded[i]),
                )
        combos: dict[ComputeKey, tuple[_Path | None, _Path | None]] = {}
        for key in keys:
            cache_key = self.compute_key(key, state)
            if cache_key not in self._computed and cache_key not in combos:
                ext_key, int_key = self._path_keys(key, state)
                combos[cache_key] = (
                    self._paths[ext_key] if ext_key is not None else None,
                    self._paths[int_key] if int_key is not None else None,
                )
        if not combos:
            return
        # Every policy's flow as external row + internal row, gathered from the paths (a missing path: zeros).
        batches: dict[int, _FlowBatch] = {}
        for path in self._paths.values():
            if path is not None and path.state is state:
                batches.setdefault(id(path.batch), path.batch)
        offset: dict[int, int] = {}
        rows_before = 0
        for batch_id, batch in batches.items():
            offset[batch_id] = rows_before
            rows_before += batch.flows.rows
        if len(batches) == 1:
            table = next(iter(batches.values())).flows
        else:  # several batches, or none (no path carries traffic: every policy's flow is zeros)
            parts = [b.flows.data for b in batches.values()] or [np.zeros((len(FLOW_FIELDS), 0, self.classes.size))]
            table = FlowRows(data=np.concatenate(parts, axis=1), weight=mult)

        def row_of(path: _Path | None) -> int:
            return table.rows if path is None else offset[id(path.batch)] + path.index

        flows = table.sums(
            np.array([row_of(e) for e, _ in combos.values()]), np.array([row_of(i) for _, i in combos.values()])
        )
        combined = _FlowBatch(None, flows, state)
        served = flows.totals(flows.ready_load) + flows.totals(flows.terminating_load)
        forwarded = flows.totals(flows.forwarded)
        for i, (cache_key, (ext, internal)) in enumerate(combos.items()):
            self._computed[cache_key] = _Computed(
                batch=combined,
                index=i,
                offered=(ext.offered if ext else 0.0) + (internal.offered if internal else 0.0),
                served=float(served[i]),
                forwarded=float(forwarded[i]),
                external=ext,
                internal=internal,
            )

    def _unproxied(self, state: _State) -> _Computed:
        """Headless: clients connect to Pod IPs from DNS; ExternalName: no endpoints. No kube-proxy either way."""
        zero = np.zeros(self.classes.size, dtype=np.float64)
        served = state.ready.astype(np.float64)
        total = served.sum()
        rate = self.ext_rate + self.int_rate
        share = served / total if total > 0 else zero
        fields = {"received": share * rate, "served_locally": share * rate, "ready_load": share * rate}
        data = np.stack([fields.get(name, zero) for name in FLOW_FIELDS])[:, None, :]
        flows = FlowRows(data=data, weight=self.mult)
        return _Computed(
            batch=_FlowBatch(None, flows, state),
            index=0,
            offered=rate if total > 0 else 0.0,
            served=flows.row(0).total_served,
            forwarded=0.0,
        )

    def compute(self, key: PolicyKey, state: _State) -> _Computed:
        """Combined external + internal flow of one policy, in connections per second."""
        cache_key = self.compute_key(key, state)
        found = self._computed.get(cache_key)
        if found is not None:
            return found
        if not self.proxied:
            found = self._computed[cache_key] = self._unproxied(state)
            return found
        # The whole matrix of this state at once (the policy itself too, should it not be in the matrix).
        self._prepare(state, [*self.matrix, key] if key not in self.matrix else self.matrix)
        return self._computed[cache_key]

    # --- per policy ---------------------------------------------------------------------------------------------

    def summary(self, key: PolicyKey, computed: _Computed) -> PolicySummary:
        cache_key = self.compute_key(key, self.state)
        cached = self._summaries.get(cache_key)
        if cached is not None:
            return cached
        stats = computed.stats
        visibility = self.client_ip(key, computed.external or computed)
        rejected = computed.served == 0 and not self.state.has_pods
        summary = PolicySummary(
            **_load_numbers(computed.offered, computed.served, stats),
            rejected=rejected,
            extra_hop_fraction=computed.extra_hop_fraction,
            client_ip_visible_fraction=self.main_visibility(visibility),
            client_ip=visibility,
            hottest_pod_requests_per_second=self.requests_at(computed, stats.hottest_index) if stats.pods else 0.0,
            external=self.cached_path_summary(computed.external, self.external_visibility(visibility)),
            internal=self.cached_path_summary(computed.internal, visibility.in_cluster_cluster_ip),
        )
        self._summaries[cache_key] = summary
        return summary

    def requests_at(self, computed: _Computed, group: int) -> float:
        """Requests per second on each Pod of one group: every path's connections times its requests per connection."""
        paths = [p for p in (computed.external, computed.internal) if p is not None]
        if not paths:
            return float(computed.groups.per_pod[group]) * max(self.ext_rpc, self.int_rpc)
        requests = 0.0
        for path in paths:
            requests += float(path.groups.per_pod[group]) * path.requests_per_connection
        return requests

    def cached_path_summary(self, path: _Path | None, visible: float | None) -> PathSummary | None:
        """A path's summary depends on the path alone (external visibility on its policy, which the key holds)."""
        if path is None:
            return None
        cached = self._path_summaries.get(path.key)
        if cached is None:
            cached = self._path_summaries[path.key] = self.path_summary(path, visible)
        return cached

    @staticmethod
    def path_summary(path: _Path, visible: float | None) -> PathSummary:
        offered, served, stats = path.offered, path.served, path.stats
        return PathSummary(
            **_load_numbers(offered, served, stats),
            extra_hop_fraction=path.extra_hop_fraction,
            client_ip_visible_fraction=visible,
            hottest_pod_requests_per_second=stats.hottest * path.requests_per_connection,
            mean_pod_share=served / stats.pods / offered if stats.pods and offered > 0 else 0.0,
            coldest_pod_share=stats.coldest / offered if offered > 0 else 0.0,
        )

    def entry_path(self) -> EntryPathName:
        traffic = self.inp.traffic
        if traffic.external is not None and traffic.external.entry is not None:
            return traffic.external.entry
        service_type = self.inp.policy.type
        if service_type == "LoadBalancer":
            return "LoadBalancer"
        return "NodePort" if service_type == "NodePort" else "ExternalIP"

    def client_ip(self, key: PolicyKey, external: _Path | _Computed) -> ClientIpVisibility:
        """traffic-semantics.md section 8, client-IP visibility matrix (plus Cilium and PROXY protocol).

        ``external`` is the external path (Cilium SNAT hides the client only when the backend is remote).
        """
        policy = self.inp.policy
        lb = self.lb
        data_plane = self.inp.traffic.data_plane
        served_here = min(max(1.0 - external.extra_hop_fraction, 0.0), 1.0)

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
        cluster_paths = tuple(
            p
            for p, used in (
                (key.external_traffic_policy, self.ext_rate > 0),
                (key.internal_traffic_policy, self.int_rate > 0),
            )
            if used and p == "Cluster"
        )
        cache_key = (key.topology, cluster_paths)
        if cache_key not in self._topologies:
            self._topologies[cache_key] = self._topology(key.topology, bool(cluster_paths))
        return self._topologies[cache_key]

    def _topology(self, source: TopologySource, cluster_paths: bool) -> TopologyOutcome:
        inp = self.inp
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
        up = self.state.node_up
        up_nodes = float(self.mult[up].sum())
        fraction = float(self.mult[up & routing.topology_engaged].sum()) / up_nodes if up_nodes > 0 else 0.0
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
            engaged=cluster_paths and fraction > 0,
            engaged_node_fraction=fraction,
            safeguard=safeguard,
            message=message,
        )

    def failure(self, key: PolicyKey) -> FailureOutcome | None:
        cache_key = self.compute_key(key, self.state)
        if cache_key not in self._failures:
            self._failures[cache_key] = self._failure(key)
        return self._failures[cache_key]

    def _failure(self, key: PolicyKey) -> FailureOutcome | None:
        inp = self.inp
        etp = key.external_traffic_policy
        if etp is None or self.ext_rate <= 0 or not self.proxied:
            return None
        state = self.state
        with_pods = (state.ready + state.terminating) > 0
        if not with_pods.any():
            return None
        inflow = self.ext_inflow(etp, state)
        if self.lb.model == "ipTargets":
            health_checked = True  # the LB health-checks the Pod targets themselves
        elif self.lb.model == "l2Leader":
            health_checked = True  # MetalLB moves the announcement when the leader's endpoints go
        else:
            health_checked = self.lb.health_check
        # Classes with Pods are single nodes in node order, so this is the node with the largest inflow.
        cls = self._failed.get(etp)
        if cls is None:
            cls = self._failed[etp] = int(np.argmax(np.where(with_pods, inflow, -1.0)))
        detect = detection_seconds(self.lb, etp) if health_checked else None
        lost_per_second = self.ext_rate * float(inflow[cls])
        survivors = self.compute(key, self.down(cls))
        survivor_offered = survivors.offered
        survivors_dropped = (
            max(survivor_offered - survivors.served, 0.0) / survivor_offered if survivor_offered > 0 else 0.0
        )
        local_health = etp == "Local" and self.lb.model in ("nodeEqual", "podWeighted")
        drain_served = lost_per_second * (detect or 0.0) if local_health and health_checked else 0.0
        drain_dropped = lost_per_second if local_health and not health_checked else 0.0
        return FailureOutcome(
            node=inp.node_names[int(self.classes.first[cls])],
            detection_seconds=detect,
            lost_connections_per_second_until_detected=lost_per_second,
            connections_lost_during_detection=lost_per_second * detect if detect is not None else None,
            survivors_hottest_pod_ratio=survivors.stats.hottest_ratio,
            survivors_dropped_fraction=survivors_dropped,
            drain_connections_served_by_terminating=drain_served,
            drain_dropped_connections_per_second=drain_dropped,
        )

    def affinity(self, key: PolicyKey, *, samples: int) -> AffinitySkew | None:
        request = self._affinity_request(key)
        if request is None:
            return None
        cache_key, inputs = request
        cached = self._affinity.get(cache_key)
        if cached is None or cached.samples < samples:
            self._affinity[cache_key] = self._affinity_estimate(inputs, samples)
        return self._affinity[cache_key]

    def prefetch_affinity(self, wanted: Sequence[tuple[PolicyKey, int]]) -> None:
        """Estimate the client-sticky entries of ``wanted`` (policy, samples) together, sharing their sample passes.

        Each estimate is the one :meth:`affinity` would make alone; the others are left to it."""
        batch: dict[tuple[object, ...], StickyEstimate] = {}
        for key, samples in wanted:
            request = self._affinity_request(key)
            if request is None:
                continue
            cache_key, inputs = request
            if inputs.unit_flow is None or not inputs.one_decision_per_key:
                continue
            cached = self._affinity.get(cache_key)
            queued = batch.get(cache_key)
            most = max(samples, queued.samples if queued is not None else 0)
            if cached is None or cached.samples < most:
                batch[cache_key] = StickyEstimate(inputs.entry, inputs.routing, inputs.unit_flow, most)
        if not batch:
            return
        skews = sticky_affinity_skews(
            list(batch.values()),
            clients=self.inp.traffic.clients,
            timeout_seconds=self._affinity_timeout,
            seed=self.inp.traffic.seed,
            multiplicity=self.classes.count,
            memo=self._affinity_memo,
        )
        self._affinity.update(zip(batch, skews, strict=True))

    @property
    def _affinity_timeout(self) -> int:
        return self.inp.policy.timeout_seconds or 10800

    def _affinity_request(self, key: PolicyKey) -> tuple[tuple[object, ...], _AffinityInputs] | None:
        """What the affinity estimate of ``key`` depends on, with its cache key (None: no affinity applies)."""
        if key not in self._affinity_requests:
            self._affinity_requests[key] = self._affinity_inputs(key)
        return self._affinity_requests[key]

    def _affinity_inputs(self, key: PolicyKey) -> tuple[tuple[object, ...], _AffinityInputs] | None:
        if key.session_affinity != "ClientIP" or not self.proxied:
            return None
        external = self.ext_rate > 0 and key.external_traffic_policy is not None
        if external and self.lb.model == "ipTargets":
            return None  # kube-proxy is bypassed; its affinity never runs
        policy = key.external_traffic_policy if external else key.internal_traffic_policy
        if policy is None or not self.state.has_pods:
            return None
        # Same entry and routing: the same estimate (a larger draw made for the current policy is reused).
        cache_key = (external, policy, self._source(policy, key.topology))
        self.compute(key, self.state)  # the paths' flows
        routing = self.routing(policy, key.topology, self.state)
        entry = self.ext_inflow(policy, self.state) if external else self.classes.callers
        lb = self.lb
        sticky = lb.client_affinity if lb.client_affinity is not None else True
        # The path's flow carries the routing's mixture when it entered in proportion to ``entry`` (the internal
        # path leaves out callers on nodes that are down).
        ext_key, int_key = self._path_keys(key, self.state)
        path_key = ext_key if external else int_key
        path = self._paths.get(path_key) if path_key is not None else None
        same_entry = external or not (self.classes.callers[~self.state.node_up] > 0).any()
        proxying = external and lb.client_ip != "passthrough"
        return cache_key, _AffinityInputs(
            entry=entry,
            routing=routing,
            client_sticky=bool(sticky) if external else True,
            proxying=proxying,
            unit_flow=path.unit_flow if path is not None and same_entry else None,
        )

    def _affinity_estimate(self, inputs: _AffinityInputs, samples: int) -> AffinitySkew:
        return affinity_skew(
            inputs.entry,
            inputs.routing,
            clients=self.inp.traffic.clients,
            timeout_seconds=self._affinity_timeout,
            lb_client_sticky=inputs.client_sticky,
            lb_proxying=inputs.proxying,
            seed=self.inp.traffic.seed,
            samples=samples,
            multiplicity=self.classes.count,
            memo=self._affinity_memo,
            unit_flow=inputs.unit_flow,
        )

    def nodes(self, key: PolicyKey, computed: _Computed) -> NodeTable:
        """The per-node table: class values expanded to every node."""
        inp = self.inp
        flow = computed.flow
        state = self.state
        served = flow.ready_load + flow.terminating_load
        size = self.classes.size
        per_pod = np.divide(flow.ready_load, state.ready, out=np.zeros(size), where=state.ready > 0)
        per_terminating = np.divide(
            flow.terminating_load, state.terminating, out=np.zeros(size), where=state.terminating > 0
        )
        etp = key.external_traffic_policy
        inflow = self.ext_inflow(etp, state) if etp is not None and self.ext_rate > 0 else None
        lost = inflow * self.ext_rate if inflow is not None else np.zeros(self.classes.size)
        # Zone -1 (no label) picks the trailing None.
        zones: list[str | None] = np.array([*inp.zone_names, None], dtype=object)[inp.zone].tolist()
        offered = computed.offered

        columns = [flow.received, flow.forwarded, flow.served_locally, flow.dropped, served, per_pod, per_terminating]
        columns += [per_pod / offered if offered > 0 else per_pod * 0, lost]
        paths = [p for p in (computed.external, computed.internal) if p is not None]
        for path in paths:
            load = path.flow.ready_load
            columns.append(np.divide(load, state.ready, out=np.zeros(load.shape[0]), where=state.ready > 0))
        table = _per_node(np.stack(columns), self.classes.class_of_node)
        external = table[9] if computed.external is not None else []
        internal = table[-1] if computed.internal is not None else []
        return NodeTable(
            names=list(inp.node_names),
            zones=zones,
            up=inp.node_up.tolist(),
            ready_pods=inp.ready.tolist(),
            terminating_pods=inp.terminating.tolist(),
            received_connections_per_second=table[0],
            forwarded_connections_per_second=table[1],
            served_locally_connections_per_second=table[2],
            dropped_connections_per_second=table[3],
            served_connections_per_second=table[4],
            per_pod_connections_per_second=table[5],
            terminating_per_pod_connections_per_second=table[6],
            per_pod_share=table[7],
            failure_loss_connections_per_second=table[8],
            external_per_pod_connections_per_second=external,
            internal_per_pod_connections_per_second=internal,
        )

    def samples_for(self, *, current: bool) -> int:
        """Affinity samples: the full count for the current policy, fewer for alternatives (stated in their
        ``affinity.samples``)."""
        return self.affinity_samples if current else max(1, self.affinity_samples // ALTERNATIVE_SAMPLES_DIVISOR)

    def result(self, key: PolicyKey, *, current: bool) -> PolicyResult:
        computed = self.compute(key, self.state)
        samples = self.samples_for(current=current)
        return PolicyResult(
            policy=key,
            current=current,
            summary=self.summary(key, computed),
            topology=self.topology(key),
            failure=self.failure(key),
            affinity=self.affinity(key, samples=samples),
            nodes=self.nodes(key, computed) if current else None,
        )


def _per_node(columns: FloatArray, class_of_node: IntArray) -> list[list[float]]:
    """Each row of ``columns`` (one value per node class) as a list with one value per node.

    Gathering Python floats (one per class) instead of converting every node's float64 shares the objects and is
    about three times faster; a row with one value for every class (no drops anywhere, say) is one repeated float.
    """
    nodes = class_of_node.shape[0]
    constant = (columns == columns[:, :1]).all(axis=1) if columns.shape[1] else np.ones(columns.shape[0], dtype=bool)
    varying = np.flatnonzero(~constant)
    gathered: list[list[float]] = columns[varying].astype(object)[:, class_of_node].tolist() if varying.shape[0] else []
    firsts = columns[:, 0].tolist() if columns.shape[1] else [0.0] * columns.shape[0]
    rows = iter(gathered)
    return [[firsts[i]] * nodes if is_constant else next(rows) for i, is_constant in enumerate(constant.tolist())]


def evaluate_input(inp: EngineInput) -> Evaluation:
    """Evaluate the current policy and every alternative; findings and verdict for the current one."""
    evaluator = _Evaluator(inp)
    keys = evaluator.matrix
    evaluator.prefetch_affinity([(key, evaluator.samples_for(current=i == 0)) for i, key in enumerate(keys)])
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
        if r.summary.dropped_fraction <= current.summary.dropped_fraction + 1e-9
        and r.summary.hottest_pod_ratio < current.summary.hottest_pod_ratio - 1e-9
    ]
    if better:

        def changed_fields(r: PolicyResult) -> int:
            return sum(getattr(r.policy, f) != getattr(current.policy, f) for f in r.policy.__struct_fields__)

        def rank(r: PolicyResult) -> tuple[float, float, int]:
            return (round(r.summary.hottest_pod_ratio, 9), round(r.summary.extra_hop_fraction, 9), changed_fields(r))

        keeps_ip = [
            r
            for r in better
            if (r.summary.client_ip_visible_fraction or 0.0)
            >= (current.summary.client_ip_visible_fraction or 0.0) - 1e-9
        ]
        if inp.requirements.client_ip_required and keeps_ip:
            best = min(keeps_ip, key=rank)
            lines.append(f"More even, keeping the client IP: {best.policy.label}: {_line(best.summary)}.")
        else:
            best = min(better, key=rank)
            current_ip = current.summary.client_ip_visible_fraction or 0.0
            lost = (best.summary.client_ip_visible_fraction or 0.0) < current_ip
            caveat = " (but the client IP is lost)" if lost else ""
            lines.append(f"More even{caveat}: {best.policy.label}: {_line(best.summary)}.")
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
