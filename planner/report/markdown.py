"""Markdown for a pull-request comment: a summary table, then per Service the failures, findings and matrix."""

from __future__ import annotations

from planner.report.fmt import pct, policy_label, ratio
from planner.report.model import Report, ServiceReport
from planner.report.verdicts import row_verdict

_ICON = {"pass": "✅ pass", "fail": "❌ fail"}
_SEVERITY = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}


def cell(text: str) -> str:
    """Text safe inside a table cell: pipes escaped, no line breaks, no HTML."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _matrix(service: ServiceReport) -> list[str]:
    lines = [
        "| | Policy | Hottest/mean | CV | Dropped | Extra hop | Client IP | Verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in service.evaluation.policies:
        s = row.summary
        verdict, _ = row_verdict(service, row)
        lines.append(
            f"| {'**current**' if row.current else ''} | {cell(policy_label(row.policy))} | "
            f"{ratio(s.hottest_pod_ratio)} | {s.coefficient_of_variation:.2f} | {pct(s.dropped_fraction, 1)} | "
            f"{pct(s.extra_hop_fraction)} | {pct(s.client_ip_visible_fraction)} | {verdict} |"
        )
    return lines


def render_markdown(report: Report) -> str:
    passed = sum(1 for s in report.services if s.evaluation.verdict == "pass")
    lines = [
        "## Traffic Planner",
        "",
        f"**{passed}/{len(report.services)} Services pass their requirements.**",
        "",
        "| Service | Verdict | Current policy | Hottest/mean | Dropped | Extra hop | Client IP | Findings |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for service in report.services:
        ev = service.evaluation
        s = ev.policies[0].summary
        lines.append(
            f"| {cell(service.title)} | {_ICON[ev.verdict]} | {cell(policy_label(ev.current))} | "
            f"{ratio(s.hottest_pod_ratio)} | {pct(s.dropped_fraction, 1)} | {pct(s.extra_hop_fraction)} | "
            f"{pct(s.client_ip_visible_fraction)} | {len(ev.findings)} |"
        )
    for service in report.services:
        ev = service.evaluation
        lines += ["", f"### {cell(service.title)}: {_ICON[ev.verdict]}", "", cell(ev.summary), ""]
        if service.location is not None:
            lines += [f"Defined in {cell(service.location.uri)} line {service.location.line}.", ""]
        for failure in ev.failures:
            lines.append(f"- ❌ requirement failed: {cell(failure)}")
        if ev.failures:
            lines.append("")
        if ev.findings:
            lines += ["| Rule | Severity | Finding | Fix | Where |", "|---|---|---|---|---|"]
            for index, finding in enumerate(ev.findings):
                loc = service.finding_locations[index] if index < len(service.finding_locations) else None
                where = f"{cell(loc.uri)}:{loc.line}" if loc is not None else ""
                fix = cell(finding.fix.description) if finding.fix is not None else ""
                lines.append(
                    f"| `{finding.id}` {cell(finding.name)} | {_SEVERITY[finding.severity]} | "
                    f"{cell(finding.message)} | {fix} | {where} |"
                )
            lines.append("")
        lines += ["<details><summary>Policy matrix</summary>", "", *_matrix(service), "", "</details>"]
    lines += [
        "",
        "Hottest/mean: the hottest Pod's expected load over the mean Pod load (1.00x is even). "
        "Dropped, extra hop and client IP are fractions of connections.",
    ]
    return "\n".join(lines) + "\n"


__all__ = ["cell", "render_markdown"]
