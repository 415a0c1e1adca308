"""Keep the benchmark script from rotting: a tiny run of its input builder, engine call and loop baseline."""

from __future__ import annotations

import pytest

from tests.bench_scripts import bench_script


def test_bench_script_runs_on_a_tiny_cluster() -> None:
    module = bench_script("engine_matrix")
    policies, _ = module._evaluate_range((0, 4, 30, 12))
    # kinds 0, 1, 3 are externally accessible (32 policies on 1.35); kind 2 is ClusterIP (2 x 2 x 4 = 16).
    assert policies == 32 + 32 + 16 + 32
    inp = module.service_input(0, 30, 12)
    loads = module.loop_matrix(inp)
    assert loads
    # The loop's Cluster/no-hint per-Pod load for external traffic is uniform: 1 / 12 per Pod.
    assert loads[2] == pytest.approx([1 / 12] * len(loads[2]))
