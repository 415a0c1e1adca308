"""Readable terminal output: per Service, the policy matrix (current row marked), the verdict and the findings."""

from __future__ import annotations

from collections.abc import Sequence

from planner.report.fmt import pct, policy_label, ratio
from planner.report.model import Report, ServiceReport
from planner.report.verdicts import row_verdict

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
HEADERS = ("", "Policy", "Hottest/mean", "CV", "Dropped", "Extra hop", "Client IP", "Verdict")


class Style:
    """ANSI styling, or none at all (pipes, files, ``NO_COLOR``)."""

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        codes = ";".join(_CODES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"


def _grid(rows: Sequence[Sequence[str]], styles: Sequence[Sequence[tuple[str, ...]]], style: Style) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row, row_styles in zip(rows, styles, strict=True):
        cells = []
        for i, cell in enumerate(row):
            padded = cell.rjust(widths[i]) if 2 <= i <= 6 else cell.ljust(widths[i])
            cells.append(style(padded, *row_styles[i]))
        lines.append("  ".join(cells).rstrip())
    return lines


def render_service(service: ServiceReport, style: Style) -> list[str]:
    ev = service.evaluation
    verdict = style(ev.verdict.upper(), "bold", "green" if ev.verdict == "pass" else "red")
    out = [style(service.title, "bold") + f"  {verdict}"]
    if service.location is not None:
        out.append(style(f"  {service.location.uri}:{service.location.line}", "dim"))
    rows: list[list[str]] = [list(HEADERS)]
    styles: list[list[tuple[str, ...]]] = [[("bold",)] * len(HEADERS)]
    for result in ev.policies:
        s = result.summary
        verdict_text, _ = row_verdict(service, result)
        rows.append(
            [
                "*" if result.current else "",
                policy_label(result.policy),
                ratio(s.hottest_pod_ratio),
                f"{s.coefficient_of_variation:.2f}",
                pct(s.dropped_fraction, 1),
                pct(s.extra_hop_fraction),
                pct(s.client_ip_visible_fraction),
                verdict_text,
            ]
        )
        base: tuple[str, ...] = ("bold",) if result.current else ()
        styles.append(
            [base] * 7 + [(*base, "green" if verdict_text == "pass" else "red")],
        )
    out += ["  " + line for line in _grid(rows, styles, style)]
    out.append(style("  * current policy; hottest/mean = hottest Pod's load over the mean Pod load", "dim"))
    for failure in ev.failures:
        out.append("  " + style("FAILED", "red", "bold") + f" {failure}")
    for index, finding in enumerate(ev.findings):
        colour = {"error": "red", "warning": "yellow", "info": "cyan"}[finding.severity]
        where = ""
        if index < len(service.finding_locations) and service.finding_locations[index] is not None:
            loc = service.finding_locations[index]
            assert loc is not None
            where = style(f" ({loc.uri}:{loc.line})", "dim")
        out.append(f"  {style(finding.id, colour, 'bold')} {style(finding.severity, colour)} {finding.name}{where}")
        out.append(f"      {finding.message}")
        if finding.fix is not None:
            out.append(f"      fix: {finding.fix.description}")
    return out


def render_table(report: Report, *, color: bool = False) -> str:
    style = Style(color=color)
    blocks = ["\n".join(render_service(s, style)) for s in report.services]
    passed = sum(1 for s in report.services if s.evaluation.verdict == "pass")
    total = len(report.services)
    summary = f"{passed}/{total} passed"
    summary = style(summary, "bold", "green" if passed == total else "red")
    return "\n\n".join([*blocks, summary]) + "\n"


__all__ = ["HEADERS", "Style", "render_service", "render_table"]
