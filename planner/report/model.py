"""What every renderer reads: the evaluations of one run, where their findings point, and the recommendation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from planner.domain.traffic import Requirements

if TYPE_CHECKING:
    from planner.engine.results import Evaluation
    from planner.optimizer.schema import Recommendation, ServiceRecommendation


@dataclass(frozen=True, kw_only=True)
class Location:
    """A field in the user's input: file (as given on the command line), 1-based line and field path."""

    uri: str
    line: int
    field: str = ""


@dataclass(kw_only=True)
class ServiceReport:
    """One evaluated Service (or Service under a scenario)."""

    name: str
    namespace: str
    evaluation: Evaluation
    scenario: str | None = None
    requirements: Requirements = field(default_factory=Requirements)
    location: Location | None = None
    """Where the Service (or ServicePlan) is written."""
    finding_locations: list[Location | None] = field(default_factory=list)
    """Aligned with ``evaluation.findings``."""
    check_locations: dict[str, Location] = field(default_factory=dict)
    """Requirement name -> where it is written."""
    recommended: Evaluation | None = None
    """The same Service evaluated with the recommended placement."""
    recommendation: ServiceRecommendation | None = None

    @property
    def title(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base} (scenario {self.scenario})" if self.scenario else base


@dataclass(kw_only=True)
class Report:
    services: list[ServiceReport]
    sources: list[str] = field(default_factory=list)
    recommendation: Recommendation | None = None
    tool_version: str = "0"

    @property
    def passed(self) -> bool:
        return all(s.evaluation.verdict == "pass" for s in self.services)


__all__ = ["Location", "Report", "ServiceReport"]
