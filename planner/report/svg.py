"""Hand-made inline SVG charts: horizontal bars with value labels, a failover timeline, a sequential colour scale.

Colours: the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) for series, and a
lightness-monotonic orange-red scale for "how bad" cells; every mark also carries its value as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import NamedTuple

BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREEN = "#009E73"
SKY = "#56B4E9"
GREY = "#6b6b6b"
SCALE = ("#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
"""Light (good) to dark (bad); ColorBrewer OrRd, monotonic in lightness."""

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px"


def scale_colour(badness: float) -> tuple[str, str]:
    """Background and readable text colour for a badness in 0..1."""
    step = min(len(SCALE) - 1, max(0, int(badness * (len(SCALE) - 1) + 0.5)))
    return SCALE[step], ("#ffffff" if step >= 3 else "#1a1a1a")


class Segment(NamedTuple):
    value: float
    colour: str
    name: str


class Bar(NamedTuple):
    label: str
    segments: Sequence[Segment]
    text: str


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: str,
    max_value: float | None = None,
    reference: tuple[float, str] | None = None,
    width: int = 460,
    label_width: int = 150,
) -> str:
    """Horizontal bars, one row per item, each bar a stack of segments, its value text to the right."""
    row = 20
    top = 34
    text_width = 130
    plot = max(width - label_width - text_width - 10, 60)
    top_value = max_value if max_value is not None else max((sum(s.value for s in b.segments) for b in bars), default=0)
    top_value = top_value if top_value > 0 else 1.0
    height = top + row * max(len(bars), 1) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-weight="600">{escape(title)}</text>',
    ]
    for index, bar in enumerate(bars):
        y = top + index * row
        label = bar.label if len(bar.label) <= 24 else bar.label[:11] + "…" + bar.label[-11:]
        out.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end"><title>{escape(bar.label)}</title>'
            f"{escape(label)}</text>"
        )
        x = float(label_width)
        for segment in bar.segments:
            w = plot * segment.value / top_value
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{segment.colour}">'
                    f"<title>{escape(segment.name)}: {_fmt(segment.value)} {escape(unit)}</title></rect>"
                )
            x += w
        out.append(f'<text x="{label_width + plot + 6}" y="{y + 13}">{escape(bar.text)}</text>')
    axis_y = top + row * max(len(bars), 1) + 4
    out.append(
        f'<line x1="{label_width}" y1="{top}" x2="{label_width}" y2="{axis_y}" stroke="{GREY}" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{label_width}" y1="{axis_y}" x2="{label_width + plot}" y2="{axis_y}" stroke="{GREY}"/>'
        f'<text x="{label_width}" y="{axis_y + 14}" fill="{GREY}">0</text>'
        f'<text x="{label_width + plot}" y="{axis_y + 14}" text-anchor="end" fill="{GREY}">'
        f"{_fmt(top_value)} {escape(unit)}</text>"
    )
    if reference is not None and reference[0] > 0:
        rx = label_width + plot * reference[0] / top_value
        out.append(
            f'<line x1="{rx:.1f}" y1="{top - 4}" x2="{rx:.1f}" y2="{axis_y}" stroke="#1a1a1a" '
            f'stroke-dasharray="4 3"/><text x="{rx:.1f}" y="{top - 7}" text-anchor="middle">'
            f"{escape(reference[1])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def legend(items: Sequence[tuple[str, str]]) -> str:
    """Colour swatches with their names (HTML)."""
    return "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{escape(name)}</span>'
        for colour, name in items
    )


def timeline(
    *,
    offered: float,
    lost_per_second: float,
    detection_seconds: float | None,
    survivors_dropped_fraction: float,
    node: str,
    width: int = 560,
    height: int = 220,
) -> str:
    """Connections per second served over time around a node failure at t = 0."""
    left, right, top, bottom = 64, 20, 36, 40
    detect = detection_seconds if detection_seconds is not None else None
    horizon = (detect if detect is not None else 30.0) + max(5.0, (detect or 30.0) * 0.5)
    start = -max(3.0, horizon * 0.15)
    span = horizon - start
    peak = offered if offered > 0 else 1.0
    plot_w = width - left - right
    plot_h = height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * (t - start) / span

    def y(v: float) -> float:
        return top + plot_h * (1 - v / (peak * 1.1))

    during = max(offered - lost_per_second, 0.0)
    after = offered * (1 - survivors_dropped_fraction)
    end = detect if detect is not None else horizon
    points = [(start, offered), (0.0, offered), (0.0, during), (end, during)]
    if detect is not None:
        points += [(detect, after), (horizon, after)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(points))
    title = f"Failover: node {node} fails at t = 0"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-weight="600">{escape(title)}</text>',
    ]
    if lost_per_second > 0:
        out.append(
            f'<rect x="{x(0):.1f}" y="{y(offered):.1f}" width="{x(end) - x(0):.1f}" '
            f'height="{y(during) - y(offered):.1f}" fill="{VERMILLION}" fill-opacity="0.35">'
            f"<title>lost until detected: {_fmt(lost_per_second)} connections/s</title></rect>"
        )
    out.append(
        f'<line x1="{x(start):.1f}" y1="{y(offered):.1f}" x2="{x(horizon):.1f}" y2="{y(offered):.1f}" '
        f'stroke="{GREY}" stroke-dasharray="5 4"/>'
        f'<text x="{x(horizon):.1f}" y="{y(offered) - 4:.1f}" text-anchor="end" fill="{GREY}">offered '
        f"{_fmt(offered)}/s</text>"
    )
    out.append(f'<path d="{path}" fill="none" stroke="{BLUE}" stroke-width="2.5"/>')
    base = top + plot_h
    out.append(
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{GREY}"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="{GREY}"/>'
        f'<text x="{left - 6}" y="{y(offered) + 4:.1f}" text-anchor="end">{_fmt(offered)}</text>'
        f'<text x="{left - 6}" y="{base + 4}" text-anchor="end">0</text>'
        f'<text x="12" y="{top + plot_h / 2:.0f}" transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
        f'text-anchor="middle">served connections/s</text>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">seconds after the failure</text>'
    )
    for t, label in ((0.0, "0 s: node fails"), *(((detect, f"{detect:g} s: LB detects"),) if detect else ())):
        out.append(
            f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{base}" stroke="#1a1a1a" stroke-dasharray="2 3"/>'
            f'<text x="{x(t) + 3:.1f}" y="{base + 14}">{escape(label)}</text>'
        )
    if detect is None:
        out.append(
            f'<text x="{x(horizon) - 4:.1f}" y="{y(during) + 16:.1f}" text-anchor="end" fill="{VERMILLION}">'
            "no health check: never detected</text>"
        )
    out.append("</svg>")
    return "".join(out)


__all__ = [
    "BLUE",
    "GREEN",
    "GREY",
    "ORANGE",
    "SCALE",
    "SKY",
    "VERMILLION",
    "Bar",
    "Segment",
    "bar_chart",
    "legend",
    "scale_colour",
    "timeline",
]
