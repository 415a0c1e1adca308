"""Load-balance metrics: the combined pass gives exactly what the single-metric functions give."""

from __future__ import annotations

import numpy as np
import pytest

from planner.engine.metrics import coefficient_of_variation, hottest_pod_ratio, pod_load_stats


def test_stats_by_hand():
    # Groups: 2 Pods at 3.0 each, 1 Pod at 6.0, 0 Pods (ignored), 1 Pod at 0.0 -> 4 Pods, served 2*3 + 6 + 0 = 12,
    # mean 3.0, hottest 6.0 (group 1) -> ratio 2.0; variance (2*(3-3)^2 + (6-3)^2 + (0-3)^2) / 4 = 18/4 = 4.5,
    # cv sqrt(4.5) / 3 = 0.7071; coldest 0.0.
    per_pod = np.array([3.0, 6.0, 9.0, 0.0])
    pods = np.array([2, 1, 0, 1], dtype=np.int64)
    stats = pod_load_stats(per_pod, pods)
    assert stats.pods == 4
    assert stats.served == pytest.approx(12.0)
    assert stats.hottest == 6.0
    assert stats.hottest_index == 1
    assert stats.coldest == 0.0
    assert stats.hottest_ratio == pytest.approx(2.0)
    assert stats.cv == pytest.approx(4.5**0.5 / 3.0)


def test_no_pods_and_no_load():
    assert pod_load_stats(np.zeros(3), np.zeros(3, dtype=np.int64)).hottest_ratio == 1.0
    idle = pod_load_stats(np.zeros(2), np.array([1, 2], dtype=np.int64))
    assert (idle.hottest_ratio, idle.cv, idle.pods) == (1.0, 0.0, 3)


@pytest.mark.parametrize("seed", range(5))
def test_same_numbers_as_the_single_metrics(seed):
    rng = np.random.default_rng(seed)
    per_pod = rng.random(300)
    pods = rng.integers(0, 4, 300).astype(np.int64)
    stats = pod_load_stats(per_pod, pods)
    # Bit for bit: the summaries use the combined pass, the optimizer and the affinity part the single functions.
    assert stats.hottest_ratio == hottest_pod_ratio(per_pod, pods)
    assert stats.cv == coefficient_of_variation(per_pod, pods)
    assert stats.hottest == per_pod[pods > 0].max()
    assert stats.coldest == per_pod[pods > 0].min()
