"""Evaluation over HTTP: stateless POST /v1/evaluate (JSON and multi-document YAML), stored evaluations of
ServicePlans and Scenarios with their input revisions, listing, comparisons and errors.

The numbers come from traffic-semantics.md section 8 ("External, ETP Local"): behind a load balancer that splits
equally across healthy nodes (``nodeEqual``) and health-checks ``healthCheckNodePort``, only nodes with a ready
local Pod receive traffic, and each node's share is split equally among its own Pods.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

JSON = {"Content-Type": "application/json"}
YAML = {"Content-Type": "application/yaml"}
NS = "payments"


def node(name: str, zone: str) -> dict:
    return {"name": name, "zone": zone, "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}


def cluster_doc(name: str = "prod") -> dict:
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodes": [node("node-a", "zone-a"), node("node-b", "zone-b"), node("node-c", "zone-c")]},
    }


def service_manifest(name: str = "web", etp: str = "Local") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "externalTrafficPolicy": etp,
        },
    }


def plan_doc(
    name: str = "web",
    *,
    placement: dict[str, int] | None = None,
    etp: str = "Local",
    max_ratio: float | None = None,
    cluster: str = "prod",
) -> dict:
    spec: dict = {
        "clusterRef": cluster,
        "service": service_manifest(name, etp),
        "placement": {"podsPerNode": placement if placement is not None else {"node-a": 2, "node-b": 1}},
        "traffic": {"external": {"connectionsPerSecond": 300, "loadBalancer": {"model": "nodeEqual"}}},
    }
    if max_ratio is not None:
        spec["requirements"] = {"maxHottestPodRatio": max_ratio}
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "ServicePlan",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def current(result: dict, plan: int = 0) -> dict:
    evaluation = result["plans"][plan]["evaluation"]
    policy = evaluation["policies"][0]
    assert policy["current"] is True
    return policy


# --- stateless -------------------------------------------------------------------------------------------------


async def test_evaluate_json_planner_documents_two_plus_one_pods_under_local(client):
    # 2 Pods on node-a, 1 on node-b, none on node-c; ETP Local, nodeEqual LB with health checks, 300 conn/s.
    # node-c fails the health check, so the LB splits over node-a and node-b: 1/2 each (150 conn/s).
    # node-a's half goes to its 2 Pods: 1/4 = 0.25 each (75 conn/s); node-b's half to its one Pod: 0.5 (150 conn/s).
    # Mean Pod share = 1/3, so the hottest ratio = 0.5 / (1/3) = 1.5. No drops; Local keeps every hop local.
    body = json.dumps([cluster_doc(), plan_doc()])
    response = await client.post("/v1/evaluate", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["kind"] == "EvaluationResult"
    assert result["verdict"] == "pass"
    assert result["failures"] == []
    assert result["cluster"] == "prod"
    policy = current(result)
    assert policy["policy"]["externalTrafficPolicy"] == "Local"
    nodes = policy["nodes"]
    assert nodes["names"] == ["node-a", "node-b", "node-c"]
    assert nodes["perPodShare"] == pytest.approx([0.25, 0.5, 0.0])
    assert nodes["perPodConnectionsPerSecond"] == pytest.approx([75.0, 150.0, 0.0])
    summary = policy["summary"]
    assert summary["hottestPodRatio"] == pytest.approx(1.5)
    assert summary["droppedFraction"] == pytest.approx(0.0)
    assert summary["extraHopFraction"] == pytest.approx(0.0)
    assert "web" in result["summary"]


PIPELINE_YAML = """\
apiVersion: v1
kind: NodeList
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: node-a
    labels: {topology.kubernetes.io/zone: zone-a}
  status:
    allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
    conditions: [{type: Ready, status: "True"}]
- apiVersion: v1
  kind: Node
  metadata:
    name: node-b
    labels: {topology.kubernetes.io/zone: zone-b}
  status:
    allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
    conditions: [{type: Ready, status: "True"}]
- apiVersion: v1
  kind: Node
  metadata:
    name: node-c
    labels: {topology.kubernetes.io/zone: zone-c}
  status:
    allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
    conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: PodList
items:
{pods}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
  externalTrafficPolicy: Local
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {a: b}
---
apiVersion: trafficplanner.io/v1
kind: TrafficProfile
metadata: {name: web}
spec:
  services: [web]
  external:
    connectionsPerSecond: 300
    loadBalancer: {model: nodeEqual}
  requirements:
    maxHottestPodRatio: {limit}
"""

POD = """\
- apiVersion: v1
  kind: Pod
  metadata: {{name: web-{n}, namespace: default, labels: {{app: web}}}}
  spec: {{nodeName: {node}, containers: [{{name: web, image: "nginx:1.27"}}]}}
  status:
    phase: Running
    conditions: [{{type: Ready, status: "True"}}]"""


def pipeline_yaml(limit: float) -> str:
    pods = "\n".join(POD.format(n=n, node=where) for n, where in enumerate(["node-a", "node-a", "node-b"]))
    return PIPELINE_YAML.replace("{pods}", pods).replace("{limit}", str(limit))


async def test_evaluate_multi_document_yaml_from_a_pipeline(client):
    # The same 2+1 placement, read from the PodList: per-Pod 0.25 / 0.25 / 0.5, hottest ratio 1.5 (see above).
    # The TrafficProfile requires a ratio of at most 1.2: 1.5 > 1.2, so the verdict fails (still 200 by default).
    response = await client.post("/v1/evaluate", content=pipeline_yaml(1.2), headers=YAML)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["cluster"] == "inline"
    assert [p["servicePlan"] for p in result["plans"]] == ["web"]
    policy = current(result)
    assert policy["nodes"]["perPodShare"] == pytest.approx([0.25, 0.5, 0.0])
    assert policy["summary"]["hottestPodRatio"] == pytest.approx(1.5)
    assert result["verdict"] == "fail"
    assert result["failures"] == ["web: hottest Pod 1.50x mean > 1.20x"]
    # the ConfigMap is listed as ignored, with the line its document starts on (the apiVersion above its kind)
    start = pipeline_yaml(1.2).splitlines().index("kind: ConfigMap")  # 0-based line of kind = 1-based line above
    assert result["ignored"] == [{"kind": "ConfigMap", "name": "web-config", "line": start}]


async def test_fail_on_verdict_maps_a_failing_verdict_to_422_with_the_result(client):
    response = await client.post("/v1/evaluate?failOnVerdict=true", content=pipeline_yaml(1.2), headers=YAML)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:trafficplanner:problem:verdict-failed"
    assert problem["errors"][0]["field"] == "default/web.spec.requirements.maxHottestPodRatio"
    assert problem["errors"][0]["value"] == pytest.approx(1.5)
    assert problem["result"]["verdict"] == "fail"
    # a passing verdict stays 200 with the flag (1.5 <= 1.6)
    passing = await client.post("/v1/evaluate?failOnVerdict=true", content=pipeline_yaml(1.6), headers=YAML)
    assert passing.status_code == 200
    assert passing.json()["verdict"] == "pass"


async def test_inline_scenario_evaluates_with_and_without_the_changes(client):
    # Scenario: node-b goes down. Base: hottest 1.5 (above). With node-b down its Pod is gone and the LB (after
    # detection) sends everything to node-a: 2 Pods at 1/2 each, mean 1/2 -> ratio 1.0.
    scenario = {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Scenario",
        "metadata": {"name": "b-down", "namespace": NS},
        "spec": {"clusterRef": "prod", "servicePlanRefs": ["web"], "changes": [{"type": "nodeDown", "node": "node-b"}]},
    }
    response = await client.post(
        "/v1/evaluate", content=json.dumps([cluster_doc(), plan_doc(), scenario]), headers=JSON
    )
    assert response.status_code == 200, response.text
    (outcome,) = response.json()["plans"]
    assert outcome["base"]["policies"][0]["summary"]["hottestPodRatio"] == pytest.approx(1.5)
    assert outcome["evaluation"]["policies"][0]["summary"]["hottestPodRatio"] == pytest.approx(1.0)
    assert "hottest Pod 1.50x -> 1.00x mean" in outcome["changes"]
    assert response.json()["scenario"] == "b-down"


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        # malformed YAML
        ("kind: [unclosed", YAML, 400, ""),
        # a Service port out of range: the field path names the document ([1]) and the field
        (
            json.dumps(
                [
                    cluster_doc(),
                    {
                        **plan_doc(),
                        "spec": {
                            **plan_doc()["spec"],
                            "service": {
                                **service_manifest(),
                                "spec": {**service_manifest()["spec"], "ports": [{"port": 70000}]},
                            },
                        },
                    },
                ]
            ),
            JSON,
            422,
            "[1].spec.service.spec.ports[0].port",
        ),
        # a ServicePlan naming a Cluster that is not in the body
        (json.dumps([cluster_doc(), plan_doc(cluster="elsewhere")]), JSON, 422, "spec.clusterRef"),
        # nothing to evaluate
        (json.dumps(cluster_doc()), JSON, 422, ""),
        # a JSON array of non-objects
        ("[1, 2]", JSON, 422, "[0]"),
        ("{not json", JSON, 400, ""),
    ],
)
async def test_bad_input_is_a_problem_with_the_field(client, body, headers, status, field):
    response = await client.post("/v1/evaluate", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if field:
        assert field in [e["field"] for e in problem["errors"]], problem


async def test_unsupported_media_type(client):
    response = await client.post("/v1/evaluate", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


# --- stored ----------------------------------------------------------------------------------------------------


async def put(client, plural: str, name: str, doc: dict) -> dict:
    response = await client.put(f"/v1/namespaces/{NS}/{plural}/{name}", content=json.dumps(doc), headers=JSON)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_stored_evaluation_records_revisions_is_listed_and_compared(client):
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc())  # revision 1: 2+1 Pods -> ratio 1.5
    await put(client, "serviceplans", "web", plan_doc(placement={"node-a": 2, "node-b": 2}))  # revision 2
    # Revision 2: 2+2 Pods on node-a and node-b: each node 1/2, each Pod 1/4 = the mean -> ratio 1.0.

    first = await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations?revision=1")
    assert first.status_code == 201, first.text
    record = first.json()
    assert record["kind"] == "Evaluation"
    assert record["metadata"]["inputRevisions"] == {"ServicePlan/web": 1, "Cluster/prod": 1}
    assert first.headers["location"] == f"/v1/namespaces/{NS}/serviceplans/web/evaluations/{record['metadata']['uid']}"
    assert current(record["result"])["summary"]["hottestPodRatio"] == pytest.approx(1.5)

    second = await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")
    assert second.status_code == 201
    latest = second.json()
    assert latest["metadata"]["inputRevisions"] == {"ServicePlan/web": 2, "Cluster/prod": 1}
    assert current(latest["result"])["summary"]["hottestPodRatio"] == pytest.approx(1.0)

    listed = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")
    assert listed.status_code == 200
    uids = [item["metadata"]["uid"] for item in listed.json()["items"]]
    assert uids == [latest["metadata"]["uid"], record["metadata"]["uid"]]  # newest first

    page = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations?limit=1")
    assert [i["metadata"]["uid"] for i in page.json()["items"]] == uids[:1]
    token = page.json()["metadata"]["continue"]
    rest = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations", params={"limit": 1, "continue": token})
    assert [i["metadata"]["uid"] for i in rest.json()["items"]] == uids[1:]
    assert "continue" not in rest.json()["metadata"]

    read = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations/{record['metadata']['uid']}")
    assert read.status_code == 200
    assert read.json() == record
    by_id = await client.get(f"/v1/evaluations/{record['metadata']['uid']}")
    assert by_id.json() == record

    comparison = await client.get(
        "/v1/comparisons", params={"base": record["metadata"]["uid"], "other": latest["metadata"]["uid"]}
    )
    assert comparison.status_code == 200, comparison.text
    body = comparison.json()
    (plan,) = body["plans"]
    # hottest Pod: 150 conn/s (node-b's lone Pod) -> 75 conn/s (every Pod 300 / 4)
    assert plan["changes"] == ["hottest Pod 1.50x -> 1.00x mean", "hottest Pod 150.0 -> 75.0 connections/s"]
    assert body["summary"] == "web: hottest Pod 1.50x -> 1.00x mean, hottest Pod 150.0 -> 75.0 connections/s"
    assert body["base"]["inputRevisions"]["ServicePlan/web"] == 1
    assert body["other"]["inputRevisions"]["ServicePlan/web"] == 2


async def test_comparison_of_client_ip_between_cluster_and_local(client):
    # ETP Cluster masquerades external traffic: the Pod sees the node's address, client IP visible on 0%;
    # ETP Local keeps the client address: 100% (traffic-semantics.md section 8, client-IP visibility).
    # Under Cluster every Pod gets 1/3 (kube-proxy picks among all 3 endpoints): ratio 1.0; Local: 1.5 (above).
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc(etp="Cluster"))
    before = (await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")).json()
    await put(client, "serviceplans", "web", plan_doc(etp="Local"))
    after = (await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")).json()
    comparison = await client.get(
        "/v1/comparisons", params={"base": before["metadata"]["uid"], "other": after["metadata"]["uid"]}
    )
    changes = comparison.json()["plans"][0]["changes"]
    assert "hottest Pod 1.00x -> 1.50x mean" in changes
    assert "client IP 0% -> 100%" in changes


async def test_stored_scenario_evaluation_records_every_input_and_the_base(client):
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc())
    scenario = {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Scenario",
        "metadata": {"name": "b-down", "namespace": NS},
        "spec": {"clusterRef": "prod", "servicePlanRefs": ["web"], "changes": [{"type": "nodeDown", "node": "node-b"}]},
    }
    await put(client, "scenarios", "b-down", scenario)
    response = await client.post(f"/v1/namespaces/{NS}/scenarios/b-down/evaluations")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["metadata"]["subjectKind"] == "Scenario"
    assert record["metadata"]["inputRevisions"] == {"Scenario/b-down": 1, "Cluster/prod": 1, "ServicePlan/web": 1}
    (outcome,) = record["result"]["plans"]
    # base 1.5 (2+1 Pods), with node-b down 1.0 (see the inline scenario test)
    assert outcome["base"]["policies"][0]["summary"]["hottestPodRatio"] == pytest.approx(1.5)
    assert outcome["evaluation"]["policies"][0]["summary"]["hottestPodRatio"] == pytest.approx(1.0)
    listed = await client.get(f"/v1/namespaces/{NS}/scenarios/b-down/evaluations")
    assert [i["metadata"]["uid"] for i in listed.json()["items"]] == [record["metadata"]["uid"]]
    # not listed under the ServicePlan, and not readable through it
    assert (await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")).json()["items"] == []
    wrong = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations/{record['metadata']['uid']}")
    assert wrong.status_code == 404


async def test_unknown_plan_revision_evaluation_and_token(client):
    assert (await client.post(f"/v1/namespaces/{NS}/serviceplans/nope/evaluations")).status_code == 404
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc())
    assert (await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations?revision=7")).status_code == 404
    assert (await client.get("/v1/evaluations/0d4c7a5e-0000-0000-0000-000000000000")).status_code == 404
    missing = await client.get("/v1/comparisons", params={"base": "x", "other": "y"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/evaluations", params={"continue": "%%%"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "continue"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


async def test_report_html_is_self_contained(client):
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc(max_ratio=1.2))
    record = (await client.post(f"/v1/namespaces/{NS}/serviceplans/web/evaluations")).json()
    response = await client.get(f"/v1/evaluations/{record['metadata']['uid']}/report.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    links = _Links()
    links.feed(page)
    # nothing is loaded from elsewhere: no http(s) src/href, no scripts
    assert not [u for u in links.urls if u.startswith(("http://", "https://", "//"))], links.urls
    assert "script" not in links.tags
    assert "payments/web" in page
    assert "1.50" in page  # the hottest-Pod ratio (2+1 Pods under Local, see above)
    assert "ServicePlan/web revision 1" in page
    missing = await client.get("/v1/evaluations/nope/report.html")
    assert missing.status_code == 404
