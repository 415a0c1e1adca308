"""sessionAffinity: ClientIP skew. Expected values derived by hand from traffic-semantics.md sections 2 and 8:
stickiness is state kept per node and per service port (the first connection on a node is a normal random choice,
then pinned), not a hash; keys are source addresses as the node sees them."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from planner.domain.traffic import ClientPopulation, HeavyHitterClients, UniformClients, ZipfClients
from planner.engine.affinity import (
    AFFINITY_SCOPE,
    RECENT_LIST_LIMIT,
    AffinityMemo,
    StickyEstimate,
    affinity_skew,
    sticky_affinity_skews,
)
from planner.engine.affinity_keys import power_tail
from planner.engine.affinity_sampling import cached_bank, p99
from planner.engine.flow import dispatch
from planner.engine.lru import Lru
from planner.engine.routing import cluster_routing, local_routing


def local(ready):
    ready = np.array(ready, dtype=np.int64)
    zeros = np.zeros_like(ready)
    return local_routing(ready, zeros, zeros)


def cluster(ready):
    ready = np.array(ready, dtype=np.int64)
    zeros = np.zeros_like(ready)
    return cluster_routing(ready, zeros, zeros, 1, topology="none", node_hints_enabled=False)


def skew(entry, routing, clients, *, sticky=True, proxying=False, seed=7, timeout=10800, samples=200, memo=None):
    return affinity_skew(
        np.array(entry, dtype=np.float64),
        routing,
        clients=clients,
        timeout_seconds=timeout,
        lb_client_sticky=sticky,
        lb_proxying=proxying,
        seed=seed,
        samples=samples,
        memo=memo,
    )


def test_one_nat_address_behind_sticky_lb_puts_everything_on_one_pod():
    # ETP Local, nodeEqual LB over the two nodes with Pods (2 + 1 Pods): the single NAT address enters one node
    # (the LB keeps it there) and that node pins it to one of its Pods: that Pod gets 100 % in every sample.
    # Mean Pod share = 1/3 -> ratio 3. Without affinity: nodes get 1/2 each -> Pods 1/4, 1/4, 1/2.
    result = skew([0.5, 0.5, 0.0], local([2, 1, 0]), ClientPopulation(count=5000, nat_addresses=1))
    assert result.scope == AFFINITY_SCOPE == "per node and per service port"
    assert result.keys == 1
    assert result.key_source == "nat"
    assert result.hottest_pod_share_mean == pytest.approx(1.0)
    assert result.hottest_pod_share_p99 == pytest.approx(1.0)
    assert result.hottest_pod_ratio_mean == pytest.approx(3.0)
    assert result.no_affinity_hottest_pod_share == pytest.approx(0.5)
    assert result.no_affinity_hottest_pod_ratio == pytest.approx(1.5)
    # Losing that Pod (or its node) re-pins all traffic.
    assert result.repinned_on_pod_loss == pytest.approx(1.0)
    assert result.repinned_on_node_loss == pytest.approx(1.0)


def test_one_key_non_sticky_lb_is_pinned_separately_on_each_node():
    # Local, 3 nodes with one Pod each, LB spreads connections 1/3 per node: every node pins the key to its only
    # Pod, so each Pod gets exactly 1/3 (stickiness is per node, not global).
    result = skew([1 / 3] * 3, local([1, 1, 1]), ClientPopulation(count=1, nat_addresses=1), sticky=False)
    assert result.hottest_pod_share_mean == pytest.approx(1 / 3)
    assert result.hottest_pod_share_p99 == pytest.approx(1 / 3)
    assert result.hottest_pod_ratio_mean == pytest.approx(1.0)


def test_proxying_lb_key_is_pinned_at_random_by_each_node():
    # ETP Cluster, 3 nodes x 1 Pod, proxying LB with one address: the key enters all 3 nodes (1/3 each) and each
    # node pins it to one of the 3 Pods at random (27 equally likely outcomes):
    #   all different (3! = 6): hottest 1/3; all the same (3): hottest 1; otherwise (18): hottest 2/3.
    #   E = (6 * 1/3 + 18 * 2/3 + 3 * 1) / 27 = 17/27 = 0.630.
    #   E[X^2] = (6/9 + 18 * 4/9 + 3) / 27 = 105/243; sd = sqrt(105/243 - (17/27)^2) = 0.189;
    #   over 200 samples the mean's sd is 0.0134 -> tolerance 4 sd = 0.054.
    result = skew([1 / 3] * 3, cluster([1, 1, 1]), ClientPopulation(count=10_000), proxying=True)
    assert result.key_source == "proxy"
    assert result.keys == 1
    assert result.hottest_pod_share_mean == pytest.approx(17 / 27, abs=0.054)
    assert result.hottest_pod_share_p99 == pytest.approx(1.0)
    assert result.no_affinity_hottest_pod_share == pytest.approx(1 / 3)


def test_uniform_clients_spread_close_to_even():
    # 10,000 uniform clients, ETP Cluster over 4 nodes x 1 Pod, client-sticky LB: each client lands on each Pod
    # with p = 1/4, so a Pod's share is Binomial(10000, 1/4) / 10000: sd = sqrt(p(1-p)/n) = 0.00433.
    # The hottest of 4 exceeds 1/4 by about one sd; its 99th percentile by about 2.8 sd (P(max > t) <= 4 P(one)).
    sd = math.sqrt(0.25 * 0.75 / 10_000)
    result = skew([0.25] * 4, cluster([1, 1, 1, 1]), ClientPopulation(count=10_000))
    assert result.key_source == "clients"
    assert 0.25 < result.hottest_pod_share_mean < 0.25 + 3 * sd
    assert result.hottest_pod_share_p99 < 0.25 + 4 * sd
    assert result.hottest_pod_ratio_mean == pytest.approx(result.hottest_pod_share_mean / 0.25)


def test_heavy_hitter_half_of_traffic_makes_a_pod_at_least_half():
    # One client carries 50 %: its Pod gets >= 0.5 in every sample, plus its share of the other 999 clients.
    result = skew(
        [0.25] * 4, cluster([1, 1, 1, 1]), ClientPopulation(count=1000, distribution=HeavyHitterClients(shares=[0.5]))
    )
    assert result.hottest_pod_share_mean >= 0.5
    # The rest (0.5) spreads ~evenly: the hot Pod gets ~0.5 + 0.5/4 = 0.625.
    assert result.hottest_pod_share_mean == pytest.approx(0.625, abs=0.02)


def test_zipf_top_client_bounds_the_hottest_pod():
    # Zipf s = 2 over 1,000 clients: w1 = 1 / sum(i^-2, i <= 1000) = 1 / (pi^2/6 - ~1/1000) = 1 / 1.6439 = 0.6083.
    result = skew(
        [0.25] * 4, cluster([1, 1, 1, 1]), ClientPopulation(count=1000, distribution=ZipfClients(exponent=2.0))
    )
    assert result.hottest_pod_share_mean >= 0.608
    assert result.hottest_pod_share_p99 >= result.hottest_pod_share_mean


def test_same_seed_same_numbers_other_seed_other_numbers():
    clients = ClientPopulation(count=1000, distribution=ZipfClients(exponent=1.0))
    first = skew([0.1] * 10, cluster([2] * 10), clients, seed=42)
    again = skew([0.1] * 10, cluster([2] * 10), clients, seed=42)
    other = skew([0.1] * 10, cluster([2] * 10), clients, seed=43)
    assert first == again
    assert first.hottest_pod_share_mean != other.hottest_pod_share_mean


def test_short_timeout_shrinks_skew_toward_no_affinity():
    # 8 uniform clients, 4 Pods: each client opens a connection every 1,000 s on average, the timeout is 100 s,
    # so a connection finds its pin with probability 1 - exp(-100/1000) = 0.0952 (Poisson arrivals).
    # The other 0.905 is spread connection by connection: 0.905/4 = 0.226 per Pod. The hottest Pod can then hold
    # at most 0.226 + 0.0952 = 0.321, against >= 0.25 + a lot with long stickiness (8 clients on 4 Pods).
    pinned = 1 - math.exp(-0.1)
    sticky_for_long = skew([0.25] * 4, cluster([1, 1, 1, 1]), ClientPopulation(count=8))
    short = skew(
        [0.25] * 4,
        cluster([1, 1, 1, 1]),
        ClientPopulation(count=8, connection_interval_seconds=1000),
        timeout=100,
    )
    assert short.pinned_fraction == pytest.approx(pinned)
    assert short.hottest_pod_share_mean <= (1 - pinned) / 4 + pinned + 1e-9
    assert short.hottest_pod_ratio_mean < sticky_for_long.hottest_pod_ratio_mean
    assert short.hottest_pod_ratio_mean - 1 < (sticky_for_long.hottest_pod_ratio_mean - 1) / 3


def test_xt_recent_list_overflows_with_1000_clients_on_one_endpoint():
    # 1,000 clients, all entering the one node with the one Pod: 1,000 live addresses in that endpoint's
    # xt_recent list on that node > ip_list_tot = 100.
    result = skew([1.0], local([1]), ClientPopulation(count=1000))
    assert result.recent_list_limit == RECENT_LIST_LIMIT == 100
    assert result.recent_entries_per_endpoint_max == pytest.approx(1000)
    assert result.recent_list_exceeded
    # 20 Pods on that node: each endpoint's list holds 1000/20 = 50 on average -> fits.
    spread = skew([1.0], local([20]), ClientPopulation(count=1000))
    assert spread.recent_entries_per_endpoint_max == pytest.approx(50)
    assert not spread.recent_list_exceeded


def test_xt_recent_counts_only_recently_active_clients():
    # A client connecting every 1,000 s is live (connected within the 100 s timeout) with p = 1 - exp(-0.1):
    # 1,000 clients -> 95.2 expected entries < 100.
    result = skew([1.0], local([1]), ClientPopulation(count=1000, connection_interval_seconds=1000), timeout=100)
    assert result.recent_entries_per_endpoint_max == pytest.approx(1000 * (1 - math.exp(-0.1)))
    assert not result.recent_list_exceeded


def test_node_loss_counts_pins_on_it_and_pinned_traffic_entering_it():
    # Cluster, 2 nodes x 1 Pod, 10,000 uniform clients behind a client-sticky LB: the busiest node's Pod holds
    # ~1/2 of the pins; the other half of its entering traffic (1/2 x 1/2 = 1/4) was pinned to the other node's Pod
    # and is re-pinned when the LB moves those clients: ~3/4.
    result = skew([0.5, 0.5], cluster([1, 1]), ClientPopulation(count=10_000))
    assert result.repinned_on_node_loss == pytest.approx(0.75, abs=0.02)
    assert result.repinned_on_pod_loss == pytest.approx(0.5, abs=0.02)


def test_traffic_to_a_node_without_pods_is_dropped():
    # Local without LB health checks: 1/3 enters the node without Pods and is dropped. One NAT address behind a
    # sticky LB lands there with p = 1/3 (hottest 0 then), else on a Pod (hottest 1): mean 2/3, sd of one sample
    # sqrt(2/9) = 0.471, of the mean over 200 samples 0.033 -> tolerance 4 sd = 0.133.
    result = skew([1 / 3] * 3, local([1, 1, 0]), ClientPopulation(count=100, nat_addresses=1))
    assert result.dropped_fraction == pytest.approx(1 / 3)
    assert result.hottest_pod_share_mean == pytest.approx(2 / 3, abs=0.133)


def test_nat_pool_collapses_clients_round_robin():
    # 10 clients behind 2 addresses (client i -> address i mod 2): 2 keys of 1/2 each.
    result = skew([0.5, 0.5], cluster([1, 1]), ClientPopulation(count=10, nat_addresses=2))
    assert result.keys == 2
    assert result.key_source == "nat"
    # Each key picks one of the 2 Pods: both on one Pod with p = 1/2 (hottest 1), else 1/2 each: mean 0.75.
    assert result.hottest_pod_share_mean == pytest.approx(0.75, abs=0.15)


def test_uniform_population_needs_no_explicit_draws():
    result = skew([0.5, 0.5], cluster([5, 5]), ClientPopulation(count=100_000, distribution=UniformClients()))
    assert result.simulated_atoms == 0
    assert result.keys == 100_000


def test_no_endpoint_at_all():
    result = skew([0.5, 0.5], local([0, 0]), ClientPopulation(count=10))
    assert result.dropped_fraction == 1.0
    assert result.hottest_pod_share_mean == 0.0


@pytest.mark.parametrize("exponent", [0.8, 1.0, 1.5])
def test_zipf_tail_sum_matches_brute_force(exponent):
    # Euler-Maclaurin tail used for populations beyond the explicit cap.
    brute = float((np.arange(2001, 200_001, dtype=np.float64) ** -exponent).sum())
    assert power_tail(2001, 200_000, exponent) == pytest.approx(brute, rel=1e-10)


def test_p99_matches_numpy_quantile() -> None:
    # The affinity p99 is numpy's linear-interpolation quantile, computed without np.quantile's overhead.
    rng = np.random.default_rng(3)
    for n in (1, 2, 50, 200):
        values = rng.gamma(2.0, 1.0, n)
        assert p99(values) == pytest.approx(float(np.quantile(values, 0.99)), rel=1e-12)


def test_memo_reused_across_routings_gives_the_same_numbers():
    # The per-evaluation memo only caches what does not depend on the routing (client keys, sticky totals, the bank
    # of normal draws, drawn from the seed alone), so estimates with a shared memo equal fresh ones, in any order,
    # and an estimate with fewer samples reads the first rows of a larger bank: the draws it would make alone.
    clients = ClientPopulation(count=5000, distribution=ZipfClients(exponent=1.1), connection_interval_seconds=60)
    routings = [cluster([1, 2, 0, 3]), local([1, 2, 0, 3]), cluster([0, 1, 1, 1])]
    entry = [0.25, 0.25, 0.25, 0.25]
    fresh = [skew(entry, r, clients) for r in routings]
    memo = AffinityMemo()
    shared = [skew(entry, r, clients, memo=memo) for r in reversed(routings)]
    assert memo.keys
    assert memo.normals
    assert shared[::-1] == fresh
    assert skew(entry, routings[0], clients, samples=50, memo=memo) == skew(entry, routings[0], clients, samples=50)


def test_node_loss_repin_never_exceeds_the_pinned_traffic():
    # ETP Cluster, 3 nodes x 1 Pod, one NAT address behind a client-sticky LB: the key enters one node (1/3 each)
    # and that node pins it to one of the 3 Pods. The busiest node is the one hosting that Pod; losing it re-pins
    # exactly all traffic: 1.0. (An unconditioned "entered it but pinned elsewhere" term would add
    # 1/3 * 2/3 = 2/9 and claim 1.22 of the traffic; the union of the two sets is bounded by what is pinned.)
    result = skew([1 / 3] * 3, cluster([1, 1, 1]), ClientPopulation(count=100, nat_addresses=1))
    assert result.hottest_pod_share_mean == pytest.approx(1.0)
    assert result.repinned_on_node_loss == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("distribution", "count"),
    [
        (UniformClients(), 3000),
        (ZipfClients(exponent=0.8), 3000),
        (ZipfClients(exponent=1.2), 20_000),
        # 10 light clients of 1 % over 20 Pods: half an atom per Pod, a gamma shape below 3 (drawn exactly).
        (HeavyHitterClients(shares=[0.9]), 11),
    ],
)
def test_hottest_pod_distribution_matches_client_by_client_draws(distribution, count):
    # Independent check of the sampling shortcuts (light atoms summed as a shifted gamma, drawn as Wilson-Hilferty
    # cubes of shared normals; heavy atoms drawn one by one): ETP Cluster, 20 nodes x 1 Pod, client-sticky LB and
    # pins that never expire, so every client is pinned to one Pod chosen uniformly (1/20) and a Pod's share is the
    # sum of its clients' weights. Brute force draws that client by client (4,000 samples); the engine's mean and
    # p99 hottest share must agree within 2 % and 4 % (Monte Carlo error of both sides: the hottest share's
    # spread is about 10 % of its value here, so its mean over 4,000 samples is known to about 0.2 %, and a
    # p99 to about 1 %).
    clients = ClientPopulation(count=count, distribution=distribution)
    pods = 20
    result = skew([1 / pods] * pods, cluster([1] * pods), clients, samples=4000)
    if isinstance(distribution, ZipfClients):
        weights = np.arange(1, count + 1, dtype=np.float64) ** -distribution.exponent
    elif isinstance(distribution, HeavyHitterClients):
        weights = np.array([0.9] + [0.01] * 10)
    else:
        weights = np.ones(count)
    weights /= weights.sum()
    rng = np.random.default_rng(11)
    hottest = np.empty(4000)
    for start in range(0, 4000, 500):
        choice = rng.integers(0, pods, (500, count))
        loads = np.zeros((500, pods))
        np.add.at(loads, (np.repeat(np.arange(500), count), choice.ravel()), np.tile(weights, 500))
        hottest[start : start + 500] = loads.max(axis=1)
    assert result.hottest_pod_share_mean == pytest.approx(float(hottest.mean()), rel=0.02)
    assert result.hottest_pod_share_p99 == pytest.approx(float(np.quantile(hottest, 0.99)), rel=0.04)


@pytest.mark.parametrize("seed", range(12))
def test_sticky_estimate_from_the_flow_equals_the_candidate_rows(seed):
    # Under a client-sticky entry every key makes one routing decision, so the estimate can read the routing's
    # mixture, own-node share and per-Pod peaks off the dispatched flow instead of building per-node candidate
    # rows. Both must give the same numbers (random routings of every kind, down nodes, classes): exactly the
    # same up to float-sum order with light clients only, and the same deterministic parts with heavy hitters.
    rng = np.random.default_rng(seed)
    nodes = int(rng.integers(2, 9))
    ready = rng.integers(0, 3, nodes).astype(np.int64)
    ready[int(rng.integers(0, nodes))] += 1
    zone = rng.integers(0, 3, nodes).astype(np.int64)
    zeros = np.zeros(nodes, dtype=np.int64)
    routing = [
        local_routing(ready, zeros, zone),
        cluster_routing(ready, zeros, zone, 3, topology="none", node_hints_enabled=False),
        cluster_routing(ready, zeros, zone, 3, topology="PreferSameZone", node_hints_enabled=False),
        cluster_routing(ready, zeros, zone, 3, topology="PreferSameNode", node_hints_enabled=True),
    ][seed % 4]
    entry = rng.random(nodes) * (rng.random(nodes) > 0.2)
    entry[int(np.argmax(ready))] += 0.1
    multiplicity = np.where(ready > 0, 1, rng.integers(1, 4, nodes)).astype(np.int64)
    flow = dispatch(entry * 3.0, routing, multiplicity.astype(np.float64))  # any multiple of the entry
    for clients, exact in (
        (ClientPopulation(count=50_000, connection_interval_seconds=60), True),
        (ClientPopulation(count=300, distribution=ZipfClients(exponent=1.2)), False),
    ):
        common = {
            "clients": clients,
            "timeout_seconds": 10800,
            "lb_client_sticky": True,
            "lb_proxying": False,
            "seed": seed,
            "samples": 100,
            "multiplicity": multiplicity,
        }
        rows = affinity_skew(entry, routing, **common)
        direct = affinity_skew(entry, routing, unit_flow=flow, **common)
        for field in (
            "pinned_fraction",
            "dropped_fraction",
            "no_affinity_hottest_pod_share",
            "recent_entries_per_endpoint_max",
            *(("hottest_pod_share_mean", "hottest_pod_share_p99", "repinned_on_node_loss") if exact else ()),
        ):
            assert getattr(direct, field) == pytest.approx(getattr(rows, field), rel=1e-9, abs=1e-12), field


def test_sticky_estimates_together_equal_each_alone():
    # Estimates of one evaluation share their sample passes (and the normal bank); each must equal the estimate
    # made alone with its own sample count, heavy hitters (individually drawn atoms) included, and an estimate
    # with no Pod to reach comes back as such in its place.
    nodes = 6
    ready = np.array([1, 2, 0, 1, 3, 1], dtype=np.int64)
    zone = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)
    zeros = np.zeros(nodes, dtype=np.int64)
    routings = [
        local_routing(ready, zeros, zone),
        cluster_routing(ready, zeros, zone, 3, topology="none", node_hints_enabled=False),
        cluster_routing(ready, zeros, zone, 3, topology="PreferSameZone", node_hints_enabled=False),
    ]
    entries = [np.full(nodes, 1 / 6), np.array([0.3, 0.1, 0.2, 0.1, 0.2, 0.1]), np.array([0, 0, 1.0, 0, 0, 0])]
    empty = local_routing(zeros, zeros, zone)
    for clients in (
        ClientPopulation(count=20_000, connection_interval_seconds=30),
        ClientPopulation(count=500, distribution=HeavyHitterClients(shares=[0.4, 0.2])),
    ):
        estimates = [
            StickyEstimate(entry, routing, dispatch(entry, routing, np.ones(nodes)), samples)
            for entry, routing, samples in zip(entries, routings, (200, 50, 80), strict=True)
        ]
        estimates.insert(1, StickyEstimate(entries[0], empty, dispatch(entries[0], empty, np.ones(nodes)), 50))
        together = sticky_affinity_skews(estimates, clients=clients, timeout_seconds=10800, seed=3)
        alone = [sticky_affinity_skews([e], clients=clients, timeout_seconds=10800, seed=3)[0] for e in estimates]
        for batched, single in zip(together, alone, strict=True):
            # the same numbers up to the order of float sums (matrix products over the stacked rows)
            b, s = msgspec.structs.asdict(batched), msgspec.structs.asdict(single)
            assert {k: v for k, v in b.items() if not isinstance(v, float)} == {
                k: v for k, v in s.items() if not isinstance(v, float)
            }
            assert {k: v for k, v in b.items() if isinstance(v, float)} == pytest.approx(
                {k: v for k, v in s.items() if isinstance(v, float)}, rel=1e-12
            )
        assert together[1].dropped_fraction == 1.0  # no Pod anywhere
        assert [t.samples for t in together] == [200, 50, 50, 80]


def test_normal_banks_are_kept_read_only_within_their_budget():
    cache: Lru[tuple[int, int], np.ndarray] = Lru(3 * 100 * 8 * 10, lambda bank: bank.nbytes)  # 3 banks of 100 x 10
    first = cached_bank(cache, seed=1, samples=100, width=10)
    assert not first.flags.writeable
    # the same seed and width: the same array, also for fewer samples (a prefix is the smaller bank)
    assert cached_bank(cache, seed=1, samples=40, width=10) is first
    np.testing.assert_array_equal(first[:40], np.random.default_rng(1).standard_normal((40, 10)))
    # more samples: drawn again, and its first rows are the old bank
    longer = cached_bank(cache, seed=1, samples=200, width=10)
    np.testing.assert_array_equal(longer[:100], first)
    second = cached_bank(cache, seed=2, samples=100, width=10)
    third = cached_bank(cache, seed=3, samples=100, width=10)
    # seed 1 (200 rows) + seed 2 + seed 3 exceed the budget: seed 1, used least recently, was dropped
    assert cached_bank(cache, seed=2, samples=100, width=10) is second
    assert cached_bank(cache, seed=3, samples=100, width=10) is third
    assert cached_bank(cache, seed=1, samples=200, width=10) is not longer
    cache.clear()
    assert cached_bank(cache, seed=3, samples=100, width=10) is not third
    # a value above the whole budget is not kept
    assert cached_bank(cache, seed=4, samples=1000, width=10) is not cached_bank(cache, seed=4, samples=1000, width=10)


def test_xt_recent_list_of_exactly_100_live_keys_still_fits():
    # 100 clients on the one Pod: 100 live addresses = ip_list_tot, which the list holds (it overflows above it).
    result = skew([1.0], local([1]), ClientPopulation(count=100))
    assert result.recent_entries_per_endpoint_max == pytest.approx(100)
    assert not result.recent_list_exceeded
    assert skew([1.0], local([1]), ClientPopulation(count=101)).recent_list_exceeded
