"""CP-SAT model of one Service's placement over node classes.

Derivation (nodeEqual load balancer, ``externalTrafficPolicy: Local``, traffic-semantics.md 3.3 and 8): the LB
sends each of the K nodes with ready Pods an equal share 1/K; node n splits its share over its x_n Pods, so a Pod
there gets 1/(K x_n). The mean Pod share is 1/N (all traffic is served once empty nodes fail the health check), so

    hottest ratio = max_n 1/(K x_n) / (1/N) = N / (K m),   m = min over used nodes of x_n.

Without cross-zone balancing the LB first gives each of the Z zones with Pods 1/Z, so a Pod gets
1/(Z K_z x_n) and the ratio is N / (Z Q) with Q = min over used zones of K_z m_z. With IP targets and no
cross-zone balancing a Pod gets 1/(Z N_z), the same formula with K_z m_z replaced by N_z, the Pods of zone z.

Call the denominator D (K m, or Z Q). For a fixed replica count minimising the ratio is maximising D; for a
replica range the model minimises R >= S N / D with S = 10^6 through an integer product R D >= S N.

Integer formulation over classes c (interchangeable nodes, ``classes.py``): u_c = used nodes of c, y_c = Pods
on c. Pods can be split over u_c nodes with every node in [m, cap_c] iff m u_c <= y_c <= cap_c u_c, so the
products m u_c and K m are the only non-linear terms (``add_multiplication_equality``; for a class of one node
u_c is Boolean and y_c >= m is enforced by it instead). m is a lower bound on the
smallest used node; maximising D drives it to the true minimum, and every plan is re-scored by the engine.

Pods moved: a node of class c keeps min(x_n, current_c) of its current Pods, and the fewest Pods created on c is
exactly max(0, y_c - current_c u_c) (fill each chosen node up to its current count first).

Robustness is enforced with sufficient conditions: losing one node leaves K - 1 nodes whose minimum is still
>= m and at most N - m Pods, so (N - m) <= B (K - 1) m bounds every single-node loss (cross-zone on). Losing
zone z leaves N - N_z Pods on K - K_z nodes: (N - N_z) <= B (K - K_z) m; without cross-zone balancing
(N - N_z) <= B (Z - 1) Q.

Rollouts (``rollout.py``): with U Pods down anywhere, emptying a node costs at least m Pods, so at most
e = floor(U / m) nodes leave the load balancer, and the hottest node keeps at least max(1, m - U) Pods; the
hottest ratio N / (K' x') is therefore at most N / ((K - e) max(1, m - U)), and requiring that to be <= B is a
sufficient condition (enforced for cross-zone nodeEqual, measured by the engine otherwise). U is resolved at the
largest replica count, which only makes it larger.

Every constraint group can be made conditional on an assumption literal, which is how infeasibility is explained.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from planner.engine.metrics import IntArray
from planner.optimizer.classes import NodeClass
from planner.optimizer.cpmodel import CpModel
from planner.optimizer.instance import ServiceInstance
from planner.optimizer.rollout import rollout_params
from planner.optimizer.schema import ObjectiveTerm

RATIO_SCALE = 1_000_000
GROUPS = (
    "eligibility",
    "capacity",
    "maxPodsPerNode",
    "minNodes",
    "minZones",
    "replicaRange",
    "podCapacity",
    "nodeLoss",
    "zoneLoss",
    "rollout",
)


@dataclass
class Term:
    term: ObjectiveTerm
    expr: Any
    maximize: bool
    note: str | None = None
    parts: list[tuple[Term, int]] | None = None
    """A weighted stage: the terms it sums and their integer coefficients (``stages.weighted_terms``)."""


def hint_from_trial(model: cp_model.CpModel, trial: cp_model.CpModel, *, budget: float, deadline: float | None) -> bool:
    """Solve ``trial`` (a clone of ``model`` with some values fixed) and hint every variable of ``model`` with its
    solution, so the search starts from a full solution. False if the trial finds none within the budget or the
    wall-clock ``deadline`` (``time.perf_counter`` time)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = budget
    if deadline is not None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        solver.parameters.max_time_in_seconds = left
    if solver.solve(trial) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    hint_all(model, solver)
    return True


def hint_all(model: cp_model.CpModel, solver: cp_model.CpSolver) -> None:
    """Hint every variable of ``model`` with the solution ``solver`` just found for it or for a clone of it with
    more constraints (variable i of the clone is variable i of ``model``), written into the proto at once."""
    count = len(model.proto.variables)
    model.clear_hints()  # type: ignore[no-untyped-call]
    model.proto.solution_hint.vars.extend(range(count))
    model.proto.solution_hint.values.extend(list(solver.response_proto.solution)[:count])


@dataclass
class ServiceModel:
    """Variables and constraints of one Service (the variable container and its constraint modules in one)."""

    svc: ServiceInstance
    classes: list[NodeClass]
    model: cp_model.CpModel
    explain: bool = False
    total_nodes: int = 0
    force_ratio: bool = False
    """Always build the scaled ratio R (the joint model compares Services by it, whatever their replica counts)."""
    n_rep: Any = None
    u: list[Any] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    group_min: dict[int, Any] = field(default_factory=dict)
    denominator: Any = None
    ratio_var: Any = None
    zone_active: dict[int, Any] = field(default_factory=dict)
    moves: Any = None
    moved: list[Any] = field(default_factory=list)
    """Pods created per class (``moves`` is their sum)."""
    literals: dict[str, Any] = field(default_factory=dict)
    not_evaluated: list[str] = field(default_factory=list)
    n_upper: int = 0

    # ---- construction ------------------------------------------------------------------------------------

    def _lit(self, group: str) -> list[Any]:
        """Enforcement literals for a constraint group: none normally, its assumption literal when explaining."""
        if not self.explain:
            return []
        if group not in self.literals:
            self.literals[group] = self.model.new_bool_var(group)
        return [self.literals[group]]

    def _add(self, group: str, constraint: Any) -> None:
        lits = self._lit(group)
        if lits:
            constraint.only_enforce_if(lits)

    def build(self) -> ServiceModel:
        svc, m = self.svc, self.model
        relaxed_upper = svc.replicas_max * 4 if self.explain else svc.replicas_max
        self.n_upper = upper = max(relaxed_upper, 1)
        self.n_rep = m.new_int_var(1 if self.explain else svc.replicas_min, upper, "replicas")
        self._add("replicaRange", m.add(self.n_rep >= svc.replicas_min))
        self._add("replicaRange", m.add(self.n_rep <= svc.replicas_max))
        for i, c in enumerate(self.classes):
            # a single-node class (every node where capacity binds in the joint model) has a Boolean "used"
            u = m.new_bool_var(f"u{i}") if c.size == 1 else m.new_int_var(0, c.size, f"u{i}")
            y = m.new_int_var(0, upper * c.size, f"y{i}")
            m.add(y >= u)
            m.add(y <= upper * u)
            self._add("capacity", m.add(y <= c.fit * u))
            self._add("maxPodsPerNode", m.add(y <= c.limit * u))
            if not c.eligible:
                self._add("eligibility", m.add(u == 0))
            self.u.append(u)
            self.y.append(y)
        m.add(sum(self.y) == self.n_rep)
        k_total = sum(self.u)
        zones = sorted({c.zone for c in self.classes})
        for z in zones:
            members = [i for i, c in enumerate(self.classes) if c.zone == z]
            a = m.new_bool_var(f"zone{z}")
            m.add(sum(self.u[i] for i in members) >= 1).only_enforce_if(a)
            m.add(sum(self.u[i] for i in members) == 0).only_enforce_if(~a)
            self.zone_active[z] = a
        self._add("minNodes", m.add(k_total >= svc.min_nodes))
        self._add("minZones", m.add(sum(self.zone_active.values()) >= svc.min_zones))
        self._build_balance(zones)
        self._build_pod_capacity()
        self._build_robustness(zones)
        if int(svc.current.sum()) > 0:
            moved = []
            for i, c in enumerate(self.classes):
                mv = m.new_int_var(0, upper * c.size, f"mv{i}")
                m.add(mv >= self.y[i] - c.current * self.u[i])
                moved.append(mv)
            self.moved = moved
            self.moves = sum(moved)
        return self

    def _group_denominator(self, members: list[int], key: int) -> tuple[Any, Any, Any]:
        """K_g, m_g and P_g = K_g m_g for one balance group (all classes, or one zone's)."""
        m, upper = self.model, self.n_upper
        size = sum(self.classes[i].size for i in members)
        k = m.new_int_var(0, size, f"K{key}")
        m.add(k == sum(self.u[i] for i in members))
        low = m.new_int_var(1, upper, f"m{key}")
        for i in members:
            if self.classes[i].size == 1:
                # y >= m u as an implication: linear, no product to propagate
                m.add(self.y[i] >= low).only_enforce_if(self.u[i])
                continue
            prod = m.new_int_var(0, upper * self.classes[i].size, f"mu{i}")
            m.add_multiplication_equality(prod, [low, self.u[i]])
            m.add(self.y[i] >= prod)
        p = m.new_int_var(0, upper, f"P{key}")
        m.add_multiplication_equality(p, [k, low])
        self.group_min[key] = low
        return k, low, p

    def _zone_denominator(self, members: list[int], key: int) -> Any:
        """P_z = K_z m_z for one zone, with m_z enumerated: one Boolean e_v per candidate value v, and K_z split
        into K_v (= K_z when m_z = v, else 0), so P_z = sum_v v K_v is linear and y_c >= m_z u_c is one linear
        constraint per value, enforced by e_v. This is exact (m_z takes exactly one value) and, unlike the product
        K_z m_z, keeps a linear relaxation the solver can bound with."""
        m, upper = self.model, self.n_upper
        size = sum(self.classes[i].size for i in members)
        top = max(1, min(upper, max(self.classes[i].cap for i in members)))
        k = m.new_int_var(0, size, f"K{key}")
        m.add(k == sum(self.u[i] for i in members))
        low = m.new_int_var(1, top, f"m{key}")
        choice = [m.new_bool_var(f"m{key}={v}") for v in range(1, top + 1)]
        m.add_exactly_one(choice)
        m.add(low == sum(v * e for v, e in enumerate(choice, start=1)))
        parts = []
        for v, e in enumerate(choice, start=1):
            kv = m.new_int_var(0, min(size, upper // v), f"K{key}_{v}")
            m.add(kv == k).only_enforce_if(e)
            m.add(kv == 0).only_enforce_if(~e)
            parts.append(v * kv)
            for i in members:
                if self.classes[i].size > 1:
                    m.add(self.y[i] >= v * self.u[i]).only_enforce_if(e)
        for i in members:
            if self.classes[i].size == 1:
                m.add(self.y[i] >= low).only_enforce_if(self.u[i])
        p = m.new_int_var(0, upper, f"P{key}")
        m.add(p == sum(parts))
        self.group_min[key] = low
        return p

    def _build_balance(self, zones: list[int]) -> None:
        svc, m, upper = self.svc, self.model, self.n_upper
        if svc.balance_model in ("uniform", "leader") or not self.classes:
            return
        if svc.balance_model == "nodeLocal" and svc.cross_zone:
            _, _, p = self._group_denominator(list(range(len(self.classes))), -2)
            self.denominator = p
        else:
            q = m.new_int_var(1, upper, "Q")
            for z in zones:
                members = [i for i, c in enumerate(self.classes) if c.zone == z]
                if svc.balance_model == "nodeLocal":
                    p = self._zone_denominator(members, z)
                else:
                    p = sum(self.y[i] for i in members)
                m.add(q <= p).only_enforce_if(self.zone_active[z])
            # D = Z Q with the number of active zones Z enumerated: Q_k = Q when exactly k zones are active (else
            # 0), so D = sum_k k Q_k is linear
            counts = [m.new_bool_var(f"Z={k}") for k in range(1, len(zones) + 1)]
            m.add_exactly_one(counts)
            m.add(sum(k * w for k, w in enumerate(counts, start=1)) == sum(self.zone_active.values()))
            split = []
            for k, w in enumerate(counts, start=1):
                qk = m.new_int_var(0, upper // k, f"Q{k}")
                m.add(qk == q).only_enforce_if(w)
                m.add(qk == 0).only_enforce_if(~w)
                split.append(k * qk)
            d = m.new_int_var(0, upper, "D")
            m.add(d == sum(split))
            # redundant: Z Q <= the sum over active zones of their Pods = N
            m.add(d <= self.n_rep)
            self.group_min[-3] = q
            self.denominator = d
        if svc.replicas_min != svc.replicas_max or self.explain or self.force_ratio:
            r = m.new_int_var(RATIO_SCALE, RATIO_SCALE * upper, "R")
            rd = m.new_int_var(0, RATIO_SCALE * upper * upper, "RD")
            m.add_multiplication_equality(rd, [r, self.denominator])
            m.add(rd >= RATIO_SCALE * self.n_rep)
            self.ratio_var = r

    def _build_pod_capacity(self) -> None:
        svc, m = self.svc, self.model
        if svc.pod_capacity is None:
            return
        if svc.balance_model == "leader":
            self.not_evaluated.append("per-Pod capacity (one leader node takes all traffic; not a placement matter)")
            return
        impossible = self.n_upper + 1
        need = impossible if svc.pod_capacity <= 0 else max(1, math.ceil(svc.traffic / svc.pod_capacity - 1e-9))
        # hottest Pod = T / D (or T / N when every Pod gets 1/N) must be <= capacity
        target = self.n_rep if self.denominator is None else self.denominator
        self._add("podCapacity", m.add(target >= need))

    def _build_robustness(self, zones: list[int]) -> None:
        svc, m = self.svc, self.model
        k_total = sum(self.u)
        bound = svc.node_loss_max_ratio
        if bound is not None:
            self._add("nodeLoss", m.add(k_total >= 2))
            if svc.balance_model == "nodeLocal" and svc.cross_zone and self.denominator is not None:
                low = self.group_min[-2]
                b = round(bound * RATIO_SCALE)
                self._add("nodeLoss", m.add(RATIO_SCALE * (self.n_rep - low) <= b * (self.denominator - low)))
            elif svc.balance_model in ("nodeLocal", "zonePods"):
                self.not_evaluated.append(
                    "N-1 node-loss ratio bound (enforced only for cross-zone balancing; measured by the engine)"
                )
        rbound = svc.rollout_max_ratio
        params = rollout_params(svc, svc.replicas_max) if rbound is not None else None
        if rbound is not None and params is not None:
            if svc.balance_model == "nodeLocal" and svc.cross_zone and self.denominator is not None:
                low = self.group_min[-2]
                down = params.max_unavailable
                upper = self.n_upper
                emptied = m.new_int_var(0, down, "rolloutEmptied")
                m.add_division_equality(emptied, down, low)
                keep = m.new_int_var(1, upper, "rolloutKeep")
                m.add_max_equality(keep, [1, low - down])
                k_left = m.new_int_var(-down, self.total_nodes, "rolloutNodes")
                m.add(k_left == k_total - emptied)
                product = m.new_int_var(-down * upper, self.total_nodes * upper, "rolloutDenominator")
                m.add_multiplication_equality(product, [k_left, keep])
                b = round(rbound * RATIO_SCALE)
                self._add("rollout", m.add(RATIO_SCALE * self.n_rep <= b * product))
            else:
                self.not_evaluated.append(
                    "RollingUpdate ratio bound (enforced in the model only for cross-zone nodeEqual; checked by "
                    "the engine on the plan)"
                )
        zbound = svc.zone_loss_max_ratio
        if zbound is not None:
            self._add("zoneLoss", m.add(sum(self.zone_active.values()) >= 2))
            b = round(zbound * RATIO_SCALE)
            for z in zones:
                members = [i for i, c in enumerate(self.classes) if c.zone == z]
                y_z = sum(self.y[i] for i in members)
                a = self.zone_active[z]
                if self.denominator is None:
                    continue
                if svc.balance_model == "nodeLocal" and svc.cross_zone:
                    low = self.group_min[-2]
                    k_z = m.new_int_var(0, sum(self.classes[i].size for i in members), f"Kz{z}")
                    m.add(k_z == sum(self.u[i] for i in members))
                    kzm = m.new_int_var(0, self.n_upper, f"Kzm{z}")
                    m.add_multiplication_equality(kzm, [k_z, low])
                    rhs = self.denominator - kzm
                else:
                    rhs = self.denominator - self.group_min[-3]
                ct = m.add(RATIO_SCALE * (self.n_rep - y_z) <= b * rhs)
                ct.only_enforce_if([a, *self._lit("zoneLoss")])

    # ---- objectives --------------------------------------------------------------------------------------

    def term(self, term: ObjectiveTerm) -> Term | None:
        svc = self.svc
        if term == "balance":
            if self.denominator is None:
                return None
            if self.ratio_var is not None:
                return Term(term, self.ratio_var, maximize=False)
            return Term(term, self.denominator, maximize=True)
        if term == "replicas":
            if svc.replicas_min == svc.replicas_max:
                return None
            return Term(term, self.n_rep, maximize=False)
        if term == "moves":
            if self.moves is None:
                return None
            return Term(term, self.moves, maximize=False)
        weight = self.total_nodes + 1
        return Term(term, weight * sum(self.zone_active.values()) + sum(self.u), maximize=True)

    def hint_from_placement(self, pods: IntArray, *, deadline: float | None = None) -> bool:
        """Hint every variable from a node placement (e.g. the best baseline); False if it does not fit the model.

        The class counts are fixed in a copy of the model, which is solved (propagation only, in practice) to
        complete the hint with the minima, products and ratio, so the search starts from a full solution.
        """
        if int(pods[[n for c in self.classes for n in c.nodes]].sum()) != int(pods.sum()):
            return False  # Pods outside this Service's usable nodes
        trial = self.model.clone()
        for i, c in enumerate(self.classes):
            counts = [int(pods[n]) for n in c.nodes]
            trial.add(trial.get_int_var_from_proto_index(self.u[i].index) == sum(1 for x in counts if x > 0))
            trial.add(trial.get_int_var_from_proto_index(self.y[i].index) == sum(counts))
        if self.ratio_var is not None:
            trial.minimize(trial.get_int_var_from_proto_index(self.ratio_var.index))
        elif self.denominator is not None:
            trial.maximize(trial.get_int_var_from_proto_index(self.denominator.index))
        return hint_from_trial(self.model, trial, budget=1.0, deadline=deadline)

    def decision_vars(self) -> Sequence[Any]:
        return [self.n_rep, *self.u, *self.y, *self.group_min.values()]


def build_model(
    svc: ServiceInstance,
    classes: list[NodeClass],
    *,
    total_nodes: int,
    explain: bool = False,
    model: cp_model.CpModel | None = None,
    force_ratio: bool = False,
) -> ServiceModel:
    """Build one Service's variables and constraints, in a new model or added to a shared ``model``."""
    return ServiceModel(
        svc=svc,
        classes=classes,
        model=model if model is not None else CpModel(),
        explain=explain,
        total_nodes=total_nodes,
        force_ratio=force_ratio,
    ).build()
