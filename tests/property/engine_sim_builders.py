"""Builders for engine inputs: small clusters written out by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from planner.domain.traffic import (
    Callers,
    ExternalTraffic,
    InternalTraffic,
    LoadBalancer,
    Requirements,
    TrafficProfile,
)
from planner.engine.inputs import EngineInput, ServicePolicy


def make_input(
    ready: Sequence[int],
    *,
    zones: Sequence[str | None] | None = None,
    terminating: Sequence[int] | None = None,
    up: Sequence[bool] | None = None,
    policy: ServicePolicy | None = None,
    external: float | None = None,
    lb: LoadBalancer | None = None,
    internal: float | None = None,
    callers: Callers | None = None,
    requirements: Requirements | None = None,
    data_plane: str = "iptables",
    cpu: Sequence[int] | None = None,
    minor: int = 35,
    **traffic: object,
) -> EngineInput:
    n = len(ready)
    zone_list = list(zones) if zones is not None else ["a"] * n
    zone_names = tuple(sorted({z for z in zone_list if z}))
    profile = TrafficProfile(
        external=ExternalTraffic(connections_per_second=external, load_balancer=lb or LoadBalancer())
        if external is not None
        else None,
        internal=InternalTraffic(connections_per_second=internal, callers=callers or Callers())
        if internal is not None
        else None,
        data_plane=data_plane,  # type: ignore[arg-type]
        **traffic,  # type: ignore[arg-type]
    )
    return EngineInput(
        service_name="web",
        node_names=tuple(f"n{i}" for i in range(n)),
        zone=np.array([zone_names.index(z) if z else -1 for z in zone_list], dtype=np.int64),
        zone_names=zone_names,
        node_up=np.array(up if up is not None else [True] * n, dtype=bool),
        node_schedulable=np.ones(n, dtype=bool),
        control_plane=np.zeros(n, dtype=bool),
        cpu_milli=np.array(cpu if cpu is not None else [4000] * n, dtype=np.int64),
        ready=np.array(ready, dtype=np.int64),
        terminating=np.array(terminating if terminating is not None else [0] * n, dtype=np.int64),
        not_ready=np.zeros(n, dtype=np.int64),
        policy=policy or ServicePolicy(type="LoadBalancer", external_traffic_policy="Local"),
        traffic=profile,
        requirements=requirements or Requirements(),
        kubernetes_minor=minor,
    )
