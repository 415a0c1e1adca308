"""Replica counts the Local-imbalance finding suggests (planner.engine.findings.even_counts)."""

from __future__ import annotations

import math

import numpy as np

from planner.engine.findings import even_counts


def test_counts_follow_each_nodes_share_with_the_smallest_multiple_that_keeps_the_replicas() -> None:
    # LB shares 1/2, 1/4, 1/4 and none: Pods 2:1:1 give every Pod 1/4 of the traffic. 4 replicas today: 2/1/1
    # (multiple 1, 4 Pods); 6 today: the next multiple, 4/2/2 (8 Pods >= 6). The node without traffic gets none.
    inflow = np.array([0.5, 0.25, 0.25, 0.0])
    assert even_counts(inflow, 4).tolist() == [2, 1, 1, 0]
    assert even_counts(inflow, 6).tolist() == [4, 2, 2, 0]


def test_shares_without_a_small_integer_ratio_fall_back_to_rounding() -> None:
    # Shares 1 : pi have no integer ratio within 2 multiples: base (1, pi), factor ceil(8 / (1 + pi)) = 2,
    # rounded (2, 6.28) -> 2 and 6.
    inflow = np.array([1.0, math.pi])
    assert even_counts(inflow, 8, limit=2).tolist() == [2, 6]
    # nothing enters anywhere: no suggestion
    assert even_counts(np.zeros(3), 5).tolist() == [0, 0, 0]
