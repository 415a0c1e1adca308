"""``planner import``: turn ``kubectl get nodes,pods -o yaml|json`` output into a planner Cluster document."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec
import yaml

from planner.cli.exits import exit_codes
from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.kubectl_import import cluster_from_kubectl
from planner.domain.loading import load_objects


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _single(path: str) -> dict[str, object]:
    objects = load_objects(_read(path), source=path)
    if len(objects) != 1:
        error = FieldError(field="", type="Invalid", message=f"expected one NodeList/PodList, found {len(objects)}")
        raise InvalidDocument([error], summary=f"{path} is invalid")
    return objects[0].raw


@click.command("import")
@click.argument("name")
@click.argument("nodes", metavar="NODES")
@click.option("--pods", "pods", metavar="PODS", help="kubectl get pods -A -o yaml|json output (current placement).")
@click.option("--namespace", default="default", show_default=True, help="Namespace of the Cluster document.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout."
)
def import_cluster(name: str, nodes: str, pods: str | None, namespace: str, output: Path | None) -> None:
    """Build the Cluster document NAME from `kubectl get nodes -o yaml` output (NODES, a file or -).

    The same conversion as POST /v1/import, offline: zones from topology.kubernetes.io/zone, allocatable
    cpu/memory/pods, taints, unschedulable and the Ready condition; with --pods, the Pods already running.
    Apply the result with PUT /v1/namespaces/NAMESPACE/clusters/NAME or pass it to planner evaluate.
    """
    with exit_codes():
        cluster = cluster_from_kubectl(name, _single(nodes), _single(pods) if pods else None, namespace=namespace)
        data = msgspec.to_builtins(cluster)
        ordered = {"apiVersion": data.pop("apiVersion"), "kind": data.pop("kind"), **data}  # kubectl's key order
        text = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")


__all__ = ["import_cluster"]
