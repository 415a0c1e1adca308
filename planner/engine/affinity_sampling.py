"""``sessionAffinity: ClientIP``: the Monte Carlo pieces (the shared bank of normal draws, the light part's
shifted-gamma samples, per-node sums and the 99th percentile; planner.engine.affinity has the model)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from planner.engine.lru import Lru
from planner.engine.metrics import BoolArray, FloatArray, IntArray

_GAMMA_SHAPE_LIMIT = 1e4
"""Above this gamma shape the skew is below 2 %, and a normal variable is used."""
_CUBE_SHAPE_MIN = 3.0
"""From this gamma shape up, the Wilson-Hilferty cube of a normal stands for the gamma variable."""
BANK_CACHE_BYTES = 32 * 1024 * 1024
NORMAL_BANKS: Lru[tuple[int, int], FloatArray] = Lru(BANK_CACHE_BYTES, lambda bank: int(bank.nbytes))
"""Normal banks kept across evaluations, per seed and width (read-only arrays).

A bank depends only on its seed and width (and is a prefix of any longer bank of both), so evaluations with the
same seed and Pod count (the default seed 0, a Service evaluated again, its scenarios) reuse it instead of drawing
it again."""


def cached_bank(cache: Lru[tuple[int, int], FloatArray], seed: int, samples: int, width: int) -> FloatArray:
    """At least ``samples`` rows of the bank of ``seed`` and ``width`` (from ``cache``, or drawn and kept)."""
    bank = cache.get((seed, width))
    if bank is None or bank.shape[0] < samples:
        bank = np.random.default_rng(seed).standard_normal((samples, width))
        bank.flags.writeable = False
        cache.put((seed, width), bank)
    return bank


def normal_bank(memo: dict[tuple[int, int], FloatArray] | None, seed: int, samples: int, width: int) -> FloatArray:
    """Standard normal draws, ``samples x width``, shared by every estimate of one evaluation (common random numbers).

    Drawn row by row from ``default_rng(seed)``, so the first ``n`` rows of a larger bank are the bank of ``n``
    samples: an estimate with fewer samples sees exactly the draws it would have drawn alone. Banks are kept
    across evaluations (:data:`NORMAL_BANKS`).
    """
    bank = memo.get((seed, width)) if memo is not None else None
    if bank is None or bank.shape[0] < samples:
        bank = cached_bank(NORMAL_BANKS, seed, samples, width)
        if memo is not None:
            memo[seed, width] = bank
    rows: FloatArray = bank[:samples]
    return rows


class Randomness:
    """The random inputs of one estimate: the shared normal bank, and a generator made only when needed."""

    def __init__(self, normals: FloatArray, seed: int) -> None:
        self.normals = normals
        self.seed = seed
        self._rng: np.random.Generator | None = None

    @property
    def rng(self) -> np.random.Generator:
        """Independent of the normal bank's stream (seeded with ``(seed, 1)``)."""
        if self._rng is None:
            self._rng = np.random.default_rng((self.seed, 1))
        return self._rng


class LightParams(NamedTuple):
    """Per Pod column (last axis; leading axes are estimates): the light part's moments and how it is drawn."""

    mean: FloatArray
    var: FloatArray
    shape: FloatArray
    """Gamma shape matching the moments (0 where the skew is not positive)."""
    skewed: BoolArray
    """Drawn as a shifted gamma (else as a normal variable)."""
    cube: BoolArray
    """The gamma drawn as a Wilson-Hilferty cube of the shared normals."""
    scale: FloatArray
    """Gamma scale (valid where ``cube``)."""
    a: FloatArray
    """``1 - 1/(9k)`` (valid where ``cube``)."""
    b: FloatArray
    """``1 / (3 sqrt(k))`` (valid where ``cube``)."""


def light_params(mean: FloatArray, var: FloatArray, third: FloatArray, pods: IntArray) -> LightParams:
    """Per-node moments (last axis) spread to the nodes' Pod columns, with each column's way of drawing."""
    mean_p = np.repeat(mean, pods, axis=-1)
    var_p = np.repeat(var, pods, axis=-1)
    third_p = np.repeat(third, pods, axis=-1)
    skewed = (third_p > 0) & (var_p > 0)
    shape = np.zeros_like(var_p)
    shape[skewed] = 4.0 * var_p[skewed] ** 3 / third_p[skewed] ** 2
    skewed &= shape < _GAMMA_SHAPE_LIMIT
    cube = skewed & (shape >= _CUBE_SHAPE_MIN)
    with np.errstate(divide="ignore", invalid="ignore"):  # only the ``cube`` columns are read
        scale = third_p / (2.0 * var_p)
        a = 1.0 - 1.0 / (9.0 * shape)
        b = 1.0 / (3.0 * np.sqrt(shape))
    return LightParams(mean_p, var_p, shape, skewed, cube, scale, a, b)


def light_load(rand: Randomness, params: LightParams, out: FloatArray) -> FloatArray:
    """Per-Pod sum of many light atoms into ``out`` (samples x Pods): a shifted gamma matching mean, variance and
    third central moment (``params``: one estimate's, from :func:`light_params`).

    A sum of weighted Bernoulli picks is right-skewed when a Pod gets a few atoms on average; a normal variable
    would understate the hottest Pod. Where the skew is negligible (or negative) a normal variable is used.
    Gamma variables of shape ``k >= 3`` are drawn as Wilson-Hilferty cubes of the shared normals,
    ``k (1 - 1/(9k) + z / (3 sqrt(k)))^3`` (quantiles within about 1 % of the gamma's up to the 99.99th
    percentile, never negative); smaller shapes are drawn exactly.
    """
    normals = rand.normals
    samples = normals.shape[0]
    mean_p, var_p, shape, skewed, cube, scale, a, b = params
    if not var_p.any():
        out[:] = mean_p
        return out
    if cube.all():
        # The usual case: every column a Wilson-Hilferty cube, computed in place over the whole array.
        base = np.multiply(normals, b)
        base += a
        np.multiply(base, base, out=out)
        out *= base
        out *= shape * scale
        out += mean_p - shape * scale
        np.maximum(out, 0.0, out=out)
        return out
    out[:] = mean_p
    plain = ~skewed & (var_p > 0)
    if plain.any():
        cols = np.flatnonzero(plain)
        out[:, cols] += np.sqrt(var_p[cols]) * normals[:, cols]
    for chosen in (cube, skewed & ~cube):
        if not chosen.any():
            continue
        cols = np.flatnonzero(chosen)
        k = shape[cols]
        if chosen is cube:
            draws = k * (a[cols] + normals[:, cols] * b[cols]) ** 3
        else:
            # standard_gamma draws the same stream as gamma(shape, 1.0), with less overhead.
            draws = rand.rng.standard_gamma(k, (samples, cols.shape[0]))
        out[:, cols] = mean_p[cols] - k * scale[cols] + scale[cols] * draws
    np.maximum(out, 0.0, out=out)
    return out


def node_sums(values: FloatArray, first: IntArray, pods: IntArray) -> FloatArray:
    """Per sample, the sum of each node's Pod columns (``np.add.reduceat`` along axis 1, added in the same order).

    Nodes usually hold one or a few Pods, so adding the j-th Pod column of every node that has one is much
    cheaper than a strided reduceat.
    """
    most = int(pods.max(initial=0))
    if most == 1 and first.shape[0] == values.shape[1]:
        return values  # one Pod per node, every column a node of its own
    if most > 8:
        out: FloatArray = np.add.reduceat(values, first, axis=1)
        return out
    sums: FloatArray = values[:, first]
    for j in range(1, most):
        has = np.flatnonzero(pods > j)
        sums[:, has] += values[:, first[has] + j]
    return sums


def p99(values: FloatArray) -> float:
    """``np.quantile(values, 0.99)`` (linear interpolation), without its per-call overhead."""
    ordered = np.sort(values)
    n = int(ordered.shape[0])
    position = n * 0.99 - 0.99  # numpy's virtual index for the linear method: q (n - 1)
    low = min(math.floor(position), n - 1)
    high = min(low + 1, n - 1)
    t = position - low
    a, b = float(ordered[low]), float(ordered[high])
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
