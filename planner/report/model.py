"""What every renderer reads: the evaluations of one run, where their findings point, and the recommendation."""

from __future__ import annotations

import msgspec

from planner.domain.traffic import Requirements
from planner.engine.results import Evaluation
from planner.optimizer.schema import Recommendation, ServiceRecommendation


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """A field in the user's input: file (as given on the command line), 1-based line and field path."""

    uri: str
    line: int
    field: str = ""


class ServiceReport(msgspec.Struct, kw_only=True):
    """One evaluated Service (or Service under a scenario)."""

    name: str
    namespace: str
    evaluation: Evaluation
    scenario: str | None = None
    requirements: Requirements = msgspec.field(default_factory=Requirements)
    location: Location | None = None
    """Where the Service (or ServicePlan) is written."""
    finding_locations: list[Location | None] = msgspec.field(default_factory=list)
    """Aligned with ``evaluation.findings``."""
    check_locations: dict[str, Location] = msgspec.field(default_factory=dict)
    """Requirement name -> where it is written."""
    recommended: Evaluation | None = None
    """The same Service evaluated with the recommended placement."""
    recommendation: ServiceRecommendation | None = None

    @property
    def title(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base} (scenario {self.scenario})" if self.scenario else base


class Report(msgspec.Struct, kw_only=True):
    services: list[ServiceReport]
    sources: list[str] = msgspec.field(default_factory=list)
    recommendation: Recommendation | None = None
    tool_version: str = "0"

    @property
    def passed(self) -> bool:
        return all(s.evaluation.verdict == "pass" for s in self.services)


__all__ = ["Location", "Report", "ServiceReport"]
