"""Every Service even at once: one exact packing over the whole request when each Service reaches 1.0 alone.

For the nodeEqual model with cross-zone balancing, a hottest-Pod ratio of exactly 1.0 means the same Pods m on
every used node of a Service (``packing.py``: R D >= 10^6 N with R = 10^6 and D = K m forces K m = N), and 1.0
is the least ratio any placement has. When the first pass found every Service at 1.0 on its own, and the default
objective order (balance, replicas, moves, spread) applies, the whole request is solved here in one model over
ALL Services instead of the sequential re-solve and the joint model over the coupled ones:

- the worst ratio and the sum of ratios sit at their least values (1.0 and one per Service) in every plan below;
- each Service runs its own fewest replicas for ratio 1.0 (found alone against the cluster's free capacity; no
  shared plan runs fewer at that ratio), so the replicas stage sits at its least value too, if such a plan exists;
- among those plans, fewest Pods created, then the widest spread, as one objective W moves - spread with W above
  the largest spread, solved by CP-SAT to a proven optimum.

The model (the disaggregated formulation of ``packing.py``) is exact for ratio-1 plans: w_{s,m} picks Service s's
Pods per node m (N_s fixed), z_{s,c,m} counts the nodes of class c with m of its Pods. Classes are the joint model's
(``joint.joint_classes``): every node where capacity binds is its own class with its cpu, memory and Pod slots as a
shared constraint, and every other class fits all Services at their per-node caps together. Each rule of the
joint model (``model.py``) is either a row or a filter on (N, m) with K = N / m nodes:

- eligibility, free capacity and max Pods per node: a column exists only where m is at most the class's cap;
- minimum nodes: K >= minNodes; minimum zones: one zone-used Boolean per zone, at most the zone's columns, and at
  least minZones of them (two with a zone-loss bound);
- per-Pod capacity: the hottest Pod gets T / (K m) = T / N, so N >= ceil(T / capacity);
- N-1 bound B: 10^6 (N - m) <= B (K m - m) with K >= 2, i.e. B >= 1.0 (every other node keeps m Pods);
- zone-loss bound B: 10^6 (N - N_z) <= B (K - K_z) m = B (N - N_z) for every used zone, i.e. B >= 1.0;
- rollout bound B with U Pods down: 10^6 N <= B (K - floor(U / m)) max(1, m - U), the model's sufficient condition;
- moves: max(0, m - current_c) Pods created per node of class c; spread: (nodes + 1) per used zone plus one per node.

So every packing plan is a joint-model plan with the same stage values and vice versa, and its optimum is the
whole request's lexicographic optimum. The plan is expanded to nodes and re-scored by the engine (every Service at
1.0 within every rule, the nodes within their capacity) before it is used. Anything else (a rule outside this list,
a Service above 1.0 alone, no ratio-1 plan together at the fewest replicas, a budget that stops the proof) returns
None, and the request takes the general path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.engine.metrics import IntArray
from planner.optimizer.classes import NodeClass
from planner.optimizer.instance import Instance, ServiceInstance, pods_that_fit
from planner.optimizer.joint import joint_classes, service_classes
from planner.optimizer.model import RATIO_SCALE
from planner.optimizer.packing import CANONICAL, Packing, pack
from planner.optimizer.quality import score
from planner.optimizer.rollout import rollout_params
from planner.optimizer.schema import ObjectiveTerm, StageReport
from planner.optimizer.validation import violations

TOLERANCE = 1e-9
MAX_COLUMNS = 20_000
"""Largest model built (one column per Service, class and m); 100 nodes x 20 Services under capacity pressure give
about 1,500-2,600."""


@dataclass
class EvenPlan:
    placements: dict[int, IntArray]
    """Pods per node by Service index."""
    stages: list[StageReport]
    replicas: int
    moves: int
    spread: int
    variables: int
    classes: int
    binding_nodes: int


@dataclass
class EvenOutcome:
    plan: EvenPlan | None
    """None when the request does not qualify or no proven plan was found (module docstring)."""
    spent: float = 0.0
    """Deterministic time used."""
    wall_cut: bool = False


def qualifies(svc: ServiceInstance) -> bool:
    """The load-balancer model for which ratio 1.0 means the same Pods on every used node."""
    return svc.balance_model == "nodeLocal" and svc.cross_zone


def patterns(svc: ServiceInstance, replicas: int, top: int, usable: int) -> list[int]:
    """Pods per node m for which ``replicas`` Pods on replicas / m nodes, m each, meet every rule of the Service
    that does not depend on where the nodes are (see the module docstring); ``top``: the most Pods of it a usable
    node takes, ``usable``: its usable nodes."""
    out = []
    need = 0
    if svc.pod_capacity is not None:
        need = (
            max(svc.replicas_max, 1) + 1
            if svc.pod_capacity <= 0
            else max(1, math.ceil(svc.traffic / svc.pod_capacity - 1e-9))
        )
    rollout = rollout_params(svc, svc.replicas_max) if svc.rollout_max_ratio is not None else None
    for m in range(1, min(replicas, top) + 1):
        if replicas % m:
            continue
        k = replicas // m
        if not svc.min_nodes <= k <= usable or replicas < need:
            continue
        if svc.node_loss_max_ratio is not None:
            b = round(svc.node_loss_max_ratio * RATIO_SCALE)
            if k < 2 or RATIO_SCALE * (replicas - m) > b * (replicas - m):
                continue
        if svc.zone_loss_max_ratio is not None and round(svc.zone_loss_max_ratio * RATIO_SCALE) < RATIO_SCALE:
            continue
        if svc.rollout_max_ratio is not None and rollout is not None:
            down = rollout.max_unavailable
            b = round(svc.rollout_max_ratio * RATIO_SCALE)
            if RATIO_SCALE * replicas > b * (k - down // m) * max(1, m - down):
                continue
        out.append(m)
    return out


def _min_zones(svc: ServiceInstance) -> int:
    return max(svc.min_zones, 2) if svc.zone_loss_max_ratio is not None else svc.min_zones


@dataclass
class _Model:
    pk: Packing
    moves: dict[int, int]
    """Pods created per node, by column (variable index), for Services that run Pods now."""
    local: list[list[NodeClass]]
    """Each Service's classes (``pk.columns`` keys index them)."""
    classes: int
    binding_nodes: int


def build_even(
    services: list[ServiceInstance], replicas: list[int], least_moves: list[int], free: IntArray, zone: IntArray
) -> _Model | None:
    """The exact ratio-1 packing with Service i at ``replicas[i]`` Pods (objective: W moves - spread); None when
    some Service has no pattern or the model would be too large. ``least_moves[i]``: Pods Service i creates at
    least (its own fewest at its replicas, alone), a valid cut."""
    classes, binding = joint_classes(services, free, zone)
    binds = {nodes for nodes, b in zip(classes, binding, strict=True) if b}
    # the size first, on arrays (the classes as objects take longer on 1,000 nodes x 50 Services)
    firsts = np.fromiter((nodes[0] for nodes in classes), dtype=np.int64, count=len(classes))
    sizes = np.fromiter((len(nodes) for nodes in classes), dtype=np.int64, count=len(classes))
    options = []
    columns = 0
    for svc, n in zip(services, replicas, strict=True):
        fit = np.minimum(pods_that_fit(free[firsts], svc.request), svc.replicas_max)
        usable = svc.eligible[firsts] & (fit >= 1)
        caps = np.minimum(fit, svc.max_per_node)[usable]
        opts = patterns(svc, n, int(caps.max(initial=0)), int(sizes[usable].sum()))
        if not opts:
            return None
        options.append(opts)
        columns += sum(int((caps >= m).sum()) for m in opts)
    if columns > MAX_COLUMNS:
        return None
    local = [service_classes(svc, classes, free, zone) for svc in services]
    total_nodes = zone.shape[0]
    pk = Packing()
    moves: dict[int, int] = {}
    usage: dict[tuple[int, ...], list[list[tuple[int, int]]]] = {}
    spread_max = 0
    for p, (svc, n, opts, cl) in enumerate(zip(services, replicas, options, local, strict=True)):
        pk.parts.append(p)
        created: list[tuple[int, int]] = []
        running = int(svc.current.sum()) > 0
        choice = {m: pk.var(1) for m in opts}
        pk.choices.update({(p, n, m): w for m, w in choice.items()})
        pk.row([(w, 1) for w in choice.values()], 1, 1)
        by_m: dict[int, list[tuple[int, int]]] = {m: [] for m in opts}
        by_zone: dict[int, dict[int, list[tuple[int, int]]]] = {}
        request = [(r, int(svc.request[r])) for r in range(3) if int(svc.request[r]) > 0]
        for i, c in enumerate(cl):
            here = []
            cap, size, current = c.cap, c.size, c.current
            rows = usage.setdefault(c.nodes, [[], [], []]) if c.nodes in binds else None
            for m, w in choice.items():
                if m > cap:
                    continue
                in_zone = by_zone.setdefault(c.zone, {})
                z = pk.columns[p, i, m] = pk.var(size)
                here.append((z, 1))
                by_m[m].append((z, 1))
                in_zone.setdefault(m, []).append((z, 1))
                if running and m > current:
                    moves[z] = m - current
                    created.append((z, m - current))
                pk.row([(z, 1), (w, -size)], -math.inf, 0)
                if rows is not None:
                    for r, amount in request:
                        rows[r].append((z, amount * m))
            if here:
                pk.row(here, 0, c.size)
        for m, w in choice.items():
            pk.row([*by_m[m], (w, -(n // m))], 0, 0)
        if least_moves[p] > 0:
            pk.row(created, least_moves[p], math.inf)
        least = _min_zones(svc)
        used = []
        for z, cols in sorted(by_zone.items()):
            a = pk.zones[p, z] = pk.var(1)
            pk.row([(a, 1), *((v, -1) for m_cols in cols.values() for v, _ in m_cols)], -math.inf, 0)
            used.append((a, 1))
            if least >= 2:
                # a valid cut: the other least - 1 used zones hold a node each
                for m, mine in cols.items():
                    pk.row([*mine, (choice[m], -(n // m - least + 1))], -math.inf, 0)
        pk.row(used, least, math.inf)
        spread_max += (total_nodes + 1) * len(by_zone) + n // min(opts)
    for nodes, rows in usage.items():
        for r in range(3):
            if rows[r]:
                pk.row(rows[r], -math.inf, float(free[nodes[0], r]))
    # one objective, W moves - spread with W above the largest spread: lexicographic (fewest moves, then spread)
    weight = spread_max + 1
    for v in pk.columns.values():
        pk.cost[v] = weight * moves.get(v, 0) - 1
    for a in pk.zones.values():
        pk.cost[a] = -(total_nodes + 1)
    return _Model(pk, moves, local, len(classes), len(binds))


def _expand(model: _Model, nodes: dict[tuple[int, int, int], int], size: int) -> list[IntArray]:
    """Pods per node for each Service: the first nodes of each class take m Pods each."""
    out = [np.zeros(size, dtype=np.int64) for _ in model.local]
    taken: dict[tuple[int, int], int] = {}
    for (p, i, m), k in sorted(nodes.items()):
        if k <= 0:
            continue
        cls = model.local[p][i]
        start = taken.get((p, i), 0)
        out[p][list(cls.nodes[start : start + k])] = m
        taken[p, i] = start + k
    return out


def solve_even(
    inst: Instance,
    order: list[ObjectiveTerm],
    weights: dict[ObjectiveTerm, float] | None,
    optima: dict[int, dict[ObjectiveTerm, int]],
    *,
    budget: float,
    seed: int,
    wall: float,
) -> EvenOutcome:
    """The whole request's lexicographic optimum when every Service is even at once (module docstring)."""
    services = list(inst.services)
    if weights or tuple(order) != CANONICAL or not all(qualifies(svc) for svc in services):
        return EvenOutcome(None)
    replicas, least_moves = [], []
    for svc in services:
        own = optima.get(svc.index, {})
        if own.get("balance") != RATIO_SCALE:
            return EvenOutcome(None)
        if svc.replicas_min == svc.replicas_max:
            replicas.append(svc.replicas_min)
        elif "replicas" in own:
            replicas.append(own["replicas"])
        else:
            return EvenOutcome(None)
        # its own fewest moves hold at its own replicas, which it runs here
        least_moves.append(own.get("moves", 0))
    model = build_even(services, replicas, least_moves, inst.free, inst.cluster.zone)
    if model is None:
        return EvenOutcome(None)
    # measured on 100 x 20 under pressure (15 seeds): without symmetry detection 6.2 deterministic seconds in all
    # against 6.7 with it; hinting the first pass's plans (repaired by the search) took 8.0. One presolve round
    # instead of CP-SAT's default (whose later rounds find little here): 5.55 against 6.20 over those
    # seeds, lower on every seed, the same plans
    result = pack(model.pk, budget=budget, seed=seed, wall=wall, symmetry=False, presolve_rounds=1)
    failed = EvenOutcome(None, result.spent, result.wall_cut)
    if not result.optimal or result.nodes is None:
        return failed
    placed = _expand(model, result.nodes, inst.cluster.size)
    # the engine re-scores the plan: every Service at 1.0 within every rule, every node within its capacity
    demand = np.zeros_like(inst.free)
    for svc, pods in zip(services, placed, strict=True):
        if violations(svc, inst.cluster, inst.free, pods):
            return failed
        if abs(score(svc, inst.cluster, pods).hottest_ratio - 1.0) > TOLERANCE:
            return failed
        demand += pods[:, None] * svc.request[None, :]
    if (demand > inst.free).any():
        return failed
    moved = sum(
        model.moves.get(v, 0) * k for v, k in zip(model.pk.columns.values(), result.nodes.values(), strict=True)
    )
    spread = 0
    for pods in placed:
        used = pods > 0
        spread += (inst.cluster.size + 1) * len({int(z) for z in inst.cluster.zone[used]}) + int(used.sum())
    ranged = sum(n for svc, n in zip(services, replicas, strict=True) if svc.replicas_min != svc.replicas_max)
    seconds = round(result.spent, 4)
    stages = [
        _proven("balance", 1.0, "worst hottest-Pod ratio over the Services (1.0 is the least possible)", seconds),
        _proven("balance", float(len(services)), "sum of hottest-Pod ratios"),
    ]
    if ranged:
        stages.append(_proven("replicas", float(ranged), "each Service at its own fewest replicas for ratio 1.0"))
    if any(int(svc.current.sum()) > 0 for svc in services):
        stages.append(_proven("moves", float(moved)))
    stages.append(_proven("spread", float(spread)))
    plan = EvenPlan(
        placements={svc.index: pods for svc, pods in zip(services, placed, strict=True)},
        stages=stages,
        replicas=ranged,
        moves=moved,
        spread=spread,
        variables=len(model.pk.upper),
        classes=model.classes,
        binding_nodes=model.binding_nodes,
    )
    return EvenOutcome(plan, result.spent)


def _proven(term: ObjectiveTerm, value: float, note: str | None = None, seconds: float = 0.0) -> StageReport:
    """A stage the packing proved: its value is also its bound."""
    return StageReport(term=term, status="optimal", objective=value, bound=value, gap=0.0, seconds=seconds, note=note)
