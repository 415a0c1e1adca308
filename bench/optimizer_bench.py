"""Placement optimizer benchmark: time, status, gap and engine-measured quality against every baseline.

Usage: python bench/optimizer_bench.py [--quick] [--case TEXT] [--out bench/results/optimizer.md]

Instances: "roomy" clusters (plenty of free capacity everywhere), and "capacity pressure": every node already runs
other Pods whose random requests leave fragmented free cpu, the Services' Pods request 1 to 2 cpu so they fit
only on some nodes, and the Services together ask for about 90 % of the free cpu, with replica ranges, HA minimums
(3 nodes, 2 zones), half of the Services already running somewhere (fewest moves) and optionally an N-1 bound or
cross-zone balancing off. Time inside CP-SAT (model building and solving) is reported apart from the time to run
and engine-score the baselines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

import msgspec

from planner.optimizer import recommend
from planner.optimizer.schema import Recommendation, RecommendRequest

ZONES = "abc"


def _node(i: int, zone: str, cpu: int, pods: int = 110) -> dict[str, Any]:
    return {"name": f"n{i}", "zone": zone, "allocatable": {"cpu": str(cpu), "memory": "64Gi", "pods": str(pods)}}


def _plan(
    name: str, replicas: int, cpu_milli: int, cross_zone: bool, placement: dict[str, int] | None = None
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "ServicePlan",
        "metadata": {"name": name},
        "spec": {
            "clusterRef": "bench",
            "service": {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {
                    "type": "LoadBalancer",
                    "selector": labels,
                    "ports": [{"port": 80}],
                    "externalTrafficPolicy": "Local",
                },
            },
            "workload": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": name,
                                    "image": "nginx:1.27",
                                    "resources": {"requests": {"cpu": f"{cpu_milli}m"}},
                                }
                            ]
                        },
                    },
                },
            },
            "traffic": {
                "external": {
                    "connectionsPerSecond": 1000,
                    "loadBalancer": {"model": "nodeEqual", "crossZone": cross_zone},
                }
            },
            **({"placement": {"podsPerNode": placement}} if placement else {}),
        },
    }


def build(
    nodes: int,
    services: int,
    replicas: tuple[int, int],
    *,
    pressure: bool,
    node_loss: bool,
    cross_zone: bool = True,
    seed: int = 1,
    time_limit: float = 10.0,
    similar: bool = False,
) -> RecommendRequest:
    rng = random.Random(seed)
    counts = [rng.randint(*replicas) for _ in range(services)]
    pods: list[dict[str, Any]] = []
    if pressure:
        sizes = [rng.choice([4, 8, 16]) for _ in range(nodes)]
        used = [round(size * 1000 * rng.uniform(0.3, 0.9) / 50) * 50 for size in sizes]
        for i, milli in enumerate(used):
            pods.append(
                {
                    "name": f"other-{i}",
                    "namespace": "batch",
                    "node": f"n{i}",
                    "labels": {"app": "batch"},
                    "requests": {"cpu": f"{milli}m"},
                }
            )
        requests = [rng.choice([1000, 1500, 2000]) for _ in range(services)]
        free = sum(size * 1000 - u for size, u in zip(sizes, used, strict=True))
        demand = sum(c * r for c, r in zip(counts, requests, strict=True))
        if demand > 0.9 * free:
            scale = 0.9 * free / demand
            counts = [max(3, int(c * scale)) for c in counts]
    else:
        sizes = [8 if similar else rng.choice([8, 16, 32]) for _ in range(nodes)]
        requests = [500] * services
    node_docs = [_node(i, ZONES[i % len(ZONES)], sizes[i]) for i in range(nodes)]
    goals = []
    for s in range(services):
        placement = None
        if pressure and s % 2 == 0:
            # already running, one Pod per node on the first nodes that are eligible by name order
            start = rng.randrange(nodes)
            placement = {f"n{(start + k) % nodes}": 1 for k in range(min(counts[s], nodes))}
        goal: dict[str, Any] = {
            "plan": _plan(f"svc{s}", counts[s], requests[s], cross_zone, placement),
            "highAvailability": {"minZones": 2, "minNodes": 3 if nodes > 3 else 2},
        }
        if pressure:
            goal["replicaRange"] = {"min": counts[s], "max": counts[s] + max(1, counts[s] // 4)}
        if node_loss:
            goal["highAvailability"]["robustness"] = {"nodeLossMaxRatio": 1.5}
        goals.append(goal)
    raw = {
        "cluster": {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "bench"},
            "spec": {"nodes": node_docs, "pods": pods},
        },
        "services": goals,
        "solver": {"timeLimitSeconds": time_limit, "numWorkers": 1, "randomSeed": 1},
        "includeManifests": False,
    }
    return msgspec.convert(raw, RecommendRequest)


def summarize(result: Recommendation) -> dict[str, Any]:
    placed = [s for s in result.services if s.replicas]
    plan_ratios = [s.quality.hottest_pod_ratio for s in placed]
    base: dict[str, list[float]] = {}
    unplaced: dict[str, int] = {}
    valid: dict[str, bool] = {}
    for s in result.services:
        for b in s.baselines:
            base.setdefault(b.name, []).append(b.quality.hottest_pod_ratio)
            unplaced[b.name] = unplaced.get(b.name, 0) + b.unplaced
            valid[b.name] = valid.get(b.name, True) and b.meets_constraints
    balance = next((st for st in result.stages if st.term == "balance"), None)
    gaps = [s.balance_gap for s in placed if s.balance_gap is not None]
    n1 = [s.quality.node_loss_worst_ratio or 0.0 for s in placed]
    plan_worst = max(plan_ratios, default=0.0)
    valid_worst = [max(v) for k, v in base.items() if valid[k] and k != "daemonSet"]
    return {
        "status": result.status,
        "balance_gap": None if balance is None else balance.gap,
        "service_gap": max(gaps, default=0.0),
        "plan_worst": plan_worst,
        "plan_mean": statistics.fmean(plan_ratios) if plan_ratios else 0.0,
        "plan_unplaced": sum(1 for s in result.services if not s.replicas),
        "plan_n1_worst": max(n1, default=0.0),
        "baseline_worst": {k: max(v) for k, v in base.items()},
        "baseline_unplaced": unplaced,
        "baseline_valid": valid,
        "never_worse": all(plan_worst <= w + 1e-9 for w in valid_worst),
        "fallbacks": sum(1 for s in result.services if s.source == "baseline"),
        "decomposition": result.statistics.decomposition,
        "joint": result.statistics.joint_choice,
        "joint_status": result.statistics.joint_status,
        "joint_services": result.statistics.joint_services,
        "binding": result.statistics.joint_binding_nodes,
        "classes": result.statistics.node_classes,
        "solver_seconds": result.statistics.solver_seconds,
        "wall_cut": result.statistics.wall_clock_limit_reached,
        "baseline_seconds": result.statistics.baseline_seconds,
    }


def _case(
    label: str, nodes: int, services: int, replicas: tuple[int, int], runs: int, **kw: Any
) -> tuple[str, dict[str, Any], int]:
    return (label, {"nodes": nodes, "services": services, "replicas": replicas, **kw}, runs)


CASES: list[tuple[str, dict[str, Any], int]] = [
    _case("3 nodes, 1 Service (10 replicas)", 3, 1, (10, 10), 20, pressure=False, node_loss=False),
    _case("3 nodes, 1 Service, capacity pressure", 3, 1, (4, 10), 20, pressure=True, node_loss=False),
    _case("3 nodes, 1 Service, N-1 bound 1.5", 3, 1, (10, 10), 20, pressure=False, node_loss=True),
    _case("100 x 20, roomy", 100, 20, (5, 40), 5, pressure=False, node_loss=False),
    _case("100 x 20, capacity pressure", 100, 20, (5, 40), 5, pressure=True, node_loss=False),
    _case("100 x 20, capacity pressure, N-1 1.5", 100, 20, (5, 40), 5, pressure=True, node_loss=True),
    _case(
        "100 x 20, capacity pressure, cross-zone off",
        100,
        20,
        (5, 40),
        5,
        pressure=True,
        node_loss=False,
        cross_zone=False,
    ),
    _case("100 x 20, N-1 bound 1.5", 100, 20, (5, 40), 5, pressure=False, node_loss=True),
    _case("1,000 x 50, roomy", 1000, 50, (5, 60), 1, pressure=False, node_loss=False),
    _case("1,000 x 50, capacity pressure", 1000, 50, (5, 60), 1, pressure=True, node_loss=False),
    _case("1,000 x 50, capacity pressure, N-1 1.5", 1000, 50, (5, 60), 1, pressure=True, node_loss=True),
    _case("5,000 similar x 1 (300 replicas)", 5000, 1, (300, 300), 3, pressure=False, node_loss=False, similar=True),
    _case("5,000 x 1 (300 replicas), capacity pressure", 5000, 1, (300, 300), 1, pressure=True, node_loss=False),
    _case(
        "5,000 similar x 1 (300 replicas), N-1 1.5",
        5000,
        1,
        (300, 300),
        1,
        pressure=False,
        node_loss=True,
        similar=True,
    ),
]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only the small cases, one run each")
    parser.add_argument("--case", default=None, help="only the cases whose label contains this text")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for label, kw, runs in CASES:
        if args.quick and kw["nodes"] > 100:
            continue
        if args.case is not None and args.case not in label:
            continue
        walls: list[float] = []
        solver: list[float] = []
        baseline: list[float] = []
        summaries: list[dict[str, Any]] = []
        for run in range(1 if args.quick else runs):
            req = build(**kw, seed=1 + run)
            started = time.perf_counter()
            result = recommend(req)
            walls.append(time.perf_counter() - started)
            summary = summarize(result)
            solver.append(summary["solver_seconds"])
            baseline.append(summary["baseline_seconds"])
            summaries.append(summary)
        summary = max(summaries, key=lambda x: x["plan_worst"])  # the worst seed is shown
        statuses = sorted(
            {f"{x['status']} ({x['decomposition']}{', ' + x['joint'] if x['joint'] else ''})" for x in summaries}
        )
        base = summary["baseline_worst"]
        unplaced = summary["baseline_unplaced"]
        baseline_text = ", ".join(
            f"{k} {v:.3f}"
            + (f" ({unplaced[k]} unplaced)" if unplaced.get(k) else "")
            + ("" if summary["baseline_valid"][k] else " invalid")
            + (f" x{v / summary['plan_worst']:.2f}" if summary["plan_worst"] else "")
            for k, v in base.items()
        )
        gap = summary["balance_gap"]
        rows.append(
            f"| {label} | {len(walls)} | {statistics.median(walls) * 1000:.0f} / {_p95(walls) * 1000:.0f} | "
            f"{statistics.median(solver) * 1000:.0f} / {_p95(solver) * 1000:.0f} | "
            f"{statistics.median(baseline) * 1000:.0f} | {'; '.join(statuses)} | "
            f"{'-' if gap is None else f'{gap:.4f}'} / {summary['service_gap']:.4f} | "
            f"{summary['plan_worst']:.3f} / {summary['plan_mean']:.3f} | {summary['plan_n1_worst']:.3f} | "
            f"{baseline_text} | {'yes' if all(x['never_worse'] for x in summaries) else 'NO'} | "
            f"{summary['joint_services']} / {summary['binding']} | {summary['classes']} | "
            f"{sum(1 for x in summaries if x['wall_cut'])} / {len(summaries)} |"
        )
        print(rows[-1], flush=True)
    header = [
        "# Placement optimizer benchmark",
        "",
        "Command: `python bench/optimizer_bench.py --out bench/results/optimizer.md` (1 CP-SAT worker, deterministic",
        "budget of 10 s per request, and the same 10 s as a hard wall-clock limit on the whole request: every solve",
        "stops at the time left; `wall cut` counts the runs where the wall clock stopped a solve before its",
        "deterministic budget, whose answers depend on the machine's speed and load). Quality is engine-measured",
        "(planner.engine.placement_score): hottest-Pod ratio (1.0 = even). Baselines run Service after Service with",
        "shared capacity, as the scheduler would: defaultScheduler (least-allocated + default soft spread),",
        "spreadMaxSkew1, mostAllocated, daemonSet (one Pod per eligible node, ignores the replica count);",
        "`(k unplaced)` counts Pods left Pending over all Services, `invalid` marks a baseline that breaks a rule",
        "(Pending Pods, replica range, HA minimums, N-1 bound) for some Service, and `xR` is its worst ratio over the",
        "plan's worst. Rows with several runs use seeds 1..runs; the quality columns show the seed with the worst",
        "plan. Times: total wall, then time inside CP-SAT (first pass, sequential re-solve, joint model), then",
        "baseline scoring, each as median / p95 in ms. Balance gap: the merged balance stage's solver gap / the",
        "largest per-Service gap against that Service's own uncoupled optimum. Never worse: the plan's worst ratio",
        "is at most every baseline's that placed all Pods within every rule. Joint: coupled Services / nodes where",
        "capacity binds (modelled one by one).",
        "",
        "| case | runs | wall ms | CP-SAT ms | baselines ms | status | balance gap (solver / per Service) | "
        "plan worst / mean | plan N-1 worst | baseline worst ratio | never worse | joint | classes | wall cut |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    text = "\n".join(header + rows) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
