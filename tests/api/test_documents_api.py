"""Declarative document endpoints over HTTP, on both databases."""

from __future__ import annotations

import json

import yaml

from tests.api.documents import CLUSTER_YAML, SERVICE_PLAN_YAML, cluster, scenario, service_plan

YAML = {"Content-Type": "application/yaml"}
CLUSTER_URL = "/v1/namespaces/payments/clusters/prod-eu"


async def put_json(client, url, body, **headers):
    return await client.put(url, content=json.dumps(body), headers={"Content-Type": "application/json", **headers})


async def test_apply_yaml_read_back_and_see_revisions(client):
    created = await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == CLUSTER_URL
    body = created.json()
    assert body["kind"] == "Cluster"
    assert body["metadata"]["revision"] == 1
    assert body["metadata"]["uid"]
    assert body["metadata"]["creationTimestamp"].endswith("Z")
    assert body["spec"] == yaml.safe_load(CLUSTER_YAML)["spec"]

    # identical re-apply: no new revision
    again = await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'

    # a change: revision 2, revision 1 still readable
    changed = CLUSTER_YAML.replace("cpu: 3920m", "cpu: 7910m", 1)
    updated = await client.put(CLUSTER_URL, content=changed, headers=YAML)
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    latest = await client.get(CLUSTER_URL)
    assert latest.headers["etag"] == '"2"'
    assert latest.json()["spec"]["nodes"][0]["allocatable"]["cpu"] == "7910m"
    first = await client.get(CLUSTER_URL, params={"revision": 1})
    assert first.status_code == 200
    assert first.headers["etag"] == '"1"'
    assert first.json()["spec"]["nodes"][0]["allocatable"]["cpu"] == "3920m"
    history = await client.get(f"{CLUSTER_URL}/revisions")
    assert history.status_code == 200
    assert [item["revision"] for item in history.json()["items"]] == [1, 2]
    assert history.json()["kind"] == "RevisionList"
    missing = await client.get(CLUSTER_URL, params={"revision": 3})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_read_as_yaml_the_way_kubectl_prints_it(client):
    await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)
    answer = await client.get(CLUSTER_URL, headers={"Accept": "application/yaml"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert answer.headers["etag"] == '"1"'
    text = answer.text
    # Block style, keys in kubectl's order, and the same document as the JSON answer.
    assert text.startswith("apiVersion: trafficplanner.io/v1\nkind: Cluster\nmetadata:\n")
    assert text.index("metadata:") < text.index("spec:")
    assert yaml.safe_load(text) == (await client.get(CLUSTER_URL)).json()
    # JSON stays the default, also when JSON comes first in Accept.
    assert (await client.get(CLUSTER_URL, headers={"Accept": "application/json, application/yaml"})).json()


async def test_lists_and_revisions_as_yaml_too(client):
    # `kubectl get clusters -o yaml` prints a List: apiVersion, kind, metadata, then items; the same as the JSON.
    await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)
    await client.put(CLUSTER_URL, content=CLUSTER_YAML.replace("cpu: 3920m", "cpu: 7910m", 1), headers=YAML)
    accept = {"Accept": "application/yaml"}
    for url in ("/v1/namespaces/payments/clusters", "/v1/clusters", f"{CLUSTER_URL}/revisions"):
        answer = await client.get(url, headers=accept)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith("application/yaml"), url
        assert answer.text.startswith("apiVersion: trafficplanner.io/v1\n"), url
        as_json = (await client.get(url)).json()
        assert yaml.safe_load(answer.text) == as_json, url
    listed = yaml.safe_load((await client.get("/v1/clusters", headers=accept)).text)
    assert listed["kind"] == "ClusterList"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["prod-eu"]
    history = yaml.safe_load((await client.get(f"{CLUSTER_URL}/revisions", headers=accept)).text)
    assert [item["revision"] for item in history["items"]] == [1, 2]


async def test_json_body_and_name_filled_from_the_url(client):
    body = cluster()
    del body["metadata"]["name"]
    del body["metadata"]["namespace"]
    response = await put_json(client, "/v1/namespaces/team-a/clusters/edge", body)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["name"] == "edge"
    assert response.json()["metadata"]["namespace"] == "team-a"


async def test_name_or_namespace_mismatch_is_422_with_the_field(client):
    response = await put_json(client, "/v1/namespaces/payments/clusters/other", cluster("prod-eu"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "metadata.name"
    assert problem["errors"][0]["value"] == "prod-eu"
    response = await put_json(client, "/v1/namespaces/search/clusters/prod-eu", cluster("prod-eu", "payments"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata.namespace"
    assert (await client.get("/v1/namespaces/search/clusters/prod-eu")).status_code == 404


async def test_wrong_kind_for_the_path_is_422(client):
    response = await put_json(client, CLUSTER_URL, service_plan("prod-eu", "x"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kind"


async def test_server_fields_can_be_sent_back_and_revision_is_a_precondition(client):
    created = (await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)).json()
    # GET -> edit -> PUT round trip, metadata included
    created["spec"]["nodes"][0]["allocatable"]["pods"] = "250"
    updated = await put_json(client, CLUSTER_URL, created)
    assert updated.status_code == 200, updated.text
    assert updated.json()["metadata"]["revision"] == 2
    # the same stale body again: its metadata.revision (1) no longer matches
    created["spec"]["nodes"][0]["allocatable"]["pods"] = "300"
    stale = await put_json(client, CLUSTER_URL, created)
    assert stale.status_code == 412
    assert stale.json()["currentRevision"] == 2


async def test_if_match_and_if_none_match(client):
    assert (
        await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers={**YAML, "If-None-Match": "*"})
    ).status_code == 201
    create_only = await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers={**YAML, "If-None-Match": "*"})
    assert create_only.status_code == 412
    changed = CLUSTER_YAML.replace('pods: "110"', 'pods: "120"', 1)
    stale = await client.put(CLUSTER_URL, content=changed, headers={**YAML, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["currentRevision"] == 1
    weak = await client.put(CLUSTER_URL, content=changed, headers={**YAML, "If-Match": 'W/"1"'})
    assert weak.status_code == 412  # If-Match uses the strong comparison
    ok = await client.put(CLUSTER_URL, content=changed, headers={**YAML, "If-Match": '"5", "1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    star = await client.put(
        "/v1/namespaces/payments/clusters/absent",
        content=CLUSTER_YAML.replace("prod-eu", "absent"),
        headers={**YAML, "If-Match": "*"},
    )
    assert star.status_code == 412
    malformed = await client.put(CLUSTER_URL, content=changed, headers={**YAML, "If-Match": "3"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "If-Match"
    assert (await client.get(CLUSTER_URL)).headers["etag"] == '"2"'


async def test_service_plan_and_scenario_references(client):
    plan_url = "/v1/namespaces/payments/serviceplans/checkout"
    unknown = await client.put(plan_url, content=SERVICE_PLAN_YAML, headers=YAML)
    assert unknown.status_code == 422
    problem = unknown.json()
    assert problem["errors"] == [
        {"field": "spec.clusterRef", "type": "NotFound", "message": "Cluster 'prod-eu' not found", "value": "prod-eu"}
    ]
    assert (await client.get(plan_url)).status_code == 404  # nothing written

    assert (await client.put(CLUSTER_URL, content=CLUSTER_YAML, headers=YAML)).status_code == 201
    plan = await client.put(plan_url, content=SERVICE_PLAN_YAML, headers=YAML)
    assert plan.status_code == 201, plan.text
    assert plan.json()["spec"]["service"]["spec"]["externalTrafficPolicy"] == "Local"

    scenario_url = "/v1/namespaces/payments/scenarios/zone-a-down"
    created = await put_json(client, scenario_url, scenario("zone-a-down", "prod-eu", ["checkout"]))
    assert created.status_code == 201, created.text

    refused = await client.delete(CLUSTER_URL)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("document-in-use")
    assert {(r["kind"], r["name"]) for r in problem["referrers"]} == {
        ("ServicePlan", "checkout"),
        ("Scenario", "zone-a-down"),
    }
    assert "checkout" in problem["detail"]
    assert "zone-a-down" in problem["detail"]
    assert (await client.delete(plan_url)).status_code == 409
    assert (await client.get(CLUSTER_URL)).status_code == 200

    assert (await client.delete(scenario_url)).status_code == 200
    assert (await client.delete(plan_url)).status_code == 200
    deleted = await client.delete(CLUSTER_URL, headers={"If-Match": '"1"'})
    assert deleted.status_code == 200
    assert deleted.json()["metadata"]["revision"] == 1
    assert (await client.get(CLUSTER_URL)).status_code == 404
    assert (await client.delete(CLUSTER_URL)).status_code == 404
    # history outlives the delete
    assert (await client.get(f"{CLUSTER_URL}/revisions")).json()["items"][0]["revision"] == 1


async def test_list_with_selector_and_pagination(client):
    for index in range(5):
        labels = {"env": "prod" if index % 2 == 0 else "staging", "index": str(index)}
        response = await put_json(
            client, f"/v1/namespaces/payments/clusters/c{index}", cluster(f"c{index}", labels=labels)
        )
        assert response.status_code == 201
    assert (await put_json(client, "/v1/namespaces/search/clusters/s0", cluster("s0", "search"))).status_code == 201

    listing = await client.get("/v1/namespaces/payments/clusters", params={"labelSelector": "env=prod"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["kind"] == "ClusterList"
    assert [item["metadata"]["name"] for item in body["items"]] == ["c0", "c2", "c4"]
    assert body["metadata"] == {}

    selected = await client.get("/v1/clusters", params={"labelSelector": "index in (1,3),env!=prod"})
    assert [item["metadata"]["name"] for item in selected.json()["items"]] == ["c1", "c3"]
    without = await client.get("/v1/clusters", params={"labelSelector": "!env"})
    assert [item["metadata"]["name"] for item in without.json()["items"]] == ["s0"]

    names = []
    token = None
    while True:
        params = {"limit": 2} | ({"continue": token} if token else {})
        page = (await client.get("/v1/clusters", params=params)).json()
        names.extend(f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == ["payments/c0", "payments/c1", "payments/c2", "payments/c3", "payments/c4", "search/s0"]

    bad = await client.get("/v1/clusters", params={"labelSelector": "env in prod"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "labelSelector"
    bad_token = await client.get("/v1/clusters", params={"continue": "garbage!"})
    assert bad_token.status_code == 400
    assert bad_token.json()["errors"][0]["field"] == "continue"
    too_many = await client.get("/v1/clusters", params={"limit": 5000})
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "limit"


async def test_invalid_label_is_rejected_before_storage(client):
    body = cluster(labels={"bad key!": "x"})
    response = await put_json(client, CLUSTER_URL, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata.labels"
    long_value = cluster(labels={"env": "x" * 64})
    response = await put_json(client, CLUSTER_URL, long_value)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "metadata.labels[env]"
