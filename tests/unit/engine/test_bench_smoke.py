"""Keep the benchmark script from rotting: a tiny run of its input builder, engine call and loop baseline."""

from __future__ import annotations

from pathlib import Path

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


def test_rerun_keeps_the_hand_written_analysis(tmp_path: Path) -> None:
    module = bench_script("engine_matrix")
    results = tmp_path / "engine.md"
    assert module.kept_analysis(results) == ""  # no file yet
    results.write_text("# table written by the bench\n| a | b |\n")
    assert module.kept_analysis(results) == ""  # no analysis heading
    analysis = f"{module.ANALYSIS_HEADING}\n\n| target | met |\n\nNotes after the table.\n"
    results.write_text("# old table\n| a | 1 |\n\n" + analysis)
    assert module.kept_analysis(results) == "\n" + analysis
