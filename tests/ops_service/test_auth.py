"""Bearer tokens: 401 without a valid token, scopes, and a token never reading or writing another namespace.

Every operation of the committed OpenAPI document that names a namespace is called with a team-a token on
team-b's namespace: each must answer 403 before touching storage, and team-b's documents must stay unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.db.tokens import create_token, revoke_tokens
from tests.api.documents import cluster

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text())
JSON = {"Content-Type": "application/json"}


def namespaced_operations() -> list[tuple[str, str]]:
    found = []
    for path, item in OPENAPI["paths"].items():
        params = {p["name"] for op in item.values() if isinstance(op, dict) for p in op.get("parameters", [])}
        if "{namespace}" in path or "namespace" in params:
            found.extend((method.upper(), path) for method in item if method in {"get", "put", "post", "delete"})
    return sorted(found)


async def test_requests_without_a_valid_token_get_401(auth_client, db):
    missing = await auth_client.get("/v1/clusters")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.headers["www-authenticate"] == 'Bearer realm="traffic-planner"'
    assert missing.json()["type"] == "urn:trafficplanner:problem:unauthorized"

    wrong = await auth_client.get("/v1/clusters", headers={"Authorization": "Bearer tp_not-a-token"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]

    basic = await auth_client.get("/v1/clusters", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401

    issued = await create_token(db, name="old", scope="admin", namespaces=["*"])
    header = {"Authorization": f"Bearer {issued.secret}"}
    assert (await auth_client.get("/v1/clusters", headers=header)).status_code == 200
    assert await revoke_tokens(db, "old") == 1
    assert (await auth_client.get("/v1/clusters", headers=header)).status_code == 401


async def test_probes_schema_and_metrics_stay_open(auth_client):
    for path in ("/health", "/ready", "/schema/openapi.json", "/metrics"):
        response = await auth_client.get(path)
        assert response.status_code == 200, path


async def test_read_scope_reads_but_does_not_write(auth_client, issue):
    admin = await issue("admin", "*")
    reader = await issue("read", "team-a")
    body = json.dumps(cluster("c1", "team-a"))
    assert (
        await auth_client.put("/v1/namespaces/team-a/clusters/c1", content=body, headers={**JSON, **admin})
    ).status_code == 201

    assert (await auth_client.get("/v1/namespaces/team-a/clusters/c1", headers=reader)).status_code == 200
    denied = await auth_client.put("/v1/namespaces/team-a/clusters/c1", content=body, headers={**JSON, **reader})
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:trafficplanner:problem:insufficient-scope"
    gone = await auth_client.delete("/v1/namespaces/team-a/clusters/c1", headers=reader)
    assert gone.status_code == 403
    assert (await auth_client.get("/v1/namespaces/team-a/clusters/c1/revisions", headers=reader)).json()["items"][0][
        "revision"
    ] == 1


async def test_write_token_writes_its_namespace(auth_client, issue):
    writer = await issue("write", "team-a")
    created = await auth_client.put(
        "/v1/namespaces/team-a/clusters/c1", content=json.dumps(cluster("c1", "team-a")), headers={**JSON, **writer}
    )
    assert created.status_code == 201
    assert created.json()["metadata"]["namespace"] == "team-a"


@pytest.mark.parametrize(("method", "path"), namespaced_operations())
async def test_a_token_never_reaches_another_namespace(auth_client, issue, method, path):
    admin = await issue("admin", "*", name="admin")
    team_a = await issue("write", "team-a", name="team-a")
    original = json.dumps(cluster("c1", "team-b", cpu="4"))
    put = await auth_client.put("/v1/namespaces/team-b/clusters/c1", content=original, headers={**JSON, **admin})
    assert put.status_code == 201

    url = path.replace("{namespace}", "team-b").replace("{name}", "c1").replace("{uid}", "0" * 8)
    params = {"namespace": "team-b", "name": "c1"} if "{namespace}" not in path else None
    changed = json.dumps(cluster("c1", "team-b", cpu="64"))
    response = await auth_client.request(
        method, url, params=params, content=changed if method in {"PUT", "POST"} else None, headers={**JSON, **team_a}
    )
    assert response.status_code == 403, (method, url, response.text)
    assert response.json()["type"] == "urn:trafficplanner:problem:namespace-forbidden"
    assert "c1" not in response.text.replace(url, "")  # nothing of the document leaks into the answer

    # team-b's cluster is untouched: still revision 1 with 4 CPUs per node
    stored = await auth_client.get("/v1/namespaces/team-b/clusters/c1", headers=admin)
    assert stored.status_code == 200
    assert stored.json()["metadata"]["revision"] == 1
    assert stored.json()["spec"]["nodes"][0]["allocatable"]["cpu"] == "4"


def test_every_namespaced_operation_is_covered():
    # the parametrized test above runs over this list; it must include reads, writes and the import
    operations = namespaced_operations()
    assert ("PUT", "/v1/namespaces/{namespace}/clusters/{name}") in operations
    assert ("GET", "/v1/namespaces/{namespace}/clusters/{name}") in operations
    assert ("DELETE", "/v1/namespaces/{namespace}/serviceplans/{name}") in operations
    assert ("POST", "/v1/import") in operations


async def test_cross_namespace_lists_show_only_the_tokens_namespaces(auth_client, issue):
    admin = await issue("admin", "*", name="admin")
    for namespace in ("team-a", "team-b", "team-c"):
        for name in ("c1", "c2"):
            body = json.dumps(cluster(name, namespace))
            url = f"/v1/namespaces/{namespace}/clusters/{name}"
            assert (await auth_client.put(url, content=body, headers={**JSON, **admin})).status_code == 201
    both = await issue("read", "team-a", "team-c", name="two-teams")
    seen = []
    token = None
    while True:  # page by one to prove the continue token never steps into a hidden namespace
        params = {"limit": 1, **({"continue": token} if token else {})}
        page = (await auth_client.get("/v1/clusters", params=params, headers=both)).json()
        seen += [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [("team-a", "c1"), ("team-a", "c2"), ("team-c", "c1"), ("team-c", "c2")]
    everything = (await auth_client.get("/v1/clusters", headers=admin)).json()["items"]
    assert len(everything) == 6


async def test_stateless_evaluate_needs_only_read(auth_client, issue):
    reader = await issue("read", "team-a")
    # an empty body is a 400 from the handler: authorization let the request through
    response = await auth_client.post("/v1/evaluate", content=b"", headers={**JSON, **reader})
    assert response.status_code == 400
    assert (await auth_client.post("/v1/evaluate", content=b"", headers=JSON)).status_code == 401


async def test_auth_disabled_keeps_the_api_open(client):
    # default settings (loopback development): no token needed
    assert (await client.get("/v1/clusters")).status_code == 200


def test_openapi_declares_the_bearer_scheme_and_its_answers():
    scheme = OPENAPI["components"]["securitySchemes"]["bearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    operation = OPENAPI["paths"]["/v1/namespaces/{namespace}/clusters/{name}"]["put"]
    assert operation["security"] == [{"bearerToken": []}]
    assert {"401", "403"} <= set(operation["responses"])
    assert "security" not in OPENAPI["paths"]["/health"]["get"]


async def test_records_read_by_id_stay_in_their_namespace(auth_client, issue):
    from tests.api.test_evaluate_api import cluster_doc, plan_doc

    admin = await issue("admin", "*", name="admin")
    team_a = await issue("read", "team-a", name="team-a")
    team_b = await issue("read", "team-b", name="team-b")
    for kind, doc in (("clusters", cluster_doc("prod")), ("serviceplans", plan_doc("web"))):
        doc["metadata"]["namespace"] = "team-b"
        url = f"/v1/namespaces/team-b/{kind}/{doc['metadata']['name']}"
        assert (await auth_client.put(url, content=json.dumps(doc), headers={**JSON, **admin})).status_code == 201
    created = await auth_client.post("/v1/namespaces/team-b/serviceplans/web/evaluations", headers=admin)
    assert created.status_code == 201, created.text
    uid = created.json()["metadata"]["uid"]

    assert (await auth_client.get(f"/v1/evaluations/{uid}", headers=team_b)).status_code == 200
    hidden = await auth_client.get(f"/v1/evaluations/{uid}", headers=team_a)
    missing = await auth_client.get(f"/v1/evaluations/{'f' * 36}", headers=team_a)
    # another team's evaluation is indistinguishable from one that does not exist
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["type"] == missing.json()["type"]
    compare = await auth_client.get("/v1/comparisons", params={"base": uid, "other": uid}, headers=team_a)
    assert compare.status_code == 404
