"""Keep the benchmark script from rotting: a tiny run of its input builder, engine call and loop baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "engine_matrix.py"


def test_bench_script_runs_on_a_tiny_cluster() -> None:
    spec = importlib.util.spec_from_file_location("engine_matrix", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    policies, _ = module._evaluate_range((0, 4, 30, 12))
    # kinds 0, 1, 3 are externally accessible (32 policies on 1.35); kind 2 is ClusterIP (2 x 2 x 4 = 16).
    assert policies == 32 + 32 + 16 + 32
    inp = module.service_input(0, 30, 12)
    loads = module.loop_matrix(inp)
    assert loads
    # The loop's Cluster/no-hint per-Pod load for external traffic is uniform: 1 / 12 per Pod.
    assert loads[2] == pytest.approx([1 / 12] * len(loads[2]))
