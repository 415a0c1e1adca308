"""Placement optimizer: CP-SAT recommends Pods per node so that traffic stays even, and writes the manifests.

Entry point: :func:`recommend` (synchronous and thread-safe; run it in a worker thread from async code).
"""

from planner.optimizer.schema import Recommendation, RecommendRequest
from planner.optimizer.solve import recommend

__all__ = ["RecommendRequest", "Recommendation", "recommend"]
