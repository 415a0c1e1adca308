"""SARIF 2.1.0: one run, rules from the findings' rule IDs (and failed requirements), results located at the
offending field of the user's YAML so that code hosts annotate the pull request."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import msgspec

from planner.report.model import Location, Report
from planner.report.rules import REQUIREMENTS, requirement_rule_id, rule_for

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def artifact_uri(source: str) -> str:
    """A relative URI with forward slashes (code hosts resolve it against the repository root)."""
    return PurePath(source).as_posix().removeprefix("./")


def _location(location: Location | None, fallback: Location | None) -> list[dict[str, Any]]:
    chosen = location or fallback
    if chosen is None:
        return []
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": artifact_uri(chosen.uri)},
        "region": {"startLine": chosen.line},
    }
    entry: dict[str, Any] = {"physicalLocation": physical}
    if chosen.field:
        entry["logicalLocations"] = [{"fullyQualifiedName": chosen.field, "kind": "member"}]
    return [entry]


def render_sarif(report: Report) -> str:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def rule_index(rule_id: str, name: str, short: str, help_text: str, level: str) -> int:
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(
                {
                    "id": rule_id,
                    "name": name,
                    "shortDescription": {"text": short},
                    "fullDescription": {"text": help_text},
                    "help": {"text": help_text, "markdown": help_text},
                    "defaultConfiguration": {"level": level},
                }
            )
        return index[rule_id]

    results: list[dict[str, Any]] = []
    for service in report.services:
        ev = service.evaluation
        for position, finding in enumerate(ev.findings):
            rule = rule_for(finding.id, finding.name, finding.message)
            level = _LEVELS[finding.severity]
            where = service.finding_locations[position] if position < len(service.finding_locations) else None
            text = f"{service.title}: {finding.message}"
            if finding.fix is not None:
                text += f" Fix: {finding.fix.description}."
            results.append(
                {
                    "ruleId": finding.id,
                    "ruleIndex": rule_index(finding.id, rule.name, rule.summary, rule.help, level),
                    "level": level,
                    "message": {"text": text},
                    "locations": _location(where, service.location),
                    "partialFingerprints": {"service/rule": f"{service.title}/{finding.id}"},
                    "properties": {"evidence": finding.evidence},
                }
            )
        failed = [c for c in ev.checks if not c.passed]
        texts = list(ev.failures) + [""] * (len(failed) - len(ev.failures))
        for check, failure in zip(failed, texts, strict=False):
            rule_id = requirement_rule_id(check.requirement)
            help_text = REQUIREMENTS.get(check.requirement, check.requirement)
            results.append(
                {
                    "ruleId": rule_id,
                    "ruleIndex": rule_index(rule_id, check.requirement, help_text, help_text, "error"),
                    "level": "error",
                    "message": {
                        "text": f"{service.title}: requirement {check.requirement} failed"
                        + (f": {failure}" if failure else f" (actual {check.actual}, limit {check.limit})")
                    },
                    "locations": _location(service.check_locations.get(check.requirement), service.location),
                    "partialFingerprints": {"service/rule": f"{service.title}/{rule_id}"},
                }
            )
    artifacts = [{"location": {"uri": artifact_uri(s)}} for s in report.sources if not s.startswith("<")]
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "traffic-planner",
                        "version": report.tool_version,
                        "informationUri": "https://kubernetes.io/docs/reference/networking/virtual-ips/",
                        "rules": rules,
                    }
                },
                "artifacts": artifacts,
                "results": results,
            }
        ],
    }
    return msgspec.json.format(msgspec.json.encode(sarif).decode(), indent=2) + "\n"


__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "artifact_uri", "render_sarif"]
