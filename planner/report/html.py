"""One self-contained HTML report (inline CSS and SVG, no scripts, no external assets): works offline and as a
CI artifact. Every piece of user text is escaped."""

from __future__ import annotations

from html import escape
from string import Template

from planner.engine.affinity import AffinitySkew
from planner.engine.results import Evaluation, FailureOutcome, NodeTable, PolicyResult
from planner.report.fmt import pct, policy_label, rate, ratio
from planner.report.model import Report, ServiceReport
from planner.report.rules import rule_for
from planner.report.svg import (
    BLUE,
    GREY,
    ORANGE,
    SCALE,
    SKY,
    VERMILLION,
    Bar,
    Segment,
    bar_chart,
    legend,
    scale_colour,
    timeline,
)
from planner.report.verdicts import row_verdict

MAX_BARS = 40
"""Bars per chart; larger clusters show the busiest nodes and Pods and say so."""
MAX_MATRIX_ROWS = 64

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header>
<h1>$title</h1>
<p class="meta">$meta</p>
$overview
</header>
<main>
$body
</main>
<footer><p>$footer</p></footer>
</body>
</html>
"""
)

CSS = """
:root{color-scheme:light;--ink:#1a1a1a;--muted:#555;--line:#d0d0d0;--pass:#006d4f;--fail:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#fff}
header,main,footer{max-width:1180px;margin:0 auto;padding:0 20px}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:19px;margin:0}h3{font-size:15px;margin:18px 0 6px}
.meta,.note,footer{color:var(--muted);font-size:12.5px}
section.service{border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:18px 0}
.head{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;color:#fff;font-size:13px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.current td{font-weight:700}tr.current td:first-child{box-shadow:inset 4px 0 0 #1a1a1a}
.pair{display:flex;gap:24px;flex-wrap:wrap}.pair>div{flex:1 1 460px;min-width:0}
.key{display:inline-flex;align-items:center;gap:5px;margin-right:14px;font-size:12.5px}
.swatch{display:inline-block;width:14px;height:14px;border:1px solid #888}
.finding{border-left:4px solid #888;padding:4px 10px;margin:8px 0;background:#fafafa}
.finding.error{border-color:var(--fail)}.finding.warning{border-color:#E69F00}.finding.info{border-color:#0072B2}
.finding .fix{margin-top:3px}.where{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:var(--muted)}
pre.diff{background:#f7f7f7;border:1px solid var(--line);padding:8px;overflow:auto;font-size:12px;line-height:1.35}
pre.diff .add{background:#e6f4ea;display:block}pre.diff .del{background:#fde7e7;display:block}
pre.diff .hunk{color:#0072B2;display:block}
ul.fails{color:var(--fail);margin:4px 0}
@media print{section.service{break-inside:avoid-page}}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _badge(verdict: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(verdict.upper())}</span>'


def _nodes(ev: Evaluation) -> NodeTable | None:
    return ev.policies[0].nodes if ev.policies else None


def _node_bars(table: NodeTable, limit: int) -> tuple[list[Bar], int]:
    order = sorted(
        range(len(table.names)),
        key=lambda i: -(table.served_connections_per_second[i] + table.dropped_connections_per_second[i]),
    )
    shown = [i for i in order if table.ready_pods[i] or table.received_connections_per_second[i] > 0][:limit]
    shown.sort(key=lambda i: table.names[i])
    bars = []
    for i in shown:
        served = table.served_connections_per_second[i]
        dropped = table.dropped_connections_per_second[i]
        pods = table.ready_pods[i]
        text = f"{rate(served)}/s, {pods} Pod{'s' if pods != 1 else ''}"
        if dropped > 0:
            text += f", {rate(dropped)}/s dropped"
        bars.append(
            Bar(
                table.names[i],
                [Segment(served, BLUE, "served by its Pods"), Segment(dropped, VERMILLION, "dropped")],
                text,
            )
        )
    return bars, len(table.names) - len(shown)


def _pod_bars(table: NodeTable, limit: int) -> tuple[list[Bar], int, float]:
    pods = [
        (f"{name} #{k + 1}", table.per_pod_connections_per_second[i])
        for i, name in enumerate(table.names)
        for k in range(table.ready_pods[i])
    ]
    mean = sum(v for _, v in pods) / len(pods) if pods else 0.0
    busiest = sorted(pods, key=lambda p: -p[1])[:limit]
    busiest.sort(key=lambda p: p[0])
    bars = [Bar(label, [Segment(value, ORANGE, "one Pod")], f"{rate(value)}/s") for label, value in busiest]
    return bars, len(pods) - len(busiest), mean


def _chart_max(*tables: NodeTable | None) -> tuple[float, float]:
    node_max = pod_max = 0.0
    for table in tables:
        if table is None:
            continue
        for i in range(len(table.names)):
            node_max = max(node_max, table.served_connections_per_second[i] + table.dropped_connections_per_second[i])
            pod_max = max(pod_max, table.per_pod_connections_per_second[i] if table.ready_pods[i] else 0.0)
    return node_max, pod_max


def _placement_section(service: ServiceReport) -> str:
    current = _nodes(service.evaluation)
    recommended = _nodes(service.recommended) if service.recommended is not None else None
    if current is None:
        return ""
    node_max, pod_max = _chart_max(current, recommended)
    columns = []
    for caption, table, ev in (
        ("Current placement", current, service.evaluation),
        ("Recommended placement", recommended, service.recommended),
    ):
        if table is None or ev is None:
            continue
        summary = ev.policies[0].summary
        bars, hidden = _node_bars(table, MAX_BARS)
        pod_bars, hidden_pods, mean = _pod_bars(table, MAX_BARS)
        chart = bar_chart(bars, title=f"{caption}: load per node", unit="connections/s", max_value=node_max)
        pod_chart = bar_chart(
            pod_bars,
            title=f"{caption}: load per Pod",
            unit="connections/s",
            max_value=pod_max,
            reference=(mean, f"mean {rate(mean)}/s"),
        )
        notes = []
        if hidden:
            notes.append(f"{hidden} node(s) without Pods or traffic not shown.")
        if hidden_pods:
            notes.append(f"{hidden_pods} less busy Pod(s) not shown.")
        columns.append(
            f'<div><h3>{_e(caption)}</h3><p>Hottest Pod <strong class="figure">{ratio(summary.hottest_pod_ratio)}'
            f"</strong> the mean, dropped <strong>{pct(summary.dropped_fraction, 1)}</strong>, "
            f"{sum(table.ready_pods)} Ready Pods.</p>{chart}{pod_chart}"
            + (f'<p class="note">{_e(" ".join(notes))}</p>' if notes else "")
            + "</div>"
        )
    keys = legend([(BLUE, "served by the node's Pods"), (VERMILLION, "dropped"), (ORANGE, "one Pod")])
    lead = (
        "Current placement and the recommended one, on the same scale."
        if recommended is not None
        else "Current placement (run <code>planner recommend</code> for a recommended placement beside it)."
    )
    return (
        f'<h3>Load per node and per Pod</h3><p class="note">{lead} Units: new connections per second. '
        f'The dashed line is the mean Pod load.</p><p>{keys}</p><div class="pair">{"".join(columns)}</div>'
    )


def _cell(text: str, badness: float | None) -> str:
    if badness is None:
        return f'<td class="num" style="background:#eeeeee">{_e(text)}</td>'
    background, ink = scale_colour(min(max(badness, 0.0), 1.0))
    return f'<td class="num" style="background:{background};color:{ink}">{_e(text)}</td>'


def _matrix_section(service: ServiceReport) -> str:
    rows = []
    for result in service.evaluation.policies[:MAX_MATRIX_ROWS]:
        s = result.summary
        verdict, failures = row_verdict(service, result)
        visible = s.client_ip_visible_fraction
        rows.append(
            f'<tr class="{"current" if result.current else ""}">'
            f"<td>{'current' if result.current else ''}</td><td>{_e(policy_label(result.policy))}</td>"
            + _cell(ratio(s.hottest_pod_ratio), s.hottest_pod_ratio - 1.0)
            + _cell(pct(s.dropped_fraction, 1), s.dropped_fraction / 0.2)
            + _cell(pct(s.extra_hop_fraction), s.extra_hop_fraction)
            + _cell(pct(visible), None if visible is None else 1.0 - visible)
            + f'<td class="num">{s.coefficient_of_variation:.2f}</td>'
            + f'<td title="{_e("; ".join(failures))}">{_e(verdict)}</td></tr>'
        )
    scale = "".join(
        f'<span class="key"><span class="swatch" style="background:{c}"></span>{label}</span>'
        for c, label in zip(SCALE, ("best", "", "", "", "worst"), strict=True)
    )
    return (
        "<h3>Policy matrix</h3>"
        '<p class="note">Every applicable combination of the Service\'s traffic fields; the current one is marked. '
        "Hottest/mean: the hottest Pod's expected load over the mean Pod load (1.00x is even; darker from 1.00x to "
        "2.00x). Dropped, extra hop (forwarded to another node) and client IP (the Pod sees the caller's address) "
        "are fractions of connections. Cells are shaded light (better) to dark (worse); the value is always printed."
        f"</p><p>{scale}</p>"
        "<table><thead><tr><th></th><th>Policy</th><th>Hottest/mean</th><th>Dropped</th><th>Extra hop</th>"
        "<th>Client IP</th><th>CV</th><th>Verdict</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _affinity_section(affinity: AffinitySkew) -> str:
    bars = [
        Bar(
            "sessionAffinity: None",
            [Segment(affinity.no_affinity_hottest_pod_share, SKY, "hottest Pod share")],
            pct(affinity.no_affinity_hottest_pod_share, 1),
        ),
        Bar(
            "ClientIP, mean",
            [Segment(affinity.hottest_pod_share_mean, BLUE, "hottest Pod share")],
            pct(affinity.hottest_pod_share_mean, 1),
        ),
        Bar(
            "ClientIP, p99",
            [Segment(affinity.hottest_pod_share_p99, VERMILLION, "hottest Pod share")],
            pct(affinity.hottest_pod_share_p99, 1),
        ),
    ]
    chart = bar_chart(bars, title="Hottest Pod's share of traffic", unit="of traffic", max_value=1.0)
    exceeded = (
        f" The busiest endpoint's xt_recent list would hold about {affinity.recent_entries_per_endpoint_max:.0f} "
        f"addresses (limit {affinity.recent_list_limit}): stickiness is lost for the excess."
        if affinity.recent_list_exceeded
        else ""
    )
    return (
        "<h3>Session-affinity skew</h3>"
        f'<p class="note">Stickiness is kept {_e(affinity.scope)}; {affinity.keys} source address(es) '
        f"({_e(affinity.key_source)}), {affinity.samples} seeded samples (seed {affinity.seed}).</p>{chart}"
        f"<p>Hottest Pod {ratio(affinity.hottest_pod_ratio_mean)} the mean on average, "
        f"{ratio(affinity.hottest_pod_ratio_p99)} at p99. Re-pinned when the hottest Pod goes away: "
        f"{pct(affinity.repinned_on_pod_loss, 1)} of traffic; when the busiest node goes away: "
        f"{pct(affinity.repinned_on_node_loss, 1)}.{_e(exceeded)}</p>"
    )


def _failure_section(failure: FailureOutcome, offered: float) -> str:
    chart = timeline(
        offered=offered,
        lost_per_second=failure.lost_connections_per_second_until_detected,
        detection_seconds=failure.detection_seconds,
        survivors_dropped_fraction=failure.survivors_dropped_fraction,
        node=failure.node,
    )
    lost = (
        f"about {failure.connections_lost_during_detection:.0f} connections are lost"
        if failure.connections_lost_during_detection is not None
        else "the load balancer never notices (no health check), so the loss continues"
    )
    detect = f"{failure.detection_seconds:g} s" if failure.detection_seconds is not None else "never"
    return (
        "<h3>Failover timeline</h3>"
        f"<p>If node <strong>{_e(failure.node)}</strong> dies, the load balancer keeps sending it "
        f"{rate(failure.lost_connections_per_second_until_detected)} connections/s until it detects the failure "
        f"({detect}): {lost}. Afterwards the survivors carry the hottest Pod at "
        f"{ratio(failure.survivors_hottest_pod_ratio)} the mean and drop {pct(failure.survivors_dropped_fraction, 1)}."
        f"</p>{chart}"
        + legend([(BLUE, "served connections/s"), (VERMILLION, "lost until detected"), (GREY, "offered")])
    )


def _findings_section(service: ServiceReport) -> str:
    ev = service.evaluation
    if not ev.findings:
        return "<h3>Findings</h3><p>No findings.</p>"
    items = []
    for index, finding in enumerate(ev.findings):
        rule = rule_for(finding.id, finding.name, finding.message)
        loc = service.finding_locations[index] if index < len(service.finding_locations) else None
        where = f'<div class="where">{_e(loc.uri)}:{loc.line} {_e(loc.field)}</div>' if loc is not None else ""
        fix = ""
        if finding.fix is not None:
            detail = finding.fix.description
            if finding.fix.field:
                detail += f" ({finding.fix.field}: {finding.fix.value})" if finding.fix.value is not None else ""
            if finding.fix.replicas:
                detail += ". Pods per node: " + ", ".join(f"{n}={c}" for n, c in finding.fix.replicas.items())
            fix = f'<div class="fix"><strong>Fix:</strong> {_e(detail)}</div>'
        items.append(
            f'<div class="finding {_e(finding.severity)}"><strong>{_e(finding.id)} {_e(finding.name)}</strong> '
            f"({_e(finding.severity)}): {_e(finding.message)}{fix}"
            f'<div class="note">{_e(rule.help)}</div>{where}</div>'
        )
    return "<h3>Findings</h3>" + "".join(items)


def _diff_section(service: ServiceReport) -> str:
    rec = service.recommendation
    if rec is None or rec.manifests is None:
        return ""
    lines = []
    for line in rec.manifests.diff.splitlines():
        css = ""
        if line.startswith("+") and not line.startswith("+++"):
            css = "add"
        elif line.startswith("-") and not line.startswith("---"):
            css = "del"
        elif line.startswith("@@"):
            css = "hunk"
        lines.append(f'<span class="{css}">{_e(line)}</span>' if css else _e(line))
    body = "\n".join(lines) if lines else "(no change)"
    notes = "".join(f"<li>{_e(n)}</li>" for n in rec.notes)
    return (
        f"<h3>Recommended change</h3><p>{_e(rec.status)}: {rec.replicas} replicas "
        f"({_e(', '.join(f'{n}={c}' for n, c in rec.pods_per_node.items() if c))}). "
        f"{_e(rec.manifests.scheduler_note)}</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + f'<pre class="diff">{body}</pre>'
    )


def _checks(service: ServiceReport) -> str:
    ev = service.evaluation
    if not ev.checks:
        return '<p class="note">No requirements set: the verdict passes.</p>'
    rows = "".join(
        f'<tr><td>{_e(c.requirement)}</td><td class="num">{_e(_value(c.limit))}</td>'
        f'<td class="num">{_e(_value(c.actual))}</td><td>{"pass" if c.passed else "FAIL"}</td></tr>'
        for c in ev.checks
    )
    fails = "".join(f"<li>{_e(f)}</li>" for f in ev.failures)
    return (
        "<table><thead><tr><th>Requirement</th><th>Limit</th><th>Actual</th><th>Result</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" + (f'<ul class="fails">{fails}</ul>' if fails else "")
    )


def _value(value: float | bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.4g}"


def _service(service: ServiceReport, anchor: str) -> str:
    ev = service.evaluation
    current: PolicyResult = ev.policies[0]
    where = (
        f'<span class="where">{_e(service.location.uri)}:{service.location.line}</span>'
        if service.location is not None
        else ""
    )
    parts = [
        f'<section class="service" id="{anchor}"><div class="head"><h2>{_e(service.title)}</h2>'
        f"{_badge(ev.verdict)}{where}</div>",
        f"<p>{_e(ev.summary)}</p>",
        _checks(service),
        _placement_section(service),
        _matrix_section(service),
    ]
    if current.affinity is not None:
        parts.append(_affinity_section(current.affinity))
    if current.failure is not None:
        parts.append(_failure_section(current.failure, current.summary.offered_connections_per_second))
    parts.append(_findings_section(service))
    parts.append(_diff_section(service))
    parts.append("</section>")
    return "".join(parts)


def _overview(report: Report) -> str:
    rows = []
    for index, service in enumerate(report.services):
        s = service.evaluation.policies[0].summary
        rows.append(
            f'<tr><td><a href="#s{index}">{_e(service.title)}</a></td><td>{_badge(service.evaluation.verdict)}</td>'
            f"<td>{_e(policy_label(service.evaluation.current))}</td>"
            f'<td class="num">{ratio(s.hottest_pod_ratio)}</td><td class="num">{pct(s.dropped_fraction, 1)}</td>'
            f'<td class="num">{pct(s.extra_hop_fraction)}</td><td class="num">{pct(s.client_ip_visible_fraction)}</td>'
            f'<td class="num">{len(service.evaluation.findings)}</td></tr>'
        )
    return (
        "<table><thead><tr><th>Service</th><th>Verdict</th><th>Current policy</th><th>Hottest/mean</th>"
        "<th>Dropped</th><th>Extra hop</th><th>Client IP</th><th>Findings</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(report: Report, *, title: str = "Traffic Planner report") -> str:
    passed = sum(1 for s in report.services if s.evaluation.verdict == "pass")
    meta = f"{passed} of {len(report.services)} Services pass their requirements."
    if report.sources:
        meta += " Input: " + ", ".join(report.sources) + "."
    if report.recommendation is not None:
        meta += f" Recommendation: {report.recommendation.status}."
    body = "".join(_service(s, f"s{i}") for i, s in enumerate(report.services))
    return PAGE.substitute(
        title=_e(title),
        css=CSS,
        meta=_e(meta),
        overview=_overview(report),
        body=body,
        footer=_e(f"traffic-planner {report.tool_version}. Rates are new connections per second."),
    )


__all__ = ["render_html"]
