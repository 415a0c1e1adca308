"""Request and result schemas of the placement optimizer (camelCase on the wire).

A :class:`RecommendRequest` holds one cluster, one or more Service plans with their goals (replicas, high
availability, per-Pod capacity), the lexicographic objective order and the solver parameters. The
:class:`Recommendation` answers per Service with the chosen Pods per node, the engine-measured quality of the plan
and of each baseline, each solver stage with its status and gap, and an explanation when nothing fits.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from planner.domain.base import Schema
from planner.domain.documents import Cluster, ServicePlan
from planner.domain.types import Fraction01, PositiveRatio, Rate

ObjectiveTerm = Literal["balance", "replicas", "moves", "spread"]
"""balance: hottest Pod's share over the mean share; replicas: fewest replicas (when a range is given);
moves: fewest Pods created on nodes that do not already run them; spread: most zones, then most nodes."""

SolveStatus = Literal["optimal", "feasible", "infeasible", "timedOut"]
StageStatus = Literal["optimal", "feasible", "infeasible", "timedOut", "skipped"]
BalanceModel = Literal["nodeLocal", "zonePods", "uniform", "leader"]
"""How placement changes the per-Pod share:
nodeLocal: ETP Local behind an equal-per-node load balancer, a Pod on node n gets T / (K x_n) (per zone when
cross-zone balancing is off); zonePods: IP targets without cross-zone balancing, a Pod in zone z gets T / (Z N_z);
uniform: every Pod gets T / N whatever the placement (ETP Cluster, weighted LB, IP targets across zones);
leader: one announcing node (MetalLB L2) takes everything, placement cannot fix it."""

DEFAULT_ORDER: tuple[ObjectiveTerm, ...] = ("balance", "replicas", "moves", "spread")

Count = Annotated[int, msgspec.Meta(ge=0, le=150_000)]
PositiveCount = Annotated[int, msgspec.Meta(ge=1, le=150_000)]


class ReplicaRange(Schema):
    min: PositiveCount
    max: PositiveCount

    def __post_init__(self) -> None:
        if self.min > self.max:
            msg = "replicaRange.min must be at most replicaRange.max"
            raise ValueError(msg)


class Robustness(Schema):
    """Bounds that must still hold after a failure, once the load balancer has detected it."""

    node_loss_max_ratio: PositiveRatio | None = None
    """After losing any one node: hottest-Pod ratio at most this, and no traffic dropped (needs >= 2 nodes)."""
    zone_loss_max_ratio: PositiveRatio | None = None
    """After losing any one zone: hottest-Pod ratio at most this, and no traffic dropped (needs >= 2 zones)."""
    rollout_max_ratio: PositiveRatio | None = None
    """During a RollingUpdate with the workload's maxUnavailable: the hottest Pod's share over the steady-state
    mean share (1/N) stays at most this in the worst intermediate state (see ``rollout.py``)."""


class HighAvailability(Schema):
    min_nodes: PositiveCount = 1
    min_zones: PositiveCount = 1
    max_pods_per_node: PositiveCount | None = None
    """Unset: from the workload (required Pod anti-affinity on ``kubernetes.io/hostname`` means 1), else no limit."""
    robustness: Robustness | None = None


class ServiceGoal(Schema):
    """One Service plan to place, and what its placement must satisfy."""

    plan: ServicePlan
    replicas: PositiveCount | None = None
    """Fixed replica count. Unset (and no range): the workload's ``spec.replicas`` (default 1)."""
    replica_range: ReplicaRange | None = None
    high_availability: HighAvailability = msgspec.field(default_factory=HighAvailability)
    pod_capacity_connections_per_second: Rate | None = None
    """What one Pod can serve; hard limit. Unset: ``plan.spec.requirements.podCapacityConnectionsPerSecond``."""

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replica_range is not None:
            msg = "set either replicas or replicaRange, not both"
            raise ValueError(msg)


class Objective(Schema):
    order: Annotated[list[ObjectiveTerm], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_ORDER)
    )
    """Lexicographic: each stage is solved, then its optimum is fixed as a constraint for the next."""
    weights: dict[ObjectiveTerm, Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]] | None = None
    """Alternative to a pure order: the weighted terms form one first stage, minimising the sum of weight x term
    (per unit: 1.0 of hottest-Pod ratio, one replica, one Pod moved, one unit of spread, which counts against);
    the terms of ``order`` without a weight follow as lexicographic tie-breakers. Each term's value and the
    balance gap (from a separate balance-only bound) are reported per stage."""

    def __post_init__(self) -> None:
        if len(set(self.order)) != len(self.order):
            msg = "objective.order must not repeat a term"
            raise ValueError(msg)
        if self.weights is not None and not any(w > 0 for w in self.weights.values()):
            msg = "objective.weights needs at least one positive weight"
            raise ValueError(msg)


class SolverParams(Schema):
    time_limit_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    """Solver budget of the request. Deterministic solves count it in CP-SAT's deterministic time units (the
    same answer on any machine); it is also the default wall-clock limit."""
    wall_clock_limit_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] | None = None
    """Hard wall-clock bound for the whole request: baselines, every solve and the result (default
    timeLimitSeconds). When it stops the search before the deterministic budget, the result says so
    (``statistics.wallClockLimitReached``) and depends on the machine's speed and load."""
    random_seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    deterministic: bool = True
    """Same input and seed give the same plan: 1 worker, or ``interleave_search`` for more, with a deterministic
    time limit."""
    num_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    relative_gap_limit: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0


class RecommendRequest(Schema):
    cluster: Cluster
    services: Annotated[list[ServiceGoal], msgspec.Meta(min_length=1, max_length=1000)]
    objective: Objective = msgspec.field(default_factory=Objective)
    solver: SolverParams = msgspec.field(default_factory=SolverParams)
    include_manifests: bool = True

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for goal in self.services:
            key = (goal.plan.metadata.namespace, goal.plan.metadata.name)
            if key in seen:
                msg = f"service plan {key[0]}/{key[1]} appears twice"
                raise ValueError(msg)
            seen.add(key)


# --- result ----------------------------------------------------------------------------------------------------


class PlacementQuality(Schema):
    """Engine-measured numbers of one placement (steady state, then after failures once detected)."""

    hottest_pod_ratio: float
    coefficient_of_variation: float
    dropped_fraction: Fraction01
    node_loss_worst_ratio: float | None = None
    """Worst hottest-Pod ratio after losing any one node that runs Pods, once the LB has removed it."""
    node_loss_dropped_fraction: Fraction01 | None = None
    """Worst fraction dropped after losing one node, once detected (non-zero only if no Pods remain)."""
    node_loss_detection_dropped_fraction: Fraction01 | None = None
    """Worst fraction the failed node was receiving, dropped until the LB detects the failure."""
    zone_loss_worst_ratio: float | None = None
    zone_loss_dropped_fraction: Fraction01 | None = None
    rollout_worst_ratio: float | None = None
    """Worst hottest-Pod share during a RollingUpdate over the steady-state mean share (1/N), with the
    workload's maxUnavailable Pods down in the worst place (``rollout.py``); None without a workload."""
    rollout_max_unavailable: int | None = None
    rollout_max_surge: int | None = None


class StageReport(Schema):
    term: ObjectiveTerm
    status: StageStatus
    objective: float | None = None
    """In the term's own unit: hottest-Pod ratio, replicas, Pods moved, or zones x (nodes + 1) + nodes."""
    bound: float | None = None
    gap: float | None = None
    """Relative gap of this term alone: |objective - bound| / |objective|."""
    seconds: float = 0.0
    note: str | None = None


class BaselineReport(Schema):
    name: Literal["current", "defaultScheduler", "spreadMaxSkew1", "mostAllocated", "daemonSet"]
    replicas: int
    unplaced: int
    """Pods the strategy could not place (they would stay Pending)."""
    pods_per_node: dict[str, int]
    quality: PlacementQuality
    meets_constraints: bool
    violations: list[str] = msgspec.field(default_factory=list)
    hottest_ratio_improvement: float | None = None
    """Baseline hottest-Pod ratio divided by the plan's (above 1: the plan is better)."""


class Manifests(Schema):
    yaml: str
    diff: str
    reproduces_plan: bool
    """Whether the emitted constraints pin the plan's Pods per node exactly."""
    scheduler_note: str
    """What the scheduler may produce instead, and its hottest-Pod ratio, when the plan is not pinned."""


class ServiceRecommendation(Schema):
    name: str
    namespace: str
    balance_model: BalanceModel
    status: SolveStatus
    replicas: int
    pods_per_node: dict[str, int]
    quality: PlacementQuality
    """The engine's numbers for the plan; they must match the solver's objective."""
    solver_hottest_pod_ratio: float | None = None
    """The ratio implied by the solver's balance objective (an upper bound on the true one)."""
    source: Literal["solver", "baseline"] = "solver"
    """``baseline`` when the solver found nothing better within its limit and the best baseline was kept."""
    baselines: list[BaselineReport] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    policy_recommendation: str | None = None
    not_evaluated: list[str] = msgspec.field(default_factory=list)
    manifests: Manifests | None = None
    balance_bound: float | None = None
    """Lower bound on this Service's hottest-Pod ratio: its own optimum when solved alone against the cluster's
    free capacity (no other Service can make it more even)."""
    balance_gap: float | None = None
    """(engine-measured ratio - balance_bound) / ratio: how far sharing capacity (or a time limit) left it."""
    rollout: str | None = None
    """The RollingUpdate evaluation in words: Pods down at once, the worst state and its hottest-Pod ratio."""
    disruption: str | None = None
    """The PodDisruptionBudget check: whether the emitted PDB lets a chosen node drain, and why."""


class Conflict(Schema):
    group: str
    message: str


class Explanation(Schema):
    service: str
    conflicts: list[Conflict]
    relaxations: list[str]


class SolveStatistics(Schema):
    wall_seconds: float
    services: int
    nodes: int
    node_classes: int
    """Equivalence classes (zone, Pods that fit, eligibility, current Pods) summed over the per-Service models."""
    decomposition: Literal["uncoupled", "joint"]
    joint_services: int = 0
    joint_variables: int = 0
    branches: int = 0
    conflicts: int = 0
    solver_seconds: float = 0.0
    """Wall time inside CP-SAT model building and solving (first pass, sequential re-solve and joint model)."""
    baseline_seconds: float = 0.0
    """Wall time to run and engine-score the baselines."""
    joint_status: StageStatus | None = None
    """Status of the joint model over the coupled Services, when one ran."""
    joint_classes: int = 0
    joint_binding_nodes: int = 0
    """Nodes where capacity binds, modelled one by one with a joint cpu, memory and Pod-slot constraint."""
    joint_choice: Literal["joint", "sequential", "baseline"] | None = None
    """Which plan for the coupled Services the engine scored best (ties go to the joint model)."""
    wall_clock_limit_seconds: float | None = None
    """The wall-clock limit that bounded the whole request (``wallClockLimitSeconds``, else ``timeLimitSeconds``)."""
    wall_clock_limit_reached: bool = False
    """The wall-clock limit stopped a solve before its deterministic budget (or left no time to start one): the
    result then depends on the machine's speed and load, not only on the input and seed."""


class Recommendation(Schema):
    status: SolveStatus
    services: list[ServiceRecommendation]
    stages: list[StageReport]
    """Per term, the weakest status over all Services (and the joint model, if one ran)."""
    statistics: SolveStatistics
    objective_order: list[ObjectiveTerm]
    certificate: str | None = None
    explanations: list[Explanation] = msgspec.field(default_factory=list)
