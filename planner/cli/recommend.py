"""``planner recommend``: place the replicas with the optimizer and write the manifests, a diff and a report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from planner.cli.exits import EXIT_CODES_HELP, PASS, REQUIREMENTS_FAILED, exit_codes
from planner.cli.run import recommend_inputs
from planner.cli.sources import build_inputs, read_inputs
from planner.report.html import render_html
from planner.report.model import Report

if TYPE_CHECKING:
    from planner.optimizer.schema import Recommendation

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def split_documents(text: str) -> list[tuple[str, dict[str, Any]]]:
    """A multi-document YAML stream cut into (document text with its comments, parsed document)."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    out = []
    for part in parts:
        chunk = "".join(part)
        doc = yaml.safe_load(chunk) if chunk.strip() else None
        if isinstance(doc, dict):
            out.append((chunk, doc))
    return out


def manifest_filename(doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata") or {}
    parts = [str(metadata.get("namespace") or "default"), str(doc.get("kind", "object")), str(metadata.get("name"))]
    return "-".join(_UNSAFE.sub("_", p).lower() for p in parts) + ".yaml"


def _diff_for(namespace: str, name: str, diff: str) -> str:
    lines = diff.splitlines(keepends=True)
    if len(lines) >= 2 and lines[0].startswith("--- ") and lines[1].startswith("+++ "):
        lines[0] = f"--- a/{namespace}/{name}/input.yaml\n"
        lines[1] = f"+++ b/{namespace}/{name}/recommended.yaml\n"
    return "".join(lines)


def write_recommendation(result: Recommendation, report: Report, directory: Path) -> list[Path]:
    """Write one YAML file per recommended object, ``changes.diff`` and ``report.html``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    diffs: list[str] = []
    for service in result.services:
        if service.manifests is None:
            continue
        for chunk, doc in split_documents(service.manifests.yaml):
            path = directory / manifest_filename(doc)
            path.write_text("---\n" + chunk, encoding="utf-8")
            written.append(path)
        if service.manifests.diff:
            diffs.append(_diff_for(service.namespace, service.name, service.manifests.diff))
    diff_path = directory / "changes.diff"
    diff_path.write_text("".join(diffs), encoding="utf-8")
    html_path = directory / "report.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    return [*written, diff_path, html_path]


@click.command(
    epilog=EXIT_CODES_HELP.replace("pass: every Service meets its requirements", "a plan for every Service").replace(
        "requirements failed", "no plan for some Service, or its plan still fails a requirement"
    )
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH... | -")
@click.option(
    "-o",
    "--output-dir",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the manifests, changes.diff and report.html.",
)
@click.option("--cluster-name", default="cluster", show_default=True, help="Name of the cluster built from nodes.")
@click.option("--namespace", default="default", show_default=True, help="Namespace of objects that name none.")
@click.option("--time-limit", type=float, default=10.0, show_default=True, help="Solver budget in seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Solver seed (same input and seed, same plan).")
@click.option("--server", metavar="URL", help="Solve on a running service (POST /v1/recommend) instead of in-process.")
def recommend(
    *,
    paths: tuple[str, ...],
    output_dir: Path,
    cluster_name: str,
    namespace: str,
    time_limit: float,
    seed: int,
    server: str | None,
) -> None:
    """Recommend where the replicas go, and write the manifests to apply.

    Writes into DIR one YAML file per recommended object (workload, PodDisruptionBudget, Service; each change
    commented with its reason), changes.diff (a unified diff against the input manifests, for a pull request)
    and report.html (current and recommended placement side by side).
    """
    with exit_codes():
        inputs = build_inputs(read_inputs(paths), cluster_name=cluster_name, namespace=namespace)
        result, report = recommend_inputs(inputs, time_limit_seconds=time_limit, seed=seed, server=server)
        written = write_recommendation(result, report, output_dir)
        ok = True
        for service in report.services:
            rec = service.recommendation
            if rec is None or not rec.pods_per_node:
                ok = False
                status = rec.status if rec is not None else "missing"
                click.echo(f"{service.title}: no plan ({status})")
                continue
            after = service.recommended
            ratio = after.policies[0].summary.hottest_pod_ratio if after is not None else rec.quality.hottest_pod_ratio
            before = service.evaluation.policies[0].summary.hottest_pod_ratio
            verdict = after.verdict if after is not None else "pass"
            ok = ok and verdict == "pass"
            placement = ", ".join(f"{n}={c}" for n, c in rec.pods_per_node.items() if c)
            click.echo(
                f"{service.title}: {rec.status}, {rec.replicas} replicas ({placement}); hottest Pod "
                f"{before:.2f}x -> {ratio:.2f}x mean; verdict {verdict}"
            )
        for explanation in result.explanations:
            for conflict in explanation.conflicts:
                click.echo(f"{explanation.service}: {conflict.message}")
            for relaxation in explanation.relaxations:
                click.echo(f"{explanation.service}: try: {relaxation}")
        click.echo(f"wrote {len(written)} files to {output_dir}")
    raise SystemExit(PASS if ok else REQUIREMENTS_FAILED)


__all__ = ["manifest_filename", "recommend", "split_documents", "write_recommendation"]
