"""Placement optimizer benchmark: time, status, gap and engine-measured quality against every baseline.

Usage: python bench/optimizer_bench.py [--quick] [--out bench/results/optimizer.md]
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


def _plan(name: str, replicas: int, cpu_milli: int, cross_zone: bool) -> dict[str, Any]:
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
    demand_cpu = sum(counts) * 500  # millicores
    if pressure:
        # total cpu about 1.15x the demand, in uneven node sizes: capacity binds on many nodes
        per_node = max(1, round(demand_cpu * 1.15 / nodes / 1000))
        sizes = [max(1, per_node + rng.choice([-1, 0, 0, 1])) for _ in range(nodes)]
    else:
        sizes = [8 if similar else rng.choice([8, 16, 32]) for _ in range(nodes)]
    node_docs = [_node(i, ZONES[i % len(ZONES)], sizes[i]) for i in range(nodes)]
    goals = []
    for s in range(services):
        goal: dict[str, Any] = {
            "plan": _plan(f"svc{s}", counts[s], 500, cross_zone),
            "highAvailability": {"minZones": 2, "minNodes": 2},
        }
        if node_loss:
            goal["highAvailability"]["robustness"] = {"nodeLossMaxRatio": 1.5}
        goals.append(goal)
    raw = {
        "cluster": {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "bench"},
            "spec": {"nodes": node_docs},
        },
        "services": goals,
        "solver": {"timeLimitSeconds": time_limit, "numWorkers": 1, "randomSeed": 1},
        "includeManifests": False,
    }
    return msgspec.convert(raw, RecommendRequest)


def summarize(result: Recommendation) -> dict[str, Any]:
    plan_ratios = [s.quality.hottest_pod_ratio for s in result.services if s.replicas]
    base: dict[str, list[float]] = {}
    unplaced: dict[str, int] = {}
    for s in result.services:
        for b in s.baselines:
            base.setdefault(b.name, []).append(b.quality.hottest_pod_ratio)
            unplaced[b.name] = unplaced.get(b.name, 0) + b.unplaced
    balance = next((st for st in result.stages if st.term == "balance"), None)
    n1 = [s.quality.node_loss_worst_ratio or 0.0 for s in result.services if s.replicas]
    return {
        "status": result.status,
        "balance_gap": None if balance is None else balance.gap,
        "plan_worst": max(plan_ratios, default=0.0),
        "plan_mean": statistics.fmean(plan_ratios) if plan_ratios else 0.0,
        "plan_n1_worst": max(n1, default=0.0),
        "baseline_worst": {k: max(v) for k, v in base.items()},
        "baseline_unplaced": unplaced,
        "fallbacks": sum(1 for s in result.services if s.source == "baseline"),
        "decomposition": result.statistics.decomposition,
        "classes": result.statistics.node_classes,
    }


CASES: list[tuple[str, dict[str, Any], int]] = [
    (
        "3 nodes, 1 Service (10 replicas)",
        {"nodes": 3, "services": 1, "replicas": (10, 10), "pressure": False, "node_loss": False},
        20,
    ),
    (
        "100 nodes x 20 Services, roomy",
        {"nodes": 100, "services": 20, "replicas": (5, 40), "pressure": False, "node_loss": False},
        5,
    ),
    (
        "100 nodes x 20 Services, capacity pressure",
        {"nodes": 100, "services": 20, "replicas": (5, 40), "pressure": True, "node_loss": False},
        5,
    ),
    (
        "100 nodes x 20 Services, cross-zone off",
        {"nodes": 100, "services": 20, "replicas": (5, 40), "pressure": False, "node_loss": False, "cross_zone": False},
        5,
    ),
    (
        "100 nodes x 20 Services, N-1 bound 1.5",
        {"nodes": 100, "services": 20, "replicas": (5, 40), "pressure": False, "node_loss": True},
        5,
    ),
    (
        "1,000 nodes x 50 Services, roomy",
        {"nodes": 1000, "services": 50, "replicas": (5, 60), "pressure": False, "node_loss": False},
        1,
    ),
    (
        "1,000 nodes x 50 Services, capacity pressure",
        {"nodes": 1000, "services": 50, "replicas": (5, 60), "pressure": True, "node_loss": False},
        1,
    ),
    (
        "1,000 nodes x 50 Services, N-1 bound 1.5",
        {"nodes": 1000, "services": 50, "replicas": (5, 60), "pressure": False, "node_loss": True},
        1,
    ),
    (
        "5,000 similar nodes x 1 Service (300 replicas)",
        {"nodes": 5000, "services": 1, "replicas": (300, 300), "pressure": False, "node_loss": False, "similar": True},
        3,
    ),
    (
        "5,000 nodes x 1 Service (300 replicas), capacity pressure",
        {"nodes": 5000, "services": 1, "replicas": (300, 300), "pressure": True, "node_loss": False},
        1,
    ),
    (
        "5,000 similar nodes x 1 Service (300 replicas), N-1 bound 1.5",
        {"nodes": 5000, "services": 1, "replicas": (300, 300), "pressure": False, "node_loss": True, "similar": True},
        1,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only the small cases, one run each")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for label, kw, runs in CASES:
        if args.quick and kw["nodes"] > 100:
            continue
        times = []
        summary: dict[str, Any] = {}
        for run in range(1 if args.quick else runs):
            req = build(**kw, seed=1 + run)
            started = time.perf_counter()
            result = recommend(req)
            times.append(time.perf_counter() - started)
            summary = summarize(result)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        base = summary["baseline_worst"]
        unplaced = summary["baseline_unplaced"]
        baseline_text = ", ".join(
            f"{k} {v:.3f}" + (f" ({unplaced[k]} unplaced)" if unplaced.get(k) else "") for k, v in base.items()
        )
        gap = summary["balance_gap"]
        rows.append(
            f"| {label} | {len(times)} | {statistics.median(times) * 1000:.0f} | {p95 * 1000:.0f} | "
            f"{summary['status']} ({summary['decomposition']}) | {'-' if gap is None else f'{gap:.4f}'} | "
            f"{summary['plan_worst']:.3f} / {summary['plan_mean']:.3f} | {summary['plan_n1_worst']:.3f} | "
            f"{baseline_text} | {summary['fallbacks']} | {summary['classes']} |"
        )
        print(rows[-1], flush=True)
    header = [
        "# Placement optimizer benchmark",
        "",
        "Command: `python bench/optimizer_bench.py --out bench/results/optimizer.md` (1 CP-SAT worker, deterministic,",
        "10 s budget per request, 2-core machine). Quality is engine-measured (planner.engine.placement_score):",
        "hottest-Pod ratio (1.0 = even) of the plan, worst and mean over the Services, and each baseline's worst.",
        "Baselines: defaultScheduler (least-allocated + default soft spread), spreadMaxSkew1, mostAllocated,",
        "daemonSet (one Pod per eligible node, ignores the replica count). Unplaced: Pods the baseline left Pending.",
        "",
        "| case | runs | median ms | p95 ms | status | balance gap | plan worst / mean | plan N-1 worst | "
        "baseline worst ratio | fallbacks | classes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    text = "\n".join(header + rows) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
