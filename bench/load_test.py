"""Bounded load test of a local service: concurrent evaluate and apply requests for a fixed time.

Starts ``planner serve`` on a free loopback port (SQLite file or a fresh PostgreSQL database), then runs
``--clients`` asyncio httpx clients for ``--seconds``: half send ``POST /v1/evaluate`` with an inline cluster and
Service, half apply new revisions of their own Cluster document (``PUT``). Reports throughput and p50/p99 latency
per request kind, and checks that no write was lost: every accepted apply is one revision in the history, and
the revision count equals the number of accepted applies.

    python bench/load_test.py --seconds 20 --clients 16 --output bench/results/load.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PLANNER = str(Path(sys.executable).parent / "planner")
POSTGRES_ADMIN = os.environ.get("PLANNER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NAMESPACE = "load"
JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster(name: str, cpu: int) -> dict:
    nodes = [
        {
            "name": f"node-{i}",
            "zone": f"zone-{i % 3}",
            "allocatable": {"cpu": str(cpu), "memory": "16Gi", "pods": "110"},
        }
        for i in range(6)
    ]
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"nodes": nodes},
    }


EVALUATE_BODY = json.dumps(
    [
        {**cluster("inline", 4), "metadata": {"name": "inline", "namespace": NAMESPACE}},
        {
            "apiVersion": "trafficplanner.io/v1",
            "kind": "ServicePlan",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {
                "clusterRef": "inline",
                "service": {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "web", "namespace": NAMESPACE},
                    "spec": {
                        "type": "LoadBalancer",
                        "selector": {"app": "web"},
                        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                        "externalTrafficPolicy": "Local",
                    },
                },
                "placement": {"podsPerNode": {"node-0": 2, "node-1": 1, "node-3": 1}},
                "traffic": {"external": {"connectionsPerSecond": 300, "loadBalancer": {"model": "nodeEqual"}}},
            },
        },
    ]
)


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"evaluate": [], "apply": []}
        self.errors: dict[str, int] = {"evaluate": 0, "apply": 0}
        self.accepted: dict[str, int] = {}


async def evaluator(client: httpx.AsyncClient, stats: Stats, deadline: float) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await client.post(
            "/v1/evaluate", content=EVALUATE_BODY, headers={"Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            stats.latencies["evaluate"].append(elapsed)
        else:
            stats.errors["evaluate"] += 1


async def writer(client: httpx.AsyncClient, stats: Stats, deadline: float, name: str) -> None:
    cpu = 1
    stats.accepted[name] = 0
    while time.monotonic() < deadline:
        cpu += 1  # every apply changes the content: each accepted one must become a new revision
        started = time.perf_counter()
        response = await client.put(
            f"/v1/namespaces/{NAMESPACE}/clusters/{name}",
            content=json.dumps(cluster(name, cpu)),
            headers={"Content-Type": "application/json"},
        )
        elapsed = time.perf_counter() - started
        if response.status_code in {200, 201}:
            stats.latencies["apply"].append(elapsed)
            stats.accepted[name] += 1
        else:
            stats.errors["apply"] += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(base: str, seconds: float, clients: int) -> tuple[Stats, float, dict[str, int]]:
    stats = Stats()
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        tasks = []
        for i in range(clients):
            if i % 2 == 0:
                tasks.append(evaluator(client, stats, deadline))
            else:
                tasks.append(writer(client, stats, deadline, f"c{i}"))
        await asyncio.gather(*tasks)
        wall = time.monotonic() - started
        history = {}
        for name in stats.accepted:
            response = await client.get(f"/v1/namespaces/{NAMESPACE}/clusters/{name}/revisions")
            history[name] = len(response.json()["items"]) if response.status_code == 200 else 0
    return stats, wall, history


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNER_")}
    env["PLANNER_DATABASE_URL"] = url
    subprocess.run([PLANNER, "db", "upgrade"], env=env, check=True, capture_output=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [PLANNER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the service did not start:\n{log.read_text()}")


def run(backend: str, seconds: float, clients: int, workdir: Path) -> dict:
    created = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'load.db'}"
    else:
        created = f"planner_load_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{created}"
    port = free_port()
    server = start_server(url, port, workdir / f"{backend}.log")
    try:
        stats, wall, history = asyncio.run(drive(f"http://127.0.0.1:{port}", seconds, clients))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if created:
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
    lost = {
        name: (stats.accepted[name], history[name]) for name in stats.accepted if stats.accepted[name] != history[name]
    }
    result = {"backend": backend, "seconds": wall, "clients": clients, "lost": lost, "errors": stats.errors}
    for kind, values in stats.latencies.items():
        result[kind] = {
            "count": len(values),
            "rps": len(values) / wall,
            "p50_ms": percentile(values, 0.50) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "mean_ms": statistics.fmean(values) * 1000 if values else float("nan"),
        }
    return result


def markdown(results: list[dict]) -> str:
    lines = [
        "# Load test: concurrent evaluate and apply",
        "",
        "`bench/load_test.py` against `planner serve` on loopback (one uvicorn process), half the clients posting",
        "`POST /v1/evaluate` (inline 6-node cluster, one Service, ETP Local), half applying new revisions of their own",
        "Cluster (`PUT`). Writes lost = accepted applies missing from the revision history.",
        "",
        "| database | clients | seconds | kind | requests | req/s | p50 ms | p99 ms | errors | writes lost |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        for kind in ("evaluate", "apply"):
            k = r[kind]
            lost = str(len(r["lost"])) if kind == "apply" else ""
            lines.append(
                f"| {r['backend']} | {r['clients']} | {r['seconds']:.1f} | {kind} | {k['count']} | {k['rps']:.1f} | "
                f"{k['p50_ms']:.1f} | {k['p99_ms']:.1f} | {r['errors'][kind]} | {lost} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--output", type=Path, default=None, help="Write the Markdown table here.")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(backend, args.seconds, args.clients, Path(tmp)) for backend in backends]
    text = markdown(results)
    print(text)
    if args.output:
        args.output.write_text(text)
    lost = sum(len(r["lost"]) for r in results)
    if lost:
        print(f"LOST WRITES: {[r['lost'] for r in results]}", file=sys.stderr)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
