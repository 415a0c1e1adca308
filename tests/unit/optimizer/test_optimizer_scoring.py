"""The placement scorer (lb.py + metrics.py) on hand-computed shares, and a smoke run of the benchmark builder."""

from __future__ import annotations

import numpy as np
import pytest

from planner.engine.placement_score import score_local_placement
from planner.optimizer import recommend
from tests.bench_scripts import bench_script


def _score(pods, zones, **kw):
    args = {"model": "nodeEqual", "cross_zone": True, "health_check": True, "policy": "Local"} | kw
    return score_local_placement(
        np.array(pods, dtype=np.int64), np.array(zones, dtype=np.int64), np.ones(len(pods), dtype=np.bool_), **args
    )


def test_local_four_three_three():
    # K = 3 nodes, each 1/3; Pods get 1/12, 1/9, 1/9; mean 1/10 -> hottest (1/9)/(1/10) = 10/9.
    s = _score([4, 3, 3], [0, 0, 0])
    assert s.per_pod_share.tolist() == pytest.approx([1 / 12, 1 / 9, 1 / 9])
    assert s.hottest_ratio == pytest.approx(10 / 9)
    assert s.dropped_fraction == pytest.approx(0.0)
    # CV: Pods 4 x 1/12 and 6 x 1/9, mean 1/10: variance = (4 (1/12-1/10)^2 + 6 (1/9-1/10)^2) / 10
    var = (4 * (1 / 12 - 0.1) ** 2 + 6 * (1 / 9 - 0.1) ** 2) / 10
    assert s.cv == pytest.approx(var**0.5 / 0.1)


def test_local_without_health_check_drops_empty_node_share():
    # the LB keeps sending 1/3 to the empty node, where kube-proxy drops it (traffic-semantics.md 3.3)
    s = _score([5, 5, 0], [0, 0, 0], health_check=False)
    assert s.dropped_fraction == pytest.approx(1 / 3)
    assert s.hottest_ratio == pytest.approx(1.0)


def test_cross_zone_off_two_and_four():
    # zones get 1/2 each; zone 0 has 1 node with 3 Pods (1/6 each), zone 1 has 3 nodes x 1 Pod (1/6 each)
    s = _score([3, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1], cross_zone=False)
    assert s.hottest_ratio == pytest.approx(1.0)
    # 2/2/1/1 over a0, b0, b1, b2: zone 0 Pods 1/4, zone 1: node b0 gets 1/6 over 2 Pods and b1, b2 1/6 each
    s = _score([2, 0, 2, 1, 1, 0], [0, 0, 1, 1, 1, 1], cross_zone=False)
    assert s.hottest_ratio == pytest.approx((1 / 4) / (1 / 6))


def test_cluster_policy_is_uniform_and_ip_targets_per_zone():
    s = _score([4, 3, 3], [0, 0, 0], policy="Cluster")
    assert s.hottest_ratio == pytest.approx(1.0)
    # IP targets, cross-zone off: zone 0 (4 Pods) and zone 1 (6 Pods) get 1/2 each -> 1/8 and 1/12, mean 1/10
    s = _score([4, 3, 3], [0, 1, 1], model="ipTargets", cross_zone=False)
    assert s.hottest_ratio == pytest.approx((1 / 8) / (1 / 10))


def test_bench_builder_smoke():
    bench = bench_script("optimizer_bench")
    req = bench.build(9, 2, (3, 5), pressure=True, node_loss=True, time_limit=1.0)
    summary = bench.summarize(recommend(req))
    assert summary["status"] in ("optimal", "feasible")
    assert summary["plan_n1_worst"] <= 1.5 + 1e-9
