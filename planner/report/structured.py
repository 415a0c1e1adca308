"""JSON and YAML output: the engine's Evaluation schema, one per evaluated Service, plus the overall verdict."""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

from planner.report.model import Report


def document(report: Report) -> dict[str, Any]:
    evaluations: list[Any] = msgspec.to_builtins([s.evaluation for s in report.services])
    return {"verdict": "pass" if report.passed else "fail", "evaluations": evaluations}


def render_json(report: Report) -> str:
    return msgspec.json.format(msgspec.json.encode(document(report)).decode(), indent=2) + "\n"


def render_yaml(report: Report) -> str:
    return str(yaml.safe_dump(document(report), sort_keys=False, default_flow_style=False, width=120))


__all__ = ["document", "render_json", "render_yaml"]
