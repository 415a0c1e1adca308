"""POST /v1/import with kubectl output as kubectl prints it (tests/fixtures/kubectl)."""

from __future__ import annotations

from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubectl"
NODES_YAML = (FIXTURES / "nodes.yaml").read_text()
PODS_YAML = (FIXTURES / "pods.yaml").read_text()
NODES_JSON = (FIXTURES / "nodes.json").read_text()
YAML = {"Content-Type": "application/yaml"}


async def test_import_node_list_creates_a_cluster(client):
    response = await client.post(
        "/v1/import", params={"name": "eu-west", "namespace": "ops"}, content=NODES_YAML, headers=YAML
    )
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == "/v1/namespaces/ops/clusters/eu-west"
    cluster = response.json()
    assert cluster["kind"] == "Cluster"
    assert cluster["metadata"]["name"] == "eu-west"
    nodes = {n["name"]: n for n in cluster["spec"]["nodes"]}
    # six Nodes in the fixture, two per zone (topology.kubernetes.io/zone)
    assert len(nodes) == 6
    zones = sorted(n["zone"] for n in nodes.values())
    assert zones == ["eu-west-1a", "eu-west-1a", "eu-west-1b", "eu-west-1b", "eu-west-1c", "eu-west-1c"]
    assert nodes["ip-10-0-3-52.eu-west-1.compute.internal"]["unschedulable"] is True  # spec.unschedulable: true
    assert nodes["ip-10-0-3-68.eu-west-1.compute.internal"]["ready"] is False  # Ready condition is Unknown
    big = nodes["ip-10-0-2-47.eu-west-1.compute.internal"]["allocatable"]
    assert big["cpu"] == "7910m"
    stored = await client.get("/v1/namespaces/ops/clusters/eu-west")
    assert stored.status_code == 200
    assert stored.json()["spec"] == cluster["spec"]

    # importing the same output again changes nothing
    again = await client.post(
        "/v1/import", params={"name": "eu-west", "namespace": "ops"}, content=NODES_YAML, headers=YAML
    )
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'


async def test_import_nodes_and_pods_as_multi_document_yaml(client):
    body = NODES_YAML + "---\n" + PODS_YAML
    response = await client.post("/v1/import", params={"name": "eu-west"}, content=body, headers=YAML)
    assert response.status_code == 201, response.text
    cluster = response.json()
    assert cluster["metadata"]["namespace"] == "default"
    pods = {p["name"]: p for p in cluster["spec"]["pods"]}
    # 8 Pods in the fixture: the Pending one has no node and the Succeeded Job Pod holds no resources
    assert set(pods) == {
        "web-7c9d8b6f5d-2xkqp",
        "web-7c9d8b6f5d-8hj4n",
        "web-7c9d8b6f5d-f5wzt",
        "web-7c9d8b6f5d-lr6cd",
        "web-7c9d8b6f5d-q9m2v",
        "api-0",
    }
    assert pods["api-0"]["node"] == "ip-10-0-2-33.eu-west-1.compute.internal"
    assert pods["web-7c9d8b6f5d-lr6cd"]["terminating"] is True  # has a deletionTimestamp


async def test_import_json_node_list(client):
    response = await client.post(
        "/v1/import", params={"name": "from-json"}, content=NODES_JSON, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["spec"]["nodes"]) == len(yaml.safe_load(NODES_JSON)["items"])


async def test_import_reports_the_path_inside_the_kubectl_output(client):
    nodes = yaml.safe_load(NODES_YAML)
    nodes["items"][1]["status"]["allocatable"]["cpu"] = "lots"
    response = await client.post("/v1/import", params={"name": "bad"}, content=yaml.safe_dump(nodes), headers=YAML)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert "items[1].status.allocatable.cpu" in fields
    assert (await client.get("/v1/namespaces/default/clusters/bad")).status_code == 404


async def test_import_rejects_other_kinds_and_needs_a_name(client):
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n"
    response = await client.post("/v1/import", params={"name": "x"}, content=service, headers=YAML)
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "kind",
        "type": "NotSupported",
        "message": "cluster import takes NodeList, PodList, Node, Pod or List; put Services and workloads in a "
        "ServicePlan",
        "value": "Service",
    }
    missing_name = await client.post("/v1/import", content=NODES_YAML, headers=YAML)
    assert missing_name.status_code == 400
    assert missing_name.json()["errors"][0]["field"] == "name"
    only_pods = await client.post("/v1/import", params={"name": "x"}, content=PODS_YAML, headers=YAML)
    assert only_pods.status_code == 422
    assert only_pods.json()["errors"][0]["type"] == "Required"
