"""topology-mode Auto: expected numbers derived by hand from kubernetes/kubernetes
staging/src/k8s.io/endpointslice/topologycache/topologycache.go (SetNodes, getAllocations, AddHints) and utils.go
(getGivingAndReceivingZones, redistributeHints)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.engine.topology_auto import OVERLOAD_THRESHOLD, auto_hints


def run(zone, cpu, endpoints, *, ready=None, control_plane=None, zone_count=3):
    zone = np.array(zone, dtype=np.int64)
    n = zone.shape[0]
    return auto_hints(
        zone,
        np.array(cpu, dtype=np.int64),
        np.ones(n, dtype=np.bool_) if ready is None else np.array(ready, dtype=np.bool_),
        np.zeros(n, dtype=np.bool_) if control_plane is None else np.array(control_plane, dtype=np.bool_),
        np.array(endpoints, dtype=np.int64),
        zone_count,
    )


def test_equal_zones_two_endpoints_each_stay_local():
    # 3 zones x 2 nodes, 4000m each: ratio 1/3 per zone; N = 6 -> desired 2, minimum ceil(2 / 1.2) = ceil(1.67) = 2,
    # sum of minimums 6 <= 6 -> engaged. Same-zone hints give 2/2/2 = desired: nothing to donate.
    # Each zone's clients spread over its own two nodes (1 endpoint each): 1/2, 1/2.
    hints = run([0, 0, 1, 1, 2, 2], [4000] * 6, [1, 1, 1, 1, 1, 1])
    assert hints.engaged
    assert hints.reason is None
    assert hints.allocation == pytest.approx((2.0, 2.0, 2.0))
    assert hints.minimum == (2, 2, 2)
    assert hints.hinted == (2, 2, 2)
    expected = np.array(
        [
            [0.5, 0.5, 0, 0, 0, 0],
            [0, 0, 0.5, 0.5, 0, 0],
            [0, 0, 0, 0, 0.5, 0.5],
        ]
    )
    assert hints.zone_weights is not None
    np.testing.assert_allclose(hints.zone_weights, expected)
    assert "every endpoint serves its own zone" in hints.message


def test_cpu_one_one_two_with_endpoints_three_three_two_donates_to_the_big_zone():
    # CPU 1000/1000/2000 -> ratios 0.25/0.25/0.5; N = 8 -> desired 2/2/4,
    # minimum ceil(2 * 0.8333) = 2 and ceil(4 * 0.8333) = ceil(3.33) = 4: sum 8 <= 8 -> engaged.
    # Same-zone hints 3/3/2: zones 0 and 1 each give 3 - 2 = 1, zone 2 receives 4 - 2 = 2.
    # getGivingAndReceivingZones: (give 1 from zone 0, receiver needs 2) -> move; (zone 1 gives 1, needs 1) -> move;
    # then no giver is left -> stop. Hinted: 2/2/4.
    # Zone 0 clients: zone 0's 3 endpoints minus the donated one -> 2 endpoints, all on node 0 -> weight 1.
    # Zone 2 clients: its own 2 endpoints + one donated by zone 0 + one by zone 1 = 4: weights 1/4, 1/4, 2/4.
    hints = run([0, 1, 2], [1000, 1000, 2000], [3, 3, 2])
    assert hints.engaged
    assert hints.allocation == pytest.approx((2.0, 2.0, 4.0))
    assert hints.minimum == (2, 2, 4)
    assert hints.hinted == (2, 2, 4)
    assert hints.zone_weights is not None
    np.testing.assert_allclose(hints.zone_weights, [[1, 0, 0], [0, 1, 0], [0.25, 0.25, 0.5]])
    # Per-endpoint load with clients proportional to CPU (0.25/0.25/0.5): node 0 serves 0.25 + 0.5 * 0.25 = 0.375
    # over its 3 endpoints = 0.125 each; node 2 serves 0.5 * 0.5 = 0.25 over 2 = 0.125 each: the heuristic evens it.
    clients = np.array([0.25, 0.25, 0.5])
    per_node = clients @ hints.zone_weights
    np.testing.assert_allclose(per_node / np.array([3, 3, 2]), [0.125, 0.125, 0.125])
    assert "2 endpoint(s) donated" in hints.message


def test_donation_is_spread_evenly_over_the_giving_zones_endpoints():
    # As above, but zone 0's 3 endpoints are on two nodes (2 + 1). Which endpoint redistributeHints re-hints
    # depends on EndpointSlice order, so each of zone 0's 3 endpoints is donated with probability 1/3:
    # node 0a keeps 2 * 2/3 = 4/3 hinted for zone 0, node 0b keeps 2/3 -> zone 0 row 4/3 / 2 = 2/3 and 1/3;
    # zone 2 gets 2/3 endpoint from node 0a and 1/3 from node 0b -> row (1/6, 1/12, 1/4, 1/2).
    hints = run([0, 0, 1, 2], [500, 500, 1000, 2000], [2, 1, 3, 2])
    assert hints.hinted == (2, 2, 4)
    assert hints.zone_weights is not None
    np.testing.assert_allclose(hints.zone_weights[0], [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(hints.zone_weights[1], [0, 0, 1, 0])
    np.testing.assert_allclose(hints.zone_weights[2], [1 / 6, 1 / 12, 1 / 4, 1 / 2])


def test_all_endpoints_in_one_zone_are_handed_out():
    # Equal CPU, N = 7 all on node 0 (zone 0): desired 7/3 = 2.33, minimum ceil(1.94) = 2, sum 6 <= 7 -> engaged.
    # Giving zone 0: 7 - 2.33 = 4.67; receiving zones 1 and 2: 2.33 each. Loop (ties -> lowest zone index):
    # 0->1 (r1 1.33), 0->2 (r2 1.33), 0->1 (r1 0.33), 0->2 (r2 0.33), then the largest need is 0.33 < 0.5 -> stop.
    # Hinted 3/2/2; every row points at node 0, the only node with endpoints.
    hints = run([0, 1, 2], [1000, 1000, 1000], [7, 0, 0])
    assert hints.hinted == (3, 2, 2)
    assert hints.zone_weights is not None
    np.testing.assert_allclose(hints.zone_weights[:, 0], [1, 1, 1])


def test_missing_zone_label_on_a_ready_worker_removes_hints():
    hints = run([0, 1, -1], [1000, 1000, 1000], [2, 2, 2])
    assert not hints.engaged
    assert hints.reason == "missingZoneLabel"
    assert hints.zone_weights is None
    assert hints.allocation is None


def test_missing_allocatable_cpu_removes_hints():
    hints = run([0, 1, 2], [1000, 0, 1000], [2, 2, 2])
    assert hints.reason == "missingAllocatableCPU"
    assert not hints.engaged


def test_control_plane_and_not_ready_nodes_are_ignored():
    # hasExcludedLabels skips control-plane nodes and SetNodes skips NotReady ones before the zone/CPU check,
    # so their missing zone label and CPU do not matter; they also add no CPU: zones 0/1/2 get 1000 each.
    hints = run(
        [0, 1, 2, -1, -1],
        [1000, 1000, 1000, 0, 64000],
        [2, 2, 2, 0, 0],
        ready=[True, True, True, True, False],
        control_plane=[False, False, False, True, False],
    )
    assert hints.engaged
    assert hints.allocation == pytest.approx((2.0, 2.0, 2.0))


def test_control_plane_cpu_does_not_count():
    # A control-plane node with 8000m in zone 2 is excluded: ratios stay 1/3 each, N = 3 -> desired 1 each.
    hints = run([0, 1, 2, 2], [1000, 1000, 1000, 8000], [1, 1, 1, 0], control_plane=[False, False, False, True])
    assert hints.allocation == pytest.approx((1.0, 1.0, 1.0))
    assert hints.engaged


def test_single_zone():
    hints = run([1, 1, 1], [1000, 1000, 1000], [2, 2, 2])
    assert hints.reason == "singleZone"
    assert not hints.engaged


def test_fewer_endpoints_than_zones():
    # getAllocations: len(cpuRatiosByZone) = 3 > numEndpoints = 2.
    hints = run([0, 1, 2], [1000, 1000, 1000], [1, 1, 0])
    assert hints.reason == "fewerEndpointsThanZones"
    assert hints.message == "hints removed: 2 endpoints for 3 zones (fewer endpoints than zones)"


def test_endpoint_without_zone():
    # An endpoint on a control-plane node without a zone label: the node is ignored by SetNodes, but AddHints
    # finds a ready endpoint with no zone and removes every hint (checked after getAllocations succeeded).
    hints = run([0, 1, 2, -1], [1000, 1000, 1000, 1000], [2, 2, 2, 1], control_plane=[False, False, False, True])
    assert hints.reason == "endpointWithoutZone"
    assert hints.allocation is not None


@pytest.mark.parametrize(
    ("endpoints", "engaged"),
    [
        # 3 equal zones. minimum = ceil(N/3 / 1.2); getAllocations subtracts each from N and gives up when the
        # remainder is < 0 (`remainingMinEndpoints < 0`), so sum == N still engages.
        (3, True),  # desired 1 -> minimum ceil(0.83) = 1; 3 <= 3 (equality: engaged)
        (4, False),  # desired 1.33 -> minimum ceil(1.11) = 2; 6 > 4
        (5, False),  # desired 1.67 -> minimum ceil(1.39) = 2; 6 > 5
        (6, True),  # desired 2 -> minimum ceil(1.67) = 2; 6 <= 6 (equality: engaged)
        (7, True),  # desired 2.33 -> minimum ceil(1.94) = 2; 6 <= 7
    ],
)
def test_overload_threshold_boundary(endpoints, engaged):
    assert OVERLOAD_THRESHOLD == 0.2
    hints = run([0, 1, 2], [1000, 1000, 1000], [endpoints, 0, 0])
    assert hints.engaged is engaged
    if not engaged:
        assert hints.reason == "overloadThreshold"
        assert hints.minimum == (2, 2, 2)


def test_zone_without_hinted_endpoints_has_a_zero_row():
    # Zone 3 holds only a NotReady node: it has no CPU share (no allocation) and no endpoints, so nothing is
    # hinted for it; kube-proxy there uses every endpoint, which routing reads from an all-zero row.
    hints = run([0, 1, 3], [1000, 1000, 1000], [2, 2, 0], ready=[True, True, False], zone_count=4)
    assert hints.engaged
    assert hints.zone_weights is not None
    np.testing.assert_allclose(hints.zone_weights.sum(axis=1), [1, 1, 0, 0])


@st.composite
def clusters(draw):
    zones = draw(st.integers(2, 4))
    nodes = draw(st.integers(zones, 10))
    zone = [z % zones for z in range(nodes)]
    cpu = draw(st.lists(st.integers(500, 16000), min_size=nodes, max_size=nodes))
    endpoints = draw(st.lists(st.integers(0, 6), min_size=nodes, max_size=nodes))
    return zone, cpu, endpoints, zones


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_every_endpoint_is_hinted_for_exactly_one_zone(case):
    zone, cpu, endpoints, zones = case
    hints = run(zone, cpu, endpoints, zone_count=zones)
    if not hints.engaged:
        return
    assert hints.zone_weights is not None
    assert hints.hinted is not None
    hinted = np.array(hints.hinted, dtype=np.float64)
    assert hinted.sum() == sum(endpoints)
    rows = hints.zone_weights.sum(axis=1)
    np.testing.assert_allclose(rows[hinted > 0], 1.0)
    # Expected hinted endpoints per node, summed over zones, is the node's endpoint count.
    np.testing.assert_allclose(hinted @ hints.zone_weights, np.array(endpoints, dtype=np.float64), atol=1e-9)
