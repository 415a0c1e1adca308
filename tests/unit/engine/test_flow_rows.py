"""Paths computed together (one row each) give what each path gives alone."""

from __future__ import annotations

import numpy as np
import pytest

from planner.engine.flow import dispatch, dispatch_rows, pod_group_rows, pod_groups
from planner.engine.metrics import pod_load_rows, pod_load_stats
from planner.engine.routing import cluster_routing, direct_routing, local_routing


@pytest.mark.parametrize("seed", range(20))
def test_rows_equal_one_path_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes = int(rng.integers(2, 12))
    ready = rng.integers(0, 3, nodes).astype(np.int64)
    terminating = np.where(rng.random(nodes) < 0.2, 1, 0).astype(np.int64)
    zone = rng.integers(-1 if seed % 5 == 0 else 0, 3, nodes).astype(np.int64)
    multiplicity = rng.integers(1, 4, nodes).astype(np.float64)
    routings = [
        local_routing(ready, terminating, zone),
        cluster_routing(ready, terminating, zone, 3, topology="none", node_hints_enabled=False),
        cluster_routing(ready, terminating, zone, 3, topology="PreferSameZone", node_hints_enabled=False),
        cluster_routing(ready, terminating, zone, 3, topology="PreferSameNode", node_hints_enabled=True),
        direct_routing(zone),
    ]
    inflow = rng.random((len(routings), nodes))
    rows = dispatch_rows(inflow, routings, multiplicity)
    groups = pod_group_rows(rows.ready_load, rows.terminating_load, ready, terminating)
    stats = pod_load_rows(groups.per_pod, groups.pods)
    for i, routing in enumerate(routings):
        alone = dispatch(inflow[i], routing, multiplicity)
        together = rows.row(i)
        for field in ("received", "forwarded", "served_locally", "dropped", "ready_load", "terminating_load"):
            np.testing.assert_allclose(getattr(together, field), getattr(alone, field), rtol=1e-15, atol=1e-15)
        one = pod_groups(alone, ready, terminating)
        np.testing.assert_allclose(groups.row(i).per_pod, one.per_pod, rtol=1e-15, atol=1e-15)
        assert (groups.row(i).pods == one.pods).all()
        expected = pod_load_stats(one.per_pod, one.pods)
        assert stats.row(i).hottest_index == expected.hottest_index
        assert stats.row(i).hottest_ratio == pytest.approx(expected.hottest_ratio, rel=1e-14)
        assert stats.row(i).cv == pytest.approx(expected.cv, rel=1e-12, abs=1e-15)


def test_ip_targets_routing_keeps_traffic_on_the_entry_node() -> None:
    # ipTargets: the LB sends 0.25 / 0.75 to the Pods of node 0 / node 1: nothing forwarded, dropped or re-routed.
    zone = np.array([0, 1], dtype=np.int64)
    flow = dispatch(np.array([0.25, 0.75]), direct_routing(zone))
    assert flow.ready_load.tolist() == [0.25, 0.75]
    assert flow.served_locally.tolist() == [0.25, 0.75]
    assert flow.forwarded.tolist() == [0.0, 0.0]
    assert flow.dropped.tolist() == [0.0, 0.0]
