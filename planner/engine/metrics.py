"""Load-balance metrics: the one definition of each, used by the engine, the optimizer and the reports."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def hottest_pod_ratio(per_pod_share: FloatArray, pods: IntArray) -> float:
    """Hottest Pod's expected load divided by the mean Pod load (1.0 is perfectly even).

    ``per_pod_share[i]`` is the load of each of the ``pods[i]`` identical Pods in group ``i`` (a group is usually
    the Pods of one node). The mean is over every Pod counted in ``pods``, including Pods that get nothing.
    Returns 1.0 when no Pod gets any load (nothing to be uneven about).
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
    """Population standard deviation of per-Pod load divided by its mean (0.0 is perfectly even)."""
    total_pods = int(pods.sum())
    if total_pods == 0:
        return 0.0
    mean = float((per_pod_share * pods).sum()) / total_pods
    if mean <= 0.0:
        return 0.0
    variance = float((pods * (per_pod_share - mean) ** 2).sum()) / total_pods
    return float(np.sqrt(variance)) / mean
