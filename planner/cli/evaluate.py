"""``planner evaluate``: evaluate every Service in the input, print it in the chosen format, gate on the verdict."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli.exits import EXIT_CODES_HELP, PASS, REQUIREMENTS_FAILED, SERVICE_ERROR, exit_codes, use_color
from planner.cli.remote import ServiceError, evaluate_remote
from planner.cli.run import build_report, evaluate_locally
from planner.cli.sources import build_inputs, read_inputs
from planner.report.html import render_html
from planner.report.junit import render_junit
from planner.report.markdown import render_markdown
from planner.report.model import Report
from planner.report.sarif import render_sarif
from planner.report.structured import render_json, render_yaml
from planner.report.table import render_table

FORMATS = ("table", "json", "yaml", "sarif", "junit", "markdown", "html")


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """The report in one of :data:`FORMATS`."""
    if fmt == "table":
        return render_table(report, color=color)
    renderers = {
        "json": render_json,
        "yaml": render_yaml,
        "sarif": render_sarif,
        "junit": render_junit,
        "markdown": render_markdown,
        "html": render_html,
    }
    return renderers[fmt](report)


def write_output(text: str, output: Path | None, *, color: bool) -> None:
    if output is None:
        click.echo(text, nl=False, color=color)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, metavar="PATH... | -")
@click.option("--cluster-name", default="cluster", show_default=True, help="Name of the cluster built from nodes.")
@click.option("--namespace", default="default", show_default=True, help="Namespace of objects that name none.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--server", metavar="URL", default=None, help="Evaluate on a running service (POST /v1/evaluate).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for --server.")
def evaluate(
    *,
    paths: tuple[str, ...],
    cluster_name: str,
    namespace: str,
    fmt: str,
    output: Path | None,
    server: str | None,
    timeout: float,
) -> None:
    """Evaluate every Service's traffic policies and check its requirements.

    PATH is a file, a directory (read recursively: *.yaml, *.yml, *.json) or - for standard input. The input is
    what a pipeline already has: Service and workload manifests, Helm or kustomize output, `kubectl get nodes,pods
    -o yaml` dumps, TrafficProfile documents and planner documents (Cluster, ServicePlan, Scenario).

    Formats: table (terminal), json and yaml (the API's Evaluation schema), sarif (SARIF 2.1.0, located at the
    offending field), junit (one test case per Service and requirement), markdown (pull-request comment) and
    html (a self-contained report).
    """
    with exit_codes():
        objects = read_inputs(paths)
        inputs = build_inputs(objects, cluster_name=cluster_name, namespace=namespace)
        if server is None:
            evaluations = evaluate_locally(inputs)
        else:
            try:
                evaluations = evaluate_remote(server, objects, cluster_name=cluster_name, timeout=timeout)
            except ServiceError as exc:
                click.echo(f"error: {exc}", err=True)
                raise SystemExit(SERVICE_ERROR) from exc
            if len(evaluations) != len(inputs.evaluables):
                click.echo(
                    f"error: the service returned {len(evaluations)} evaluations for {len(inputs.evaluables)} Services",
                    err=True,
                )
                raise SystemExit(SERVICE_ERROR)
        report = build_report(inputs, evaluations)
        color = output is None and fmt == "table" and use_color()
        write_output(render(report, fmt, color=color), output, color=color)
    raise SystemExit(PASS if report.passed else REQUIREMENTS_FAILED)


__all__ = ["FORMATS", "evaluate", "render", "write_output"]
