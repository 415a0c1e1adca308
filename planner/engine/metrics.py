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


def pod_load_stats(per_pod_share: FloatArray, pods: IntArray) -> PodLoadStats:
    """:func:`hottest_pod_ratio`, :func:`coefficient_of_variation` and the hottest and coldest Pod, computed together
    with the same arithmetic (one pass for a summary that needs them all)."""
    total_pods = int(pods.sum())
    if total_pods == 0:
        return PodLoadStats(0, 0.0, 0.0, 0, 0.0, 1.0, 0.0)
    present = pods > 0
    loads = per_pod_share[present]
    served = float((per_pod_share * pods).sum())
    hottest_index = int(np.flatnonzero(present)[int(np.argmax(loads))])
    hottest = float(per_pod_share[hottest_index])
    coldest = float(loads.min())
    if served <= 0.0:
        return PodLoadStats(total_pods, served, hottest, hottest_index, coldest, 1.0, 0.0)
    mean = served / total_pods
    variance = float((pods * (per_pod_share - mean) ** 2).sum()) / total_pods
    return PodLoadStats(
        total_pods, served, hottest, hottest_index, coldest, hottest / mean, float(np.sqrt(variance)) / mean
    )


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
