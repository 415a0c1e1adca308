"""Renderer details that the CLI tests do not reach: escaping of user text, colour, SVG charts."""

import xml.etree.ElementTree as ET

import msgspec
import pytest

from planner.cli.exits import use_color
from planner.cli.run import build_report, evaluate_locally
from planner.cli.sources import build_inputs, read_inputs
from planner.report.html import render_html
from planner.report.markdown import cell, render_markdown
from planner.report.model import Location
from planner.report.svg import SCALE, Bar, Segment, bar_chart, scale_colour, timeline
from planner.report.table import render_table
from tests.cli.clihelpers import SHOP

HOSTILE = '<script>alert("x")</script> & | `'


@pytest.fixture(scope="module")
def report():
    inputs = build_inputs(read_inputs([str(SHOP)]), cluster_name="cluster")
    return build_report(inputs, evaluate_locally(inputs))


def hostile(report):
    service = report.services[0]
    evaluation = service.evaluation
    finding = msgspec.structs.replace(evaluation.findings[0], message=HOSTILE)
    service.evaluation = msgspec.structs.replace(
        evaluation, summary=HOSTILE, findings=[finding, *evaluation.findings[1:]]
    )
    service.name = HOSTILE
    service.location = Location(uri=HOSTILE, line=3)
    return report


def test_html_escapes_user_text(report):
    text = render_html(hostile(report))
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in text


def test_markdown_cells_escape_pipes_and_html(report):
    assert cell("a|b<c>\nd") == "a\\|b&lt;c&gt; d"
    text = render_markdown(hostile(report))
    assert "<script>" not in text


def test_table_colour_only_when_asked(report):
    assert "\x1b[" not in render_table(report, color=False)
    coloured = render_table(report, color=True)
    assert "\x1b[1;32mPASS\x1b[0m" in coloured


class FakeTty:
    def isatty(self):
        return True


def test_colour_needs_a_terminal_and_no_NO_COLOR(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(FakeTty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(FakeTty())
    monkeypatch.delenv("NO_COLOR")
    import io

    assert not use_color(io.StringIO())


def test_bar_chart_is_valid_svg_with_values_and_scale():
    svg = bar_chart(
        [
            Bar("node-a", [Segment(450.0, "#0072B2", "served")], "450/s"),
            Bar("<b>", [Segment(225.0, "#0072B2", "s")], "225/s"),
        ],
        title="Load & more",
        unit="connections/s",
        reference=(300.0, "mean 300/s"),
    )
    root = ET.fromstring(svg)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1])  # 450 is twice 225
    texts = "".join(root.itertext())
    assert "450/s" in texts
    assert "mean 300/s" in texts
    assert "450 connections/s" in texts  # axis end with its unit


def test_timeline_marks_failure_and_detection():
    svg = timeline(offered=900, lost_per_second=450, detection_seconds=10, survivors_dropped_fraction=0, node="node-a")
    texts = "".join(ET.fromstring(svg).itertext())
    assert "0 s: node fails" in texts
    assert "10 s: LB detects" in texts
    assert "seconds after the failure" in texts
    never = timeline(offered=900, lost_per_second=300, detection_seconds=None, survivors_dropped_fraction=0, node="n")
    assert "never detected" in "".join(ET.fromstring(never).itertext())


def test_scale_is_monotonic_and_readable():
    assert scale_colour(0.0) == (SCALE[0], "#1a1a1a")
    assert scale_colour(1.0) == (SCALE[-1], "#ffffff")
    lightness = [sum(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in SCALE]
    assert lightness == sorted(lightness, reverse=True)
