"""Prometheus metrics of the service and its workers (served by ``planner.api.metrics`` at ``/metrics``).

One definition per metric, registered once per process on the default registry (every API replica and worker
exposes its own; Prometheus sums them). Request latency is labelled by route template, never by raw path, so the
label set stays bounded. Nothing here imports the web framework or the database, so workers record into the same
metrics as the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
UNMATCHED_ROUTE = "<unmatched>"

REQUEST_DURATION = Histogram(
    "planner_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)
EVALUATION_DURATION = Histogram(
    "planner_evaluation_duration_seconds", "Time the traffic engine took for one evaluation", buckets=LATENCY_BUCKETS
)
SOLVE_DURATION = Histogram(
    "planner_solve_duration_seconds", "Wall time of one placement solve (CP-SAT)", buckets=LATENCY_BUCKETS
)
SOLVER_STATUS = Counter("planner_solver_status", "Placement solves by final solver status", ("status",))
QUEUE_DEPTH = Gauge("planner_job_queue_depth", "Jobs waiting or running, by queue and state", ("queue", "state"))


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method=method, route=route or UNMATCHED_ROUTE, status=str(status)).observe(seconds)


@contextmanager
def timed_evaluation() -> Iterator[None]:
    """Time one evaluation (also when it fails)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        EVALUATION_DURATION.observe(time.perf_counter() - started)


def record_solve(seconds: float, status: str) -> None:
    """Record a finished solve: its wall time and final status (``optimal``, ``feasible``, ``infeasible``...)."""
    SOLVE_DURATION.observe(seconds)
    SOLVER_STATUS.labels(status=status).inc()
