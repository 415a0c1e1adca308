"""``sessionAffinity: ClientIP``: how stickiness concentrates load, by seeded Monte Carlo (traffic-semantics.md 2, 8).

Model (Linux kube-proxy, iptables/nftables/IPVS):

- Stickiness is **state, not a hash**, kept **per node and per service port**: the first new connection of a source
  address entering a node is routed by that node's normal choice (:class:`CandidateRouting`: one endpoint node by
  its weight, then one of its Pods uniformly), and that address is pinned there to that Pod until
  ``timeoutSeconds`` after its last new connection. Nodes pin independently.
- Keys: the source address as the node sees it. Behind a proxying LB every client is one of the LB's addresses
  (``lb_addresses``, default 1); behind NAT the clients collapse onto ``nat_addresses`` keys (client of rank ``i``
  behind address ``i mod nat_addresses``).
- Entry: with a client-sticky LB (and for in-cluster callers, which always enter their own node) a key enters one
  node, drawn from ``entry_share``. Otherwise, and for the few addresses of a proxying LB that carry every client,
  a key's connections spread over the nodes by ``entry_share`` and each node pins it on its own.
- Timeout: connections arrive as a Poisson process. The average client opens one every
  ``connection_interval_seconds`` (``I``); a key carrying share ``W`` of the traffic from ``K`` clients opens
  ``K * W / I`` per second, ``x`` of that through a node. A connection finds its pin expired with probability
  ``exp(-timeout * rate)`` (for one uniform client behind a sticky LB: ``exp(-timeout / I)``). That share of a
  key's traffic is treated as spread connection by connection (the no-affinity expectation), the rest follows the
  pin. Unset interval: every connection finds its pin.
- ``xt_recent`` (iptables mode): one list per endpoint per node, at most ``ip_list_tot = 100`` addresses
  (linux ``net/netfilter/xt_recent.c``), least recently used evicted: above that, stickiness is silently lost
  (no load skew, just no stickiness). Reported as the expected number of live keys per endpoint per node, a key
  being live when it opened a connection through that node within the timeout.

Sampling (deterministic for a given seed, numpy ``Generator``):

- Only the top ``EXPLICIT_KEY_CAP`` keys by weight are materialised; the rest of the population is kept as totals
  (count, share, sum of squared shares) and enters the light part below, with its mean weight for the timeout.
- An "atom" is one key's pinned traffic on one decision point (the key under a sticky LB, or key x entry node
  otherwise). Atoms carrying less than ``LIGHT_FRACTION`` of the mean Pod load are summed per Pod as a normal
  variable with the exact multinomial mean and variance (covariance between Pods ignored); heavier atoms are drawn
  one by one, and equal heavy atoms of one decision point as one multinomial.
- The light part's randomness is one bank of standard normals per evaluation, shared by every routing's estimate
  (common random numbers: two policies are compared on the same draws, and an estimate with fewer samples uses
  the first rows of the bank; the bank depends only on the seed and the Pod count, and is kept across evaluations);
  gamma variables of shape 3 and more are its Wilson-Hilferty cubes, smaller shapes and the heavy atoms draw from a
  second generator seeded with ``(seed, 1)``.

The keys and their totals are in :mod:`planner.engine.affinity_keys`, the bank and the light part's samples in
:mod:`planner.engine.affinity_sampling`; this module routes them (per-node candidate rows, or a client-sticky
routing's mixture read off its flow) and summarises the samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec
import numpy as np

from planner.domain.traffic import ClientPopulation
from planner.engine.affinity_keys import (
    ClientKeys,
    KeySource,
    StickyTotals,
    keys_for,
    live_probability,
    pinned_share,
    sticky_rate,
    sticky_totals,
)
from planner.engine.affinity_sampling import (
    LightParams,
    Randomness,
    light_load,
    light_params,
    node_sums,
    normal_bank,
    p99,
)
from planner.engine.flow import Flow
from planner.engine.metrics import BoolArray, FloatArray, IntArray, hottest_pod_ratio
from planner.engine.routing import MODE_ALL, MODE_DROP, MODE_LOCAL, MODE_ZONE, CandidateRouting

AFFINITY_SCOPE = "per node and per service port"
RECENT_LIST_LIMIT = 100
"""``ip_list_tot``: default entries per ``xt_recent`` list (linux net/netfilter/xt_recent.c)."""
LIGHT_FRACTION = 0.25
"""Atoms below this fraction of the mean Pod load are summed per Pod as a normal variable (several of them share
a Pod on average, so the sum is close to normal; heavier atoms are drawn one by one)."""
_MAX_ATOMS = 400_000
"""Upper bound on key x node atoms built for a non-sticky entry (heaviest keys kept, the rest joins the totals)."""

_DENSE_ROW_LIMIT = 1_000_000
"""Largest rows x nodes table built densely to look up a node's own probability (else sort and search)."""


class AffinitySkew(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Load concentration under ``sessionAffinity: ClientIP``; shares are fractions of all affinity traffic.

    Attributes:
        scope: Where stickiness holds: per node and per service port.
        samples: Monte Carlo samples drawn.
        seed: Seed of the draw; the same inputs and seed give the same numbers.
        keys: Distinct source addresses the nodes key on (after NAT or proxy collapse).
        key_source: ``clients`` (own addresses), ``nat`` or ``proxy`` (collapsed).
        simulated_atoms: Atoms drawn individually or by multinomial (the rest is summed per Pod).
        pinned_fraction: Share of traffic that follows a pin (the rest finds its pin expired).
        dropped_fraction: Share entering nodes with no usable endpoint.
        hottest_pod_share_mean: Hottest Pod's share, mean over samples.
        hottest_pod_share_p99: 99th percentile of the hottest Pod's share over samples.
        hottest_pod_ratio_mean: ``hottest_pod_share_mean`` over the mean Pod share.
        hottest_pod_ratio_p99: ``hottest_pod_share_p99`` over the mean Pod share.
        no_affinity_hottest_pod_share: Expected hottest Pod share with ``sessionAffinity: None`` (connection level).
        no_affinity_hottest_pod_ratio: The same over the mean Pod share.
        repinned_on_pod_loss: Traffic pinned to the hottest Pod, whose next connections are re-pinned at random
            when it goes away (mean over samples).
        repinned_on_node_loss: Traffic whose Pod changes when the busiest node goes away: pinned to its Pods,
            plus pinned traffic that entered it and was pinned elsewhere (its keys are re-pinned by the node they
            now enter under a client-sticky LB, or follow another node's pin otherwise).
        recent_entries_per_endpoint_max: Expected live keys in the busiest endpoint's list on one node.
        recent_list_limit: ``ip_list_tot`` (100).
        recent_list_exceeded: More keys than fit: iptables mode silently loses stickiness for the excess.
    """

    scope: str
    samples: int
    seed: int
    keys: int
    key_source: KeySource
    simulated_atoms: int
    pinned_fraction: float
    dropped_fraction: float
    hottest_pod_share_mean: float
    hottest_pod_share_p99: float
    hottest_pod_ratio_mean: float
    hottest_pod_ratio_p99: float
    no_affinity_hottest_pod_share: float
    no_affinity_hottest_pod_ratio: float
    repinned_on_pod_loss: float
    repinned_on_node_loss: float
    recent_entries_per_endpoint_max: float
    recent_list_limit: int
    recent_list_exceeded: bool


class AffinityMemo:
    """What the estimates of one evaluation share (:func:`affinity_skew`'s ``memo``)."""

    def __init__(self) -> None:
        self.keys: dict[object, tuple[ClientKeys, dict[float, StickyTotals]]] = {}
        """Client keys per population, proxy setting and timeout, with their sticky totals per light-atom limit."""
        self.normals: dict[tuple[int, int], FloatArray] = {}
        """The bank of standard normal draws per seed and number of Pod columns."""


class _Rows(msgspec.Struct, frozen=True):
    """Candidate distributions in CSR form over endpoint nodes; the last group index is the drop sink."""

    row_of_node: IntArray  # -1: DROP
    ptr: IntArray
    group: IntArray
    prob: FloatArray


class _RowGeometry(msgspec.Struct, frozen=True):
    """Per CSR entry of :class:`_Rows`: its row, whether it is the drop sink, its Pods and first Pod column."""

    entry_row: IntArray
    is_sink: BoolArray
    k: IntArray
    first: IntArray


def _rows(routing: CandidateRouting, pods: IntArray) -> _Rows:
    """One row per distinct choice: each Local node, each hinted zone, and the cluster-wide set."""
    nodes = routing.nodes
    mode = routing.mode
    hosting = pods > 0
    row_of_node = np.full(nodes, -1, dtype=np.int64)
    local = np.flatnonzero((mode == MODE_LOCAL) & hosting)
    row_of_node[local] = np.arange(local.shape[0])
    groups: list[IntArray] = [local]
    probs: list[FloatArray] = [np.ones(local.shape[0])]
    sizes: list[int] = []
    next_row = local.shape[0]
    zoned = np.flatnonzero(mode == MODE_ZONE)
    choices: list[tuple[IntArray, FloatArray]] = []
    if zoned.shape[0]:
        zone_of = routing.zone[zoned]  # zoned nodes have a zone label
        choices.extend(
            (zoned[zone_of == z], routing.zone_weights[z]) for z in np.flatnonzero(np.bincount(zone_of)).tolist()
        )
    everywhere = np.flatnonzero(mode == MODE_ALL)
    if everywhere.shape[0]:
        choices.append((everywhere, routing.all_weights))
    for users, weights in choices:
        support = np.flatnonzero((weights > 0) & hosting)
        if support.shape[0] == 0:
            continue
        row_of_node[users] = next_row
        groups.append(support)
        chosen = weights[support]
        probs.append(chosen / chosen.sum())
        sizes.append(support.shape[0])
        next_row += 1
    ptr = np.concatenate([np.arange(local.shape[0] + 1), local.shape[0] + np.cumsum(sizes, dtype=np.int64)])
    return _Rows(row_of_node=row_of_node, ptr=ptr, group=np.concatenate(groups), prob=np.concatenate(probs))


def _row_peaks(routings: Sequence[CandidateRouting], pods: IntArray) -> FloatArray:
    """Per routing (row) and entry node, the largest probability that a new connection lands on one given Pod
    (0: dropped)."""
    per_pod = 1.0 / np.where(pods > 0, pods, np.inf)
    mode = np.stack([r.mode for r in routings])
    peak = np.where(mode == MODE_LOCAL, per_pod, 0.0)
    everywhere = mode == MODE_ALL
    if everywhere.any():
        weights = np.stack([r.all_weights for r in routings])
        totals = weights.sum(axis=1)
        all_peak = np.divide((weights * per_pod).max(axis=1), totals, out=np.zeros_like(totals), where=totals > 0)
        peak = np.where(everywhere, all_peak[:, None], peak)
    for row in np.flatnonzero((mode == MODE_ZONE).any(axis=1)).tolist():
        routing = routings[row]
        zoned = mode[row] == MODE_ZONE
        weights = routing.zone_weights
        totals = weights.sum(axis=1)
        zone_peak = np.divide((weights * per_pod).max(axis=1), totals, out=np.zeros_like(totals), where=totals > 0)
        peak[row, zoned] = zone_peak[routing.zone[zoned]]
    return peak


def _with_row(rows: _Rows, group: IntArray, prob: FloatArray) -> _Rows:
    return _Rows(
        row_of_node=rows.row_of_node,
        ptr=np.concatenate([rows.ptr, [rows.ptr[-1] + group.shape[0]]]).astype(np.int64),
        group=np.concatenate([rows.group, group]).astype(np.int64),
        prob=np.concatenate([rows.prob, prob]).astype(np.float64),
    )


def _own_node_probability(rows: _Rows, entry_row: IntArray, nodes: int) -> FloatArray:
    """Per node, the probability that an unpinned connection entering it lands on its own Pods."""
    stay = np.zeros(nodes)
    routed = np.flatnonzero(rows.row_of_node >= 0)
    if routed.shape[0] == 0 or rows.group.shape[0] == 0:
        return stay
    n_rows = int(rows.ptr.shape[0] - 1)
    if n_rows * (nodes + 1) <= _DENSE_ROW_LIMIT:
        # Each (row, node) pair occurs at most once: a dense row x node table is a plain lookup.
        dense = np.zeros((n_rows, nodes + 1))
        dense[entry_row, rows.group] = rows.prob
        stay[routed] = dense[rows.row_of_node[routed], routed]
        return stay
    key = entry_row * (nodes + 1) + rows.group
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    wanted = rows.row_of_node[routed] * (nodes + 1) + routed
    pos = np.minimum(np.searchsorted(sorted_key, wanted), sorted_key.shape[0] - 1)
    hit = sorted_key[pos] == wanted
    stay[routed[hit]] = rows.prob[order[pos[hit]]]
    return stay


def _row_columns(rows: _Rows, row: int, k: IntArray, first: IntArray) -> tuple[IntArray, FloatArray]:
    """Pod columns a row can pick and their probabilities."""
    sl = slice(int(rows.ptr[row]), int(rows.ptr[row + 1]))
    sizes = k[sl]
    starts = np.repeat(first[sl], sizes)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return starts + offsets, np.repeat(rows.prob[sl] / sizes, sizes)


def _draw(
    rng: np.random.Generator,
    samples: int,
    *,
    atom_row: IntArray,
    atom_pin: FloatArray,
    rows: _Rows,
    entry_row: IntArray,
    k: IntArray,
    first: IntArray,
    width: int,
) -> FloatArray:
    """Pinned load per Pod column and sample from the heavy atoms (each picks one Pod of its row)."""
    out = np.zeros((samples, width))
    order = np.lexsort((atom_pin, atom_row))
    row_sorted = atom_row[order]
    pin_sorted = atom_pin[order]
    change = np.flatnonzero((np.diff(row_sorted) != 0) | (np.diff(pin_sorted) != 0)) + 1
    starts = np.concatenate([[0], change])
    counts = np.diff(np.concatenate([starts, [row_sorted.shape[0]]]))
    single = np.ones(row_sorted.shape[0], dtype=np.bool_)
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        if count <= width // 2:
            continue
        columns, pvals = _row_columns(rows, int(row_sorted[start]), k, first)
        drawn = rng.multinomial(count, pvals / pvals.sum(), size=samples)
        out[:, columns] += pin_sorted[start] * drawn
        single[start : start + count] = False
    if not single.any():
        return out
    row = row_sorted[single]
    pin = pin_sorted[single]
    within = np.cumsum(rows.prob)
    row_start = np.concatenate([[0.0], within])[rows.ptr[:-1]]
    within = within - row_start[entry_row]
    within[rows.ptr[1:][np.diff(rows.ptr) > 0] - 1] = 1.0
    cum = entry_row + within
    key = row + rng.random((samples, row.shape[0]))
    lo_idx = rows.ptr[row]
    hi_idx = rows.ptr[row + 1] - 1
    idx = np.minimum(np.maximum(np.searchsorted(cum, key, side="right"), lo_idx), hi_idx)
    lower = np.where(idx == lo_idx, row.astype(np.float64), cum[np.maximum(idx - 1, 0)])
    frac = (key - lower) / rows.prob[idx]
    pos = np.minimum(np.maximum((frac * k[idx]).astype(np.int64), 0), k[idx] - 1)
    column = first[idx] + pos + (np.arange(samples) * width)[:, None]
    flat = np.bincount(column.ravel(), weights=np.broadcast_to(pin, column.shape).ravel(), minlength=samples * width)
    out += flat.reshape(samples, width)
    return out


def _exceeds_recent_list(live_keys: float) -> bool:
    """More live keys than an ``xt_recent`` list holds; exactly ``ip_list_tot`` still fits (a 1e-9 margin keeps
    float noise in the expectation from deciding it)."""
    return live_keys > RECENT_LIST_LIMIT * (1.0 + 1e-9)


def _no_traffic(samples: int, seed: int, *, dropped: float) -> AffinitySkew:
    """No Pod can be reached (or nothing enters): nothing to pin."""
    return AffinitySkew(
        scope=AFFINITY_SCOPE,
        samples=samples,
        seed=seed,
        keys=0,
        key_source="clients",
        simulated_atoms=0,
        pinned_fraction=0.0,
        dropped_fraction=dropped,
        hottest_pod_share_mean=0.0,
        hottest_pod_share_p99=0.0,
        hottest_pod_ratio_mean=1.0,
        hottest_pod_ratio_p99=1.0,
        no_affinity_hottest_pod_share=0.0,
        no_affinity_hottest_pod_ratio=1.0,
        repinned_on_pod_loss=0.0,
        repinned_on_node_loss=0.0,
        recent_entries_per_endpoint_max=0.0,
        recent_list_limit=RECENT_LIST_LIMIT,
        recent_list_exceeded=False,
    )


class StickyEstimate(NamedTuple):
    """One client-sticky estimate (see :func:`sticky_affinity_skews`)."""

    entry_share: FloatArray
    """Share of the affinity traffic's new connections entering each node (normalised there)."""
    candidates: CandidateRouting
    """Where each node sends a new unpinned connection."""
    unit_flow: Flow
    """``candidates`` applied to new connections entering as ``entry_share`` (any positive multiple of it)."""
    samples: int


def _estimate_pods(candidates: CandidateRouting) -> IntArray:
    """Pods per node that a key can be pinned to: local ones or cluster-wide endpoints."""
    pods: IntArray = np.maximum(candidates.local_pods, candidates.endpoints).astype(np.int64)
    return pods


def _row_geometry(rows: _Rows, pods: IntArray, pod_first: IntArray, total_pods: int) -> _RowGeometry:
    """Per CSR entry its row, Pods and first Pod column (the sink, group ``len(pods)``, is column ``total_pods``)."""
    entry_row = np.repeat(np.arange(rows.ptr.shape[0] - 1), np.diff(rows.ptr))
    is_sink = rows.group == pods.shape[0]
    group_safe = np.where(is_sink, 0, rows.group)
    k = np.where(is_sink, 1, pods[group_safe]).astype(np.int64)
    first = np.where(is_sink, total_pods, pod_first[group_safe]).astype(np.int64)
    return _RowGeometry(entry_row=entry_row, is_sink=is_sink, k=k, first=first)


def sticky_affinity_skews(
    estimates: Sequence[StickyEstimate],
    *,
    clients: ClientPopulation,
    timeout_seconds: int,
    seed: int,
    multiplicity: IntArray | None = None,
    memo: AffinityMemo | None = None,
) -> list[AffinitySkew]:
    """:func:`affinity_skew` for client-sticky entries (one decision per key), several routings at once.

    With a client-sticky entry (an LB keeping a client on one node, or in-cluster callers on their own node) every
    key makes one routing decision, so the keys' Pod distribution is the routing's mixture, which the unit flow
    holds; the key totals do not depend on the routing. Estimates over the same Pods share one pass over their
    samples (each estimate keeps its own rows of the shared normal bank and its own generator, so the numbers are
    those of estimating each alone).
    """
    out: list[AffinitySkew | None] = [None] * len(estimates)
    rate = sticky_rate(clients, timeout_seconds)
    keys, sticky_memo = keys_for(
        memo.keys if memo is not None else None, clients, lb_proxying=False, lb_addresses=1, rate=rate
    )
    groups: dict[bytes, tuple[IntArray, list[int]]] = {}  # estimates over the same Pods
    for i, est in enumerate(estimates):
        pods = _estimate_pods(est.candidates)
        entry = np.clip(est.entry_share.astype(np.float64), 0.0, None)
        mult = np.ones(pods.shape[0]) if multiplicity is None else multiplicity.astype(np.float64)
        if int(pods.sum()) == 0 or float(entry @ mult) <= 0:
            out[i] = _no_traffic(est.samples, seed, dropped=1.0 if int(pods.sum()) == 0 else 0.0)
        else:
            groups.setdefault(pods.tobytes(), (pods, []))[1].append(i)
    for pods, members in groups.values():
        light_limit = LIGHT_FRACTION / max(int(pods.sum()), 1)
        totals = sticky_memo.get(light_limit)
        if totals is None:
            totals = sticky_memo[light_limit] = sticky_totals(keys, rate, light_limit)
        chosen = [estimates[i] for i in members]
        skews = _sticky_group(chosen, pods, totals, keys, seed=seed, multiplicity=multiplicity, memo=memo)
        for i, skew in zip(members, skews, strict=True):
            out[i] = skew
    return [skew for skew in out if skew is not None]


def _sticky_group(
    estimates: Sequence[StickyEstimate],
    pods: IntArray,
    totals: StickyTotals,
    keys: ClientKeys,
    *,
    seed: int,
    multiplicity: IntArray | None,
    memo: AffinityMemo | None,
) -> list[AffinitySkew]:
    """Estimates over the same Pods: per-estimate rows (R x nodes), then every estimate's samples stacked."""
    nodes = pods.shape[0]
    total_pods = int(pods.sum())
    pod_first = np.concatenate([[0], np.cumsum(pods)[:-1]]).astype(np.int64)
    mult = np.ones(nodes) if multiplicity is None else multiplicity.astype(np.float64)
    count = len(estimates)
    entry = np.clip(np.stack([e.entry_share for e in estimates]).astype(np.float64), 0.0, None)
    entry /= (entry @ mult)[:, None]
    mass = entry * mult
    routed = np.stack([e.candidates.mode != MODE_DROP for e in estimates])
    dropped = np.where(routed, 0.0, mass).sum(axis=1)
    flows = [e.unit_flow for e in estimates]
    received = np.stack([f.received for f in flows])
    # The keys' Pod distribution: the routing's mixture, the drop sink last.
    mixture = np.empty((count, nodes + 1))
    served = np.stack([f.ready_load + f.terminating_load for f in flows])
    mixture[:, :nodes] = served / (received @ mult)[:, None]
    mixture[:, nodes] = dropped
    prob = mixture / mixture.sum(axis=1, keepdims=True)
    per_pod_prob = np.divide(prob[:, :nodes], pods, out=np.zeros((count, nodes)), where=pods > 0)
    spread = per_pod_prob * (1.0 - per_pod_prob)
    mean_g = totals.light_mass * per_pod_prob
    var_g = totals.light_sq * spread
    third_g = totals.light_cube * spread * (1.0 - 2.0 * per_pod_prob)
    fresh_g = totals.fresh * per_pod_prob

    samples = [e.samples for e in estimates]
    bounds = np.cumsum([0, *samples])
    starts = bounds[:-1]
    bank = normal_bank(memo.normals if memo is not None else None, seed, max(samples), total_pods)
    # Every estimate's samples, stacked: rows bounds[i]:bounds[i + 1] are estimate i's.
    pinned = np.empty((int(bounds[-1]), total_pods))
    params = light_params(mean_g, var_g, third_g, pods)
    for i, est in enumerate(estimates):
        rand = Randomness(bank[: est.samples], seed)
        light = light_load(rand, LightParams(*(p[i] for p in params)), pinned[bounds[i] : bounds[i + 1]])
        if totals.atom_pin.shape[0]:
            # Heavy atoms: each key picks one Pod of the single mixture row.
            support = np.flatnonzero(mixture[i] > 0)
            rows = _Rows(
                row_of_node=np.where(routed[i], 0, -1),
                ptr=np.array([0, support.shape[0]], dtype=np.int64),
                group=support,
                prob=mixture[i, support] / mixture[i, support].sum(),
            )
            geometry = _row_geometry(rows, pods, pod_first, total_pods)
            atoms = _draw(
                rand.rng,
                est.samples,
                atom_row=np.zeros(totals.atom_pin.shape[0], dtype=np.int64),
                atom_pin=totals.atom_pin,
                rows=rows,
                entry_row=geometry.entry_row,
                k=geometry.k,
                first=geometry.first,
                width=total_pods + 1,
            )
            light += atoms[:, :total_pods]
    rows_index = np.arange(pinned.shape[0])
    # The expired part is the same in every sample of an estimate.
    fresh_pod = np.repeat(fresh_g, pods, axis=1)
    total = np.empty_like(pinned)
    for i in range(count):
        np.add(pinned[bounds[i] : bounds[i + 1]], fresh_pod[i], out=total[bounds[i] : bounds[i + 1]])
    hottest_pod = np.argmax(total, axis=1)
    hottest = total[rows_index, hottest_pod]
    sample_count = np.array(samples, dtype=np.float64)
    hot_mean = np.add.reduceat(hottest, starts) / sample_count
    repin_pod = np.add.reduceat(pinned[rows_index, hottest_pod], starts) / sample_count

    hosting = np.flatnonzero(pods > 0)
    node_pinned = node_sums(pinned, pod_first[hosting], pods[hosting])
    fresh_node = (fresh_g * pods)[:, hosting]
    node_total = np.empty_like(node_pinned)
    for i in range(count):
        np.add(node_pinned[bounds[i] : bounds[i + 1]], fresh_node[i], out=node_total[bounds[i] : bounds[i + 1]])
    busiest = np.argmax(node_total, axis=1)
    owner = np.repeat(np.arange(count), samples)
    stay = np.divide(
        np.stack([f.served_locally for f in flows]), received, out=np.zeros((count, nodes)), where=received > 0
    )
    pinned_in = np.where(routed, entry, 0.0) * totals.pinned
    entered_elsewhere = pinned_in * (1.0 - stay)
    # ``entered_elsewhere`` is an expectation over keys, not conditioned on the sample's pins: in a sample where
    # the keys that entered the busiest node were pinned on it, adding it counts them twice. The union of the two
    # sets can never exceed the sample's pinned traffic, so the estimate is capped there.
    repin_node = (
        np.add.reduceat(
            np.minimum(
                node_pinned[rows_index, busiest] + entered_elsewhere[owner, hosting[busiest]], pinned.sum(axis=1)
            ),
            starts,
        )
        / sample_count
    )

    # No affinity: every connection is spread by its entry node's candidates (the mixture).
    # xt_recent: live keys per endpoint per node = live keys entering n x probability of one given Pod.
    live = entry * totals.live_keys
    per_pod = np.divide(mixture[:, :nodes], pods, out=np.zeros((count, nodes)), where=pods > 0)
    mean_share = (1.0 - dropped) / total_pods
    row_peaks = _row_peaks([e.candidates for e in estimates], pods)
    results: list[AffinitySkew] = []
    for i, est in enumerate(estimates):
        start = int(starts[i])
        hot_p99 = p99(hottest[start : start + est.samples])
        recent = live[i][routed[i]] * row_peaks[i][routed[i]]
        recent_max = float(recent.max()) if recent.shape[0] else 0.0
        share = float(mean_share[i])
        results.append(
            AffinitySkew(
                scope=AFFINITY_SCOPE,
                samples=est.samples,
                seed=seed,
                keys=keys.total,
                key_source=keys.source,
                simulated_atoms=int(totals.atom_pin.shape[0]),
                pinned_fraction=float(pinned_in[i] @ mult),
                dropped_fraction=float(dropped[i]),
                hottest_pod_share_mean=float(hot_mean[i]),
                hottest_pod_share_p99=hot_p99,
                hottest_pod_ratio_mean=float(hot_mean[i]) / share if share else 1.0,
                hottest_pod_ratio_p99=hot_p99 / share if share else 1.0,
                no_affinity_hottest_pod_share=float(per_pod[i][pods > 0].max()),
                no_affinity_hottest_pod_ratio=hottest_pod_ratio(per_pod[i], pods),
                repinned_on_pod_loss=float(repin_pod[i]),
                repinned_on_node_loss=float(repin_node[i]),
                recent_entries_per_endpoint_max=recent_max,
                recent_list_limit=RECENT_LIST_LIMIT,
                recent_list_exceeded=_exceeds_recent_list(recent_max),
            )
        )
    return results


def affinity_skew(
    entry_share: FloatArray,
    candidates: CandidateRouting,
    *,
    clients: ClientPopulation,
    timeout_seconds: int,
    lb_client_sticky: bool,
    lb_proxying: bool,
    seed: int,
    samples: int = 200,
    lb_addresses: int = 1,
    multiplicity: IntArray | None = None,
    memo: AffinityMemo | None = None,
    unit_flow: Flow | None = None,
) -> AffinitySkew:
    """Simulate ClientIP stickiness for one service port.

    Args:
        entry_share: Share of the affinity traffic's new connections entering each node (normalised here).
        candidates: Where each node sends a new unpinned connection (``planner.engine.routing``).
        clients: Client population (count, distribution, NAT, connection interval).
        timeout_seconds: ``sessionAffinityConfig.clientIP.timeoutSeconds``.
        lb_client_sticky: The LB (or the caller's own node, for in-cluster traffic) keeps a source on one node.
        lb_proxying: The LB re-originates connections, so nodes see the LB's addresses instead of clients.
        seed: Seed of the Monte Carlo.
        samples: Number of samples.
        lb_addresses: Source addresses of a proxying LB.
        multiplicity: How many identical nodes each entry of ``entry_share`` and ``candidates`` stands for
            (None: one each). ``entry_share`` is then each one's share, and entries standing for more than one
            node must hold no Pod. Each of them still pins on its own, so the result is the same as with the
            nodes written out one by one.
        memo: What the caller keeps across calls (e.g. one evaluation's routings): the client keys and their
            routing-independent totals are computed once per population, proxy setting and timeout, and every
            estimate draws from the same bank of normals (common random numbers: policies compared on the same
            draws).
        unit_flow: ``candidates`` applied to new connections entering as ``entry_share`` (any positive multiple of
            it), as :func:`planner.engine.flow.dispatch_rows` computes it. With a client-sticky entry every key
            makes one routing decision, so the keys' Pod distribution is that flow's mixture and the per-node
            candidate rows need not be built (the same numbers, up to the order of float sums).

    Returns:
        The skew summary (see :class:`AffinitySkew` and the module docstring for the model).
    """
    sticky = lb_client_sticky and not lb_proxying
    if sticky and unit_flow is not None:
        estimate = StickyEstimate(entry_share, candidates, unit_flow, samples)
        return sticky_affinity_skews(
            [estimate],
            clients=clients,
            timeout_seconds=timeout_seconds,
            seed=seed,
            multiplicity=multiplicity,
            memo=memo,
        )[0]
    nodes = candidates.nodes
    pods = _estimate_pods(candidates)
    total_pods = int(pods.sum())
    pod_first = np.concatenate([[0], np.cumsum(pods)[:-1]]).astype(np.int64)
    sink = nodes  # group index of "dropped"
    mult = np.ones(nodes) if multiplicity is None else multiplicity.astype(np.float64)
    entry = np.clip(entry_share.astype(np.float64), 0.0, None)
    entry_total = float(entry @ mult)
    entry = entry / entry_total if entry_total > 0 else entry
    mass = entry * mult  # share entering all the nodes an entry stands for
    if total_pods == 0 or entry_total <= 0:
        return _no_traffic(samples, seed, dropped=1.0 if total_pods == 0 else 0.0)
    rows = _rows(candidates, pods)
    base_rows = int(rows.ptr.shape[0] - 1)
    routed = rows.row_of_node >= 0
    dropped = float(mass[~routed].sum())

    rate = sticky_rate(clients, timeout_seconds)
    keys, sticky_memo = keys_for(
        memo.keys if memo is not None else None, clients, lb_proxying=lb_proxying, lb_addresses=lb_addresses, rate=rate
    )
    rest_mean = keys.rest_mass / keys.rest_count if keys.rest_count else 0.0
    light_limit = LIGHT_FRACTION / max(total_pods, 1)

    # Per-row light totals: pinned mass, pinned sum of squares, expired (connection-level) mass.
    # Row ``base_rows`` is the sticky mixture row when used.
    light_mass = np.zeros(base_rows + 1)
    light_sq = np.zeros(base_rows + 1)
    light_cube = np.zeros(base_rows + 1)
    fresh_mass = np.zeros(base_rows + 1)
    pinned_in = np.zeros(nodes)  # expected pinned traffic entering each node
    live = np.zeros(nodes)  # expected live keys per entry node

    if sticky:
        users = np.bincount(rows.row_of_node[routed], weights=mass[routed], minlength=base_rows)
        base_entry_row = np.repeat(np.arange(base_rows), np.diff(rows.ptr))
        mixture = np.bincount(rows.group, weights=users[base_entry_row] * rows.prob, minlength=nodes + 1).astype(
            np.float64, copy=False
        )
        mixture[sink] = dropped
        support = np.flatnonzero(mixture > 0)
        rows = _with_row(rows, support, mixture[support] / mixture[support].sum())
        totals = sticky_memo.get(light_limit)
        if totals is None:
            totals = sticky_memo[light_limit] = sticky_totals(keys, rate, light_limit)
        fresh_mass[base_rows] = totals.fresh
        light_mass[base_rows] = totals.light_mass
        light_sq[base_rows] = totals.light_sq
        light_cube[base_rows] = totals.light_cube
        atom_pin = totals.atom_pin
        atom_row = np.full(atom_pin.shape[0], base_rows, dtype=np.int64)
        pinned_total = totals.pinned
        pinned_in = np.where(routed, entry, 0.0) * pinned_total
        pinned_total = float(pinned_in @ mult)
        live = entry * totals.live_keys
    else:
        active = np.flatnonzero(routed & (entry > 0))
        e = entry[active]
        w = keys.explicit
        e_max = float(e.max()) if e.shape[0] else 0.0
        heavy_keys = int((w * e_max >= light_limit).sum()) if e_max > 0 else 0
        copies = mult[active]
        heavy_keys = min(heavy_keys, _MAX_ATOMS // max(int(copies.sum()), 1))
        # Keys beyond ``heavy_keys`` join the totals (their atoms are light anyway).
        rest_count = keys.rest_count + (w.shape[0] - heavy_keys)
        rest_mass = keys.rest_mass + float(w[heavy_keys:].sum())
        rest_sumsq = keys.rest_sumsq + float((w[heavy_keys:] ** 2).sum())
        rest_sumcube = keys.rest_sumcube + float((w[heavy_keys:] ** 3).sum())
        rest_mean = rest_mass / rest_count if rest_count else 0.0
        hw = w[:heavy_keys]
        traffic = np.outer(hw, e)
        pin = pinned_share(traffic, traffic, rate)
        node_row = rows.row_of_node[active]
        np.add.at(fresh_mass, node_row, (traffic - pin).sum(axis=0) * copies)
        rest_traffic = rest_mass * e
        rest_pinned = pinned_share(rest_traffic, rest_mean * e, rate)
        rest_fraction = np.divide(rest_pinned, rest_traffic, out=np.zeros_like(e), where=rest_traffic > 0)
        np.add.at(light_mass, node_row, rest_pinned * copies)
        np.add.at(light_sq, node_row, rest_sumsq * (e * rest_fraction) ** 2 * copies)
        np.add.at(light_cube, node_row, rest_sumcube * (e * rest_fraction) ** 3 * copies)
        np.add.at(fresh_mass, node_row, (rest_traffic - rest_pinned) * copies)
        heavy = pin >= light_limit
        light_pin = np.where(heavy, 0.0, pin)
        np.add.at(light_mass, node_row, light_pin.sum(axis=0) * copies)
        np.add.at(light_sq, node_row, (light_pin**2).sum(axis=0) * copies)
        np.add.at(light_cube, node_row, (light_pin**3).sum(axis=0) * copies)
        # One atom per key and node: a heavy atom of an entry standing for several nodes is repeated.
        atom_copies = np.broadcast_to(copies.astype(np.int64), pin.shape)[heavy]
        atom_row = np.repeat(np.broadcast_to(node_row, pin.shape)[heavy], atom_copies)
        atom_pin = np.repeat(pin[heavy], atom_copies)
        pinned_in[active] = pin.sum(axis=0) + rest_pinned
        pinned_total = float(pinned_in @ mult)
        live[active] = live_probability(traffic, rate).sum(axis=0) + rest_count * live_probability(rest_mean * e, rate)

    geometry = _row_geometry(rows, pods, pod_first, total_pods)
    entry_row, is_sink, k, first = geometry.entry_row, geometry.is_sink, geometry.k, geometry.first
    per_pod_prob = rows.prob / k
    width = total_pods + 1

    # Light part: per-Pod mean and variance of pinned load, plus the expired (connection-level) expectation.
    real = ~is_sink
    n_rows = rows.ptr.shape[0] - 1
    lm, ls, lc, fm = light_mass[:n_rows], light_sq[:n_rows], light_cube[:n_rows], fresh_mass[:n_rows]
    g_real = rows.group[real]
    mean_g = np.bincount(g_real, weights=(lm[entry_row] * per_pod_prob)[real], minlength=nodes)
    spread = per_pod_prob * (1.0 - per_pod_prob)
    var_g = np.bincount(g_real, weights=(ls[entry_row] * spread)[real], minlength=nodes)
    skew_g = np.bincount(g_real, weights=(lc[entry_row] * spread * (1.0 - 2.0 * per_pod_prob))[real], minlength=nodes)
    fresh_g = np.bincount(g_real, weights=(fm[entry_row] * per_pod_prob)[real], minlength=nodes)
    rand = Randomness(normal_bank(memo.normals if memo is not None else None, seed, samples, total_pods), seed)
    params = light_params(mean_g.astype(np.float64), var_g.astype(np.float64), skew_g.astype(np.float64), pods)
    light = light_load(rand, params, np.empty((samples, total_pods)))
    pinned = light

    # Heavy atoms: equal atoms of one row as one multinomial when that is cheaper, the others one by one.
    simulated = int(atom_pin.shape[0])
    if simulated:
        pinned = (
            pinned
            + _draw(
                rand.rng,
                samples,
                atom_row=atom_row,
                atom_pin=atom_pin,
                rows=rows,
                entry_row=entry_row,
                k=k,
                first=first,
                width=width,
            )[:, :total_pods]
        )
    total = pinned + np.repeat(fresh_g, pods)

    hottest_pod = np.argmax(total, axis=1)
    hottest = total[np.arange(samples), hottest_pod]
    served = 1.0 - dropped
    mean_share = served / total_pods if total_pods else 0.0
    hot_mean = float(hottest.sum()) / samples
    hot_p99 = p99(hottest)
    repin_pod = float(pinned[np.arange(samples), hottest_pod].mean())

    hosting = np.flatnonzero(pods > 0)
    node_pinned = node_sums(pinned, pod_first[hosting], pods[hosting])
    node_total = node_pinned + (fresh_g * pods)[hosting]  # the expired part is the same in every sample
    busiest = np.argmax(node_total, axis=1)
    busiest_node = hosting[busiest]
    stay = _own_node_probability(rows, entry_row, nodes)
    entered_elsewhere = pinned_in * (1.0 - stay)
    # ``entered_elsewhere`` is an expectation over keys, not conditioned on the sample's pins: in a sample where
    # the keys that entered the busiest node were pinned on it, adding it counts them twice. The union of the two
    # sets can never exceed the sample's pinned traffic, so the estimate is capped there.
    pinned_in_sample = pinned.sum(axis=1)
    repin_node = float(
        np.minimum(node_pinned[np.arange(samples), busiest] + entered_elsewhere[busiest_node], pinned_in_sample).mean()
    )

    # No affinity: every connection is spread by its entry node's candidates.
    # xt_recent: live keys per endpoint per node = live keys entering n x probability of one given Pod.
    users_row = np.zeros(n_rows)
    np.add.at(users_row, rows.row_of_node[routed], mass[routed])
    base_mask = real & (entry_row < base_rows)
    expect_g = np.bincount(
        rows.group[base_mask], weights=(users_row[entry_row] * rows.prob)[base_mask], minlength=nodes
    ).astype(np.float64, copy=False)
    row_peak = np.zeros(n_rows)
    np.maximum.at(row_peak, entry_row[real], per_pod_prob[real])
    recent = live[routed] * row_peak[rows.row_of_node[routed]]
    per_pod = np.divide(expect_g, pods, out=np.zeros(nodes), where=pods > 0)
    no_affinity_share = float(per_pod[pods > 0].max()) if total_pods else 0.0

    recent_max = float(recent.max()) if recent.shape[0] else 0.0

    return AffinitySkew(
        scope=AFFINITY_SCOPE,
        samples=samples,
        seed=seed,
        keys=keys.total,
        key_source=keys.source,
        simulated_atoms=simulated,
        pinned_fraction=pinned_total,
        dropped_fraction=dropped,
        hottest_pod_share_mean=hot_mean,
        hottest_pod_share_p99=hot_p99,
        hottest_pod_ratio_mean=hot_mean / mean_share if mean_share else 1.0,
        hottest_pod_ratio_p99=hot_p99 / mean_share if mean_share else 1.0,
        no_affinity_hottest_pod_share=no_affinity_share,
        no_affinity_hottest_pod_ratio=hottest_pod_ratio(per_pod, pods),
        repinned_on_pod_loss=repin_pod,
        repinned_on_node_loss=repin_node,
        recent_entries_per_endpoint_max=recent_max,
        recent_list_limit=RECENT_LIST_LIMIT,
        recent_list_exceeded=_exceeds_recent_list(recent_max),
    )
