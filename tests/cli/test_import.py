"""``planner import``: kubectl NodeList/PodList output becomes a Cluster document, offline."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

from planner.domain.documents import Cluster, Document
from tests.cli.clihelpers import run

KUBECTL = Path(__file__).parents[1] / "fixtures" / "kubectl"


def test_nodes_and_pods_become_a_cluster_document(tmp_path):
    out = tmp_path / "cluster.yaml"
    result = run("import", "prod", KUBECTL / "nodes.yaml", "--pods", KUBECTL / "pods.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("apiVersion: trafficplanner.io/v1\nkind: Cluster\n")
    cluster = msgspec.convert(yaml.safe_load(text), Document)
    assert isinstance(cluster, Cluster)
    nodes = yaml.safe_load((KUBECTL / "nodes.yaml").read_text())["items"]
    assert [n.name for n in cluster.spec.nodes] == [n["metadata"]["name"] for n in nodes]
    # zone from topology.kubernetes.io/zone, allocatable as kubectl printed it
    assert cluster.spec.nodes[0].zone == nodes[0]["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert cluster.spec.nodes[0].allocatable.cpu == nodes[0]["status"]["allocatable"]["cpu"]
    assert cluster.spec.pods, "the running Pods are part of the cluster"


def test_malformed_quantity_is_bad_input_with_the_field_path(tmp_path):
    nodes = yaml.safe_load((KUBECTL / "nodes.yaml").read_text())
    nodes["items"][1]["status"]["allocatable"]["cpu"] = "four"
    bad = tmp_path / "nodes.yaml"
    bad.write_text(yaml.safe_dump(nodes))
    result = run("import", "prod", bad)
    assert result.exit_code == 2
    assert "items[1].status.allocatable.cpu" in result.output
