"""Recommendations over HTTP: inline solves, stored recommendations with their input revisions, options and
errors.

Placement model (traffic-semantics.md section 8, "External, ETP Local", behind an equal-per-node load balancer
that health-checks nodes): a Pod on node n gets 1/(K x_n) of the traffic, K = nodes with ready Pods, x_n = Pods on
node n; the mean Pod share is 1/N, so the hottest-Pod ratio is N / (K min x_n).
"""

from __future__ import annotations

import json

import pytest

JSON = {"Content-Type": "application/json"}
YAML = {"Content-Type": "application/yaml"}
NS = "shop"


def node(name: str, *, pods: str = "110") -> dict:
    return {"name": name, "zone": "zone-a", "allocatable": {"cpu": "8", "memory": "32Gi", "pods": pods}}


def cluster_doc(pods: str = "110") -> dict:
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "prod", "namespace": NS},
        "spec": {"nodes": [node("n0", pods=pods), node("n1", pods=pods), node("n2", pods=pods)]},
    }


def plan_doc(name: str = "web", replicas: int = 10) -> dict:
    return {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "ServicePlan",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "clusterRef": "prod",
            "service": {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "type": "LoadBalancer",
                    "selector": {"app": name},
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                    "externalTrafficPolicy": "Local",
                },
            },
            "workload": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [
                                {
                                    "name": name,
                                    "image": "nginx:1.27",
                                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                                }
                            ]
                        },
                    },
                },
            },
            "traffic": {"external": {"connectionsPerSecond": 1000, "loadBalancer": {"model": "nodeEqual"}}},
        },
    }


def options(**spec) -> dict:
    spec.setdefault("solver", {"timeLimitSeconds": 1, "randomSeed": 7})
    return {"apiVersion": "trafficplanner.io/v1", "kind": "RecommendOptions", "spec": spec}


def service(result: dict, name: str = "web") -> dict:
    return next(s for s in result["recommendation"]["services"] if s["name"] == name)


async def test_ten_replicas_on_three_equal_nodes_go_five_five_inline(client):
    # 5/5/0: K = 2, every Pod gets 1/(2*5) = 1/10 = the mean -> ratio 1.0. 4/3/3 would give the lone Pods
    # 1/(3*3) = 1/9, ratio (1/9)/(1/10) = 10/9; so the optimum leaves one node empty.
    body = json.dumps([cluster_doc(), plan_doc(replicas=10), options()])
    response = await client.post("/v1/recommend", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["kind"] == "RecommendationResult"
    web = service(result)
    assert sorted(web["podsPerNode"].values()) == [5, 5]
    assert web["quality"]["hottestPodRatio"] == pytest.approx(1.0)
    assert result["solver"]["status"] == "optimal"
    assert result["solver"]["gap"] == pytest.approx(0.0)
    assert result["solver"]["wallSeconds"] >= 0


async def test_yaml_stream_with_options_and_two_services_sharing_the_cluster(client):
    # web: replicas from the options (10, overriding the Deployment's 3) -> 5/5 as above.
    # api: 2 replicas -> 1/1 on two nodes (K = 2, each Pod 1/2 = the mean, ratio 1.0; spread prefers two nodes).
    import yaml

    docs = [cluster_doc(), plan_doc("web", replicas=3), plan_doc("api", replicas=2)]
    docs.append(options(services=[{"servicePlan": "web", "replicas": 10}]))
    response = await client.post("/v1/recommend", content=yaml.safe_dump_all(docs), headers=YAML)
    assert response.status_code == 200, response.text
    result = response.json()
    assert sorted(service(result, "web")["podsPerNode"].values()) == [5, 5]
    api = service(result, "api")
    assert sorted(v for v in api["podsPerNode"].values() if v) == [1, 1]
    assert api["quality"]["hottestPodRatio"] == pytest.approx(1.0)


async def test_infeasible_placement_is_an_answer_not_an_error(client):
    # Each node takes at most 2 Pods (allocatable pods "2"): 3 nodes hold 6 Pods, 10 replicas cannot fit.
    body = json.dumps([cluster_doc(pods="2"), plan_doc(replicas=10), options()])
    response = await client.post("/v1/recommend", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["solver"]["status"] == "infeasible"
    assert result["recommendation"]["explanations"], "an infeasible answer explains the conflict"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (options(services=[{"servicePlan": "nope", "replicas": 2}]), "spec.services[0].servicePlan"),
        (options(solver={"timeLimitSeconds": 1, "numWorkers": 64}), "spec.solver.numWorkers"),
        (options(services=[{"servicePlan": "web", "replicas": 2, "replicaRange": {"min": 1, "max": 3}}]), ""),
        (options(solver={"timeLimitSeconds": -1}), "spec.solver.timeLimitSeconds"),
        # Within the schema's bounds (600 s, 3600 s) but above PLANNER_MAX_SOLVE_SECONDS (default 120).
        (options(solver={"timeLimitSeconds": 300}), "spec.solver.timeLimitSeconds"),
        (options(solver={"timeLimitSeconds": 1, "wallClockLimitSeconds": 900}), "spec.solver.wallClockLimitSeconds"),
        (options(objective={"order": ["fastest"]}), "spec.objective.order[0]"),
    ],
)
async def test_bad_options_are_422_with_the_field(client, extra, field):
    response = await client.post("/v1/recommend", content=json.dumps([cluster_doc(), plan_doc(), extra]), headers=JSON)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_bad_documents_and_scenarios_are_4xx(client):
    broken = plan_doc()
    broken["spec"]["service"]["spec"]["ports"] = [{"port": 0}]
    response = await client.post("/v1/recommend", content=json.dumps([cluster_doc(), broken]), headers=JSON)
    assert response.status_code == 422
    assert "[1].spec.service.spec.ports[0].port" in [e["field"] for e in response.json()["errors"]]
    scenario = {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "Scenario",
        "metadata": {"name": "s", "namespace": NS},
        "spec": {"clusterRef": "prod", "servicePlanRefs": ["web"]},
    }
    response = await client.post(
        "/v1/recommend", content=json.dumps([cluster_doc(), plan_doc(), scenario]), headers=JSON
    )
    assert response.status_code == 422
    assert (await client.post("/v1/recommend", content=b"a: [", headers=YAML)).status_code == 400


async def put(client, plural: str, name: str, doc: dict) -> None:
    response = await client.put(f"/v1/namespaces/{NS}/{plural}/{name}", content=json.dumps(doc), headers=JSON)
    assert response.status_code in (200, 201), response.text


async def test_stored_recommendation_records_revisions_and_is_listed(client):
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc(replicas=3))
    await put(client, "serviceplans", "web", plan_doc(replicas=10))  # revision 2
    await put(client, "serviceplans", "api", plan_doc("api", replicas=2))
    body = json.dumps({"services": [{"servicePlan": "api"}], "solver": {"timeLimitSeconds": 1, "randomSeed": 3}})
    response = await client.post(f"/v1/namespaces/{NS}/serviceplans/web/recommendations", content=body, headers=JSON)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["kind"] == "Recommendation"
    # the subject (latest revision), its Cluster and the ServicePlan placed with it
    assert record["metadata"]["inputRevisions"] == {"ServicePlan/web": 2, "Cluster/prod": 1, "ServicePlan/api": 1}
    assert sorted(service(record)["podsPerNode"].values()) == [5, 5]  # 10 replicas -> 5/5 (see above)
    assert record["solver"]["status"] == "optimal"
    uid = record["metadata"]["uid"]
    assert response.headers["location"] == f"/v1/namespaces/{NS}/serviceplans/web/recommendations/{uid}"

    listed = (await client.get(f"/v1/namespaces/{NS}/serviceplans/web/recommendations")).json()
    assert [i["metadata"]["uid"] for i in listed["items"]] == [uid]
    assert sorted(listed["items"][0]["podsPerNode"]["web"].values()) == [5, 5]
    read = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/recommendations/{uid}")
    assert read.json() == record
    # revision 1 had 3 replicas: 1/1/1 on three nodes (K = 3, each Pod 1/3 = the mean)
    old = await client.post(
        f"/v1/namespaces/{NS}/serviceplans/web/recommendations?revision=1",
        content="solver: {timeLimitSeconds: 1}",
        headers=YAML,
    )
    assert old.status_code == 201, old.text
    assert old.json()["metadata"]["inputRevisions"] == {"ServicePlan/web": 1, "Cluster/prod": 1}
    assert sorted(service(old.json())["podsPerNode"].values()) == [1, 1, 1]


async def test_stored_recommendation_errors(client):
    assert (await client.post(f"/v1/namespaces/{NS}/serviceplans/nope/recommendations")).status_code == 404
    await put(client, "clusters", "prod", cluster_doc())
    await put(client, "serviceplans", "web", plan_doc())
    unknown = json.dumps({"services": [{"servicePlan": "ghost"}]})
    response = await client.post(f"/v1/namespaces/{NS}/serviceplans/web/recommendations", content=unknown, headers=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "spec.services[0].servicePlan"
    bogus = json.dumps({"bogus": 1})
    response = await client.post(f"/v1/namespaces/{NS}/serviceplans/web/recommendations", content=bogus, headers=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "bogus"
    missing = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/recommendations/0000")
    assert missing.status_code == 404


async def test_recommendation_report_shows_current_and_recommended(client):
    await put(client, "clusters", "prod", cluster_doc())
    plan = plan_doc(replicas=10)
    plan["spec"]["placement"] = {"podsPerNode": {"n0": 4, "n1": 3, "n2": 3}}
    await put(client, "serviceplans", "web", plan)
    body = json.dumps({"solver": {"timeLimitSeconds": 1, "randomSeed": 1}})
    record = (
        await client.post(f"/v1/namespaces/{NS}/serviceplans/web/recommendations", content=body, headers=JSON)
    ).json()
    uid = record["metadata"]["uid"]
    response = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/recommendations/{uid}/report.html")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<script" not in page
    # current 4/3/3: the lone Pods get 1/(3*3) = 1/9, mean 1/10 -> 10/9 = 1.11; recommended 5/5 -> 1.00
    assert "1.11" in page
    assert "1.00" in page
    assert "Recommendation: optimal" in page
    wrong = await client.get(f"/v1/namespaces/{NS}/serviceplans/api/recommendations/{uid}/report.html")
    assert wrong.status_code == 404
