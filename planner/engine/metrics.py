"""Load-balance metrics: the one definition of each, used by the engine, the optimizer and the reports."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class PodLoadStats(NamedTuple):
    """The load-balance metrics of one per-Pod load vector, computed together (see the functions below)."""

    pods: int
    """Pods counted (including Pods that get nothing)."""
    served: float
    """Sum of every Pod's load."""
    hottest: float
    """Largest per-Pod load (0.0 without Pods)."""
    hottest_index: int
    """Group of the hottest Pod (first such group; 0 without Pods)."""
    coldest: float
    """Smallest per-Pod load (0.0 without Pods)."""
    hottest_ratio: float
    """:func:`hottest_pod_ratio`."""
    cv: float
    """:func:`coefficient_of_variation`."""


class PodLoadRows(NamedTuple):
    """:class:`PodLoadStats` of several per-Pod load vectors at once: one entry per row."""

    pods: IntArray
    served: FloatArray
    hottest: FloatArray
    hottest_index: IntArray
    coldest: FloatArray
    hottest_ratio: FloatArray
    cv: FloatArray

    def row(self, index: int) -> PodLoadStats:
        return PodLoadStats(
            int(self.pods[index]),
            float(self.served[index]),
            float(self.hottest[index]),
            int(self.hottest_index[index]),
            float(self.coldest[index]),
            float(self.hottest_ratio[index]),
            float(self.cv[index]),
        )


def pod_load_rows(per_pod_share: FloatArray, pods: IntArray) -> PodLoadRows:
    """:func:`pod_load_stats` of every row of ``per_pod_share`` (``pods``: one row for all, or one per row), with
    the same arithmetic row by row."""
    pods = np.broadcast_to(pods, per_pod_share.shape)
    total_pods = pods.sum(axis=1)
    present = pods > 0
    served = (per_pod_share * pods).sum(axis=1)
    hottest_index = np.argmax(np.where(present, per_pod_share, -np.inf), axis=1)
    hottest = np.take_along_axis(per_pod_share, hottest_index[:, None], axis=1)[:, 0]
    coldest = np.where(present, per_pod_share, np.inf).min(axis=1, initial=np.inf)
    some = total_pods > 0
    loaded = some & (served > 0.0)
    mean = np.divide(served, total_pods, out=np.zeros_like(served), where=some)
    variance = np.divide(
        (pods * (per_pod_share - mean[:, None]) ** 2).sum(axis=1), total_pods, out=np.zeros_like(served), where=some
    )
    ratio = np.divide(hottest, mean, out=np.ones_like(served), where=loaded)
    cv = np.divide(np.sqrt(variance), mean, out=np.zeros_like(served), where=loaded)
    return PodLoadRows(
        pods=total_pods.astype(np.int64),
        served=np.where(some, served, 0.0),
        hottest=np.where(some, hottest, 0.0),
        hottest_index=np.where(some, hottest_index, 0).astype(np.int64),
        coldest=np.where(some, coldest, 0.0),
        hottest_ratio=ratio,
        cv=cv,
    )


def pod_load_stats(per_pod_share: FloatArray, pods: IntArray) -> PodLoadStats:
    """:func:`hottest_pod_ratio`, :func:`coefficient_of_variation` and the hottest and coldest Pod, computed together
    with the same arithmetic (one pass for a summary that needs them all)."""
    return pod_load_rows(per_pod_share[None, :], pods[None, :]).row(0)


def extra_hop_fraction(forwarded: float, served: float) -> float:
    """Share of served connections whose endpoint is on another node than the one they entered (``forwarded``
    and ``served``: totals over every node; 0.0 when nothing is served)."""
    return forwarded / served if served > 0 else 0.0


def hottest_pod_ratio(per_pod_share: FloatArray, pods: IntArray) -> float:
    """Hottest Pod's expected load divided by the mean Pod load (1.0 is perfectly even).

    ``per_pod_share[i]`` is the load of each of the ``pods[i]`` identical Pods in group ``i`` (a group is usually
    the Pods of one node). The mean is over every Pod counted in ``pods``, including Pods that get nothing.
    Returns 1.0 when no Pod gets any load (nothing to be uneven about). :func:`pod_load_stats` computes the same.
    """
    total_pods = int(pods.sum())
    if total_pods == 0:
        return 1.0
    served = float((per_pod_share * pods).sum())
    if served <= 0.0:
        return 1.0
    hottest = float(per_pod_share[pods > 0].max())
    return hottest / (served / total_pods)


def coefficient_of_variation(per_pod_share: FloatArray, pods: IntArray) -> float:
    """Population standard deviation of per-Pod load divided by its mean (0.0 is perfectly even).

    :func:`pod_load_stats` computes the same."""
    total_pods = int(pods.sum())
    if total_pods == 0:
        return 0.0
    mean = float((per_pod_share * pods).sum()) / total_pods
    if mean <= 0.0:
        return 0.0
    variance = float((pods * (per_pod_share - mean) ** 2).sum()) / total_pods
    return float(np.sqrt(variance)) / mean
