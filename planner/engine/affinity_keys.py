"""``sessionAffinity: ClientIP``: the source addresses nodes key on (clients, NAT or proxy collapse), and what they
contribute under a client-sticky entry (planner.engine.affinity has the model)."""

from __future__ import annotations

import math
from typing import Literal

import msgspec
import numpy as np

from planner.domain.traffic import ClientPopulation, HeavyHitterClients, ZipfClients
from planner.engine.lru import Lru
from planner.engine.metrics import FloatArray

EXPLICIT_KEY_CAP = 2000
"""Keys materialised one by one; the rest of the population is kept as totals."""
KeySource = Literal["clients", "nat", "proxy"]


class ClientKeys(msgspec.Struct, frozen=True):
    """Key weights: the explicit ones (largest first) and totals for the rest."""

    explicit: FloatArray
    rest_count: int
    rest_mass: float
    rest_sumsq: float
    rest_sumcube: float
    total: int
    source: KeySource


def power_tail(start: int, stop: int, exponent: float) -> float:
    """``sum(i ** -exponent for i in range(start, stop + 1))`` by Euler-Maclaurin (start >= 2000: error < 1e-12)."""
    if stop < start:
        return 0.0
    a, b = float(start), float(stop)
    if abs(exponent - 1.0) < 1e-12:
        integral = math.log(b / a)
    else:
        integral = (b ** (1.0 - exponent) - a ** (1.0 - exponent)) / (1.0 - exponent)
    ends = (a**-exponent + b**-exponent) / 2.0
    slope = exponent / 12.0 * (a ** (-exponent - 1.0) - b ** (-exponent - 1.0))
    return float(integral + ends + slope)


def _client_weights(clients: ClientPopulation, cap: int) -> ClientKeys:
    count = clients.count
    dist = clients.distribution
    head = min(count, cap)
    if isinstance(dist, ZipfClients):
        s = dist.exponent
        ranks = np.arange(1, head + 1, dtype=np.float64)
        top = ranks**-s
        tail = power_tail(head + 1, count, s)
        tail_sq = power_tail(head + 1, count, 2.0 * s)
        norm = float(top.sum()) + tail
        tail_cube = power_tail(head + 1, count, 3.0 * s)
        return ClientKeys(
            top / norm, count - head, tail / norm, tail_sq / norm**2, tail_cube / norm**3, count, "clients"
        )
    if isinstance(dist, HeavyHitterClients):
        shares = np.array(dist.shares[:count], dtype=np.float64)
        rest_clients = count - shares.shape[0]
        rest_mass = max(0.0, 1.0 - float(shares.sum()))
        if rest_clients == 0 or rest_mass == 0.0:
            shares = shares / shares.sum() if rest_clients == 0 and shares.sum() > 0 else shares
            rest_mass = 0.0
        each = rest_mass / rest_clients if rest_clients else 0.0
        shown = min(rest_clients, max(cap - shares.shape[0], 0))
        explicit = np.concatenate([shares, np.full(shown, each)])
        hidden = rest_clients - shown
        return ClientKeys(explicit, hidden, each * hidden, each**2 * hidden, each**3 * hidden, count, "clients")
    each = 1.0 / count
    hidden = count - head
    return ClientKeys(np.full(head, each), hidden, each * hidden, each**2 * hidden, each**3 * hidden, count, "clients")


def _collapse(keys: ClientKeys, addresses: int, source: KeySource) -> ClientKeys:
    """Fold keys of rank ``i`` onto address ``i mod addresses``; the rest's share is spread evenly over them."""
    if addresses >= keys.total:
        return keys
    shown = keys.explicit.shape[0]
    spread = keys.rest_mass / addresses
    if addresses <= EXPLICIT_KEY_CAP:
        folded = np.bincount(np.arange(shown) % addresses, weights=keys.explicit, minlength=addresses) + spread
        return ClientKeys(np.sort(folded)[::-1], 0, 0.0, 0.0, 0.0, addresses, source)
    hidden = addresses - shown
    return ClientKeys(
        keys.explicit + spread, hidden, spread * hidden, spread**2 * hidden, spread**3 * hidden, addresses, source
    )


def _proxy_keys(addresses: int) -> ClientKeys:
    shown = min(addresses, EXPLICIT_KEY_CAP)
    each = 1.0 / addresses
    hidden = addresses - shown
    return ClientKeys(
        np.full(shown, each), hidden, each * hidden, each**2 * hidden, each**3 * hidden, addresses, "proxy"
    )


class StickyTotals(msgspec.Struct, frozen=True):
    """What the keys contribute under a client-sticky entry (one decision per key), independent of the routing."""

    fresh: float
    light_mass: float
    light_sq: float
    light_cube: float
    atom_pin: FloatArray
    pinned: float
    live_keys: float


def source_keys(clients: ClientPopulation, *, lb_proxying: bool, lb_addresses: int) -> ClientKeys:
    if lb_proxying:
        return _proxy_keys(max(lb_addresses, 1))
    keys = _client_weights(clients, EXPLICIT_KEY_CAP)
    if clients.nat_addresses is not None:
        keys = _collapse(keys, clients.nat_addresses, "nat")
    return keys


def sticky_totals(keys: ClientKeys, rate: float, light_limit: float) -> StickyTotals:
    w = keys.explicit
    rest_mean = keys.rest_mass / keys.rest_count if keys.rest_count else 0.0
    pin = pinned_share(w, w, rate)
    rest_pin = float(pinned_share(np.array([keys.rest_mass]), np.array([rest_mean]), rate)[0])
    fraction_pinned_rest = rest_pin / keys.rest_mass if keys.rest_mass > 0 else 0.0
    heavy = pin >= light_limit
    light = pin[~heavy]
    return StickyTotals(
        fresh=float((w - pin).sum()) + (keys.rest_mass - rest_pin),
        light_mass=rest_pin + float(light.sum()),
        light_sq=keys.rest_sumsq * fraction_pinned_rest**2 + float((light**2).sum()),
        light_cube=keys.rest_sumcube * fraction_pinned_rest**3 + float((light**3).sum()),
        atom_pin=pin[heavy],
        pinned=float(pin.sum()) + rest_pin,
        live_keys=float(live_probability(w, rate).sum())
        + keys.rest_count * float(live_probability(np.array([rest_mean]), rate)[0]),
    )


def pinned_share(weight: FloatArray, traffic: FloatArray, rate: float) -> FloatArray:
    """Share of ``weight`` that finds its pin: ``1 - exp(-timeout * rate * traffic)`` (``rate`` already x timeout)."""
    if math.isinf(rate):
        return weight.copy()
    return weight * -np.expm1(-rate * traffic)


def live_probability(traffic: FloatArray, rate: float) -> FloatArray:
    """Probability a key opened a connection within the timeout (Poisson): ``1 - exp(-timeout * rate)``."""
    if math.isinf(rate):
        return (traffic > 0).astype(np.float64)
    return -np.expm1(-rate * traffic)


CLIENT_KEYS: Lru[object, tuple[ClientKeys, dict[float, StickyTotals]]] = Lru(64, lambda _: 1)
"""Client keys (and their sticky totals per light-atom limit) kept across evaluations, per population, proxy
setting and timeout: they depend on nothing else."""


def sticky_rate(clients: ClientPopulation, timeout_seconds: int) -> float:
    """Expected new connections per timeout window of a key with share 1 (times its share and node share)."""
    interval = clients.connection_interval_seconds
    return math.inf if interval is None else timeout_seconds * clients.count / interval


def keys_for(
    memo: dict[object, tuple[ClientKeys, dict[float, StickyTotals]]] | None,
    clients: ClientPopulation,
    *,
    lb_proxying: bool,
    lb_addresses: int,
    rate: float,
) -> tuple[ClientKeys, dict[float, StickyTotals]]:
    """The population's keys and their memoised sticky totals (per light-atom limit)."""
    memo_key = (msgspec.json.encode(clients), lb_proxying, lb_addresses, rate)
    found = memo.get(memo_key) if memo is not None else None
    if found is None:
        found = CLIENT_KEYS.get(memo_key)
        if found is None:
            keys = source_keys(clients, lb_proxying=lb_proxying, lb_addresses=lb_addresses)
            keys.explicit.flags.writeable = False  # shared across evaluations
            found = (keys, {})
            CLIENT_KEYS.put(memo_key, found)
        if memo is not None:
            memo[memo_key] = found
    return found
