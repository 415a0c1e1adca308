"""Requirement checks for every row of the policy matrix (the engine's verdict, applied to each alternative)."""

from __future__ import annotations

from planner.engine.findings import verdict_for
from planner.engine.results import PolicyResult
from planner.report.model import ServiceReport


def row_verdict(service: ServiceReport, row: PolicyResult) -> tuple[str, list[str]]:
    """``pass``/``fail`` and the failing numbers, for one policy row; the current row keeps the engine's verdict."""
    if row.current:
        return service.evaluation.verdict, list(service.evaluation.failures)
    _, failures = verdict_for(service.requirements, row)
    return ("fail" if failures else "pass"), failures


__all__ = ["row_verdict"]
