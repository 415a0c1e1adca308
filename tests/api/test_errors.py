"""Every kind of bad input gets an RFC 9457 problem with a 4xx status and the field path; nothing is written."""

from __future__ import annotations

import json

import yaml

from tests.api.documents import CLUSTER_YAML, SERVICE_PLAN_YAML, cluster

URL = "/v1/namespaces/payments/clusters/prod-eu"
YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_KEYS, problem
    assert problem["status"] == status
    return problem


async def assert_nothing_stored(client) -> None:
    assert (await client.get(URL)).status_code == 404


async def test_malformed_json(client):
    problem = assert_problem(
        await client.put(URL, content=b'{"apiVersion": "trafficplanner.io/v1",', headers=JSON), 400
    )
    assert problem["type"] == "urn:trafficplanner:problem:malformed-body"
    assert problem["instance"] == URL
    assert "malformed JSON" in problem["detail"]
    await assert_nothing_stored(client)


async def test_malformed_yaml(client):
    problem = assert_problem(await client.put(URL, content="spec:\n  nodes: [\n  - a: b", headers=YAML), 400)
    assert "malformed YAML" in problem["detail"]
    await assert_nothing_stored(client)


async def test_not_an_object_and_several_documents(client):
    assert_problem(await client.put(URL, content=b"[1, 2]", headers=JSON), 400)
    assert_problem(await client.put(URL, content=CLUSTER_YAML + "---\n" + CLUSTER_YAML, headers=YAML), 400)
    await assert_nothing_stored(client)


async def test_unknown_field_reports_its_full_path(client):
    doc = yaml.safe_load(CLUSTER_YAML)
    doc["spec"]["nodes"][1]["allocatable"]["gpu"] = "1"
    problem = assert_problem(await client.put(URL, content=json.dumps(doc), headers=JSON), 422)
    assert problem["errors"] == [
        {"field": "spec.nodes[1].allocatable.gpu", "type": "Forbidden", "message": "unknown field", "value": "1"}
    ]
    await assert_nothing_stored(client)


async def test_wrong_type_reports_path_and_value(client):
    # kubectl quotes quantities such as "4"; a bare YAML 4 is a number
    body = CLUSTER_YAML.replace("cpu: 3920m", "cpu: 4", 1)
    problem = assert_problem(await client.put(URL, content=body, headers=YAML), 422)
    [error] = problem["errors"]
    assert error["field"] == "spec.nodes[0].allocatable.cpu"
    assert error["type"] == "TypeInvalid"
    assert error["value"] == 4
    await assert_nothing_stored(client)


async def test_missing_required_field(client):
    doc = cluster()
    del doc["spec"]["nodes"][0]["name"]
    problem = assert_problem(await client.put(URL, content=json.dumps(doc), headers=JSON), 422)
    assert problem["errors"][0]["field"] == "spec.nodes[0].name"
    assert problem["errors"][0]["type"] == "Required"


async def test_constraint_violation_in_body(client):
    doc = cluster()
    doc["spec"]["nodes"][0]["taints"] = [{"key": "x", "effect": "Sometimes"}]
    problem = assert_problem(await client.put(URL, content=json.dumps(doc), headers=JSON), 422)
    assert problem["errors"][0]["field"] == "spec.nodes[0].taints[0].effect"
    assert problem["errors"][0]["value"] == "Sometimes"


async def test_wrong_api_version(client):
    doc = cluster()
    doc["apiVersion"] = "v1"
    problem = assert_problem(await client.put(URL, content=json.dumps(doc), headers=JSON), 422)
    assert problem["errors"][0]["field"] == "apiVersion"


async def test_domain_validation_errors_carry_the_field_path(client):
    assert (await client.put(URL, content=CLUSTER_YAML, headers=YAML)).status_code == 201
    plan = yaml.safe_load(SERVICE_PLAN_YAML)
    plan["spec"]["service"]["spec"]["sessionAffinity"] = "ClientIP"
    plan["spec"]["service"]["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 86401}}
    plan_url = "/v1/namespaces/payments/serviceplans/checkout"
    problem = assert_problem(await client.put(plan_url, content=yaml.safe_dump(plan), headers=YAML), 422)
    assert problem["type"] == "urn:trafficplanner:problem:invalid-document"
    fields = {e["field"]: e for e in problem["errors"]}
    timeout = fields["spec.service.spec.sessionAffinityConfig.clientIP.timeoutSeconds"]
    assert timeout["value"] == 86401
    assert (await client.get(plan_url)).status_code == 404


async def test_alias_bombs_recursive_aliases_and_non_finite_numbers_are_rejected(client):
    # "billion laughs": 9 levels of 10 aliases each expand to 10**9 values from a few hundred bytes
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = "\n".join(levels) + "\n"
    problem = assert_problem(await client.put(URL, content=bomb, headers=YAML), 422)
    assert "too many values" in problem["detail"]
    recursive = "apiVersion: trafficplanner.io/v1\nkind: Cluster\nspec: &s\n  nodes: *s\n"
    problem = assert_problem(await client.put(URL, content=recursive, headers=YAML), 422)
    assert problem["errors"][0]["field"] == "spec.nodes"
    plan = SERVICE_PLAN_YAML.replace("connectionsPerSecond: 1200", "connectionsPerSecond: .nan")
    problem = assert_problem(
        await client.put("/v1/namespaces/payments/serviceplans/checkout", content=plan, headers=YAML), 422
    )
    assert problem["errors"][0]["field"] == "spec.traffic.external.connectionsPerSecond"


async def test_oversized_body_is_413(client):
    # the test app allows 1 MiB
    body = CLUSTER_YAML + "#" + "x" * (1024 * 1024) + "\n"
    problem = assert_problem(await client.put(URL, content=body, headers=YAML), 413)
    assert problem["title"] == "Request Entity Too Large"
    await assert_nothing_stored(client)


async def test_unsupported_media_type(client):
    problem = assert_problem(await client.put(URL, content=b"<cluster/>", headers={"Content-Type": "text/xml"}), 415)
    assert "application/yaml" in problem["detail"]


async def test_router_404_and_405_are_problems(client):
    problem = assert_problem(await client.get("/v1/namespaces/payments/widgets"), 404)
    assert problem["type"] == "about:blank"
    response = await client.post(URL, content=CLUSTER_YAML, headers=YAML)
    assert_problem(response, 405)
    assert "PUT" in response.headers.get("allow", "")


async def test_invalid_path_and_query_parameters(client):
    problem = assert_problem(await client.get("/v1/namespaces/Payments_EU/clusters/prod"), 400)
    assert problem["errors"][0]["field"] == "namespace"
    problem = assert_problem(await client.get(URL, params={"revision": "latest"}), 400)
    assert problem["errors"][0]["field"] == "revision"
    assert problem["errors"][0]["value"] == "latest"
    assert_problem(await client.get(URL, params={"revision": 0}), 400)


async def test_plain_yaml_aliases_are_expanded(client):
    # shared values (as yaml.dump writes them for repeated dicts) are accepted and stored expanded
    aliased = CLUSTER_YAML.replace("    allocatable:\n", "    allocatable: &alloc\n", 1)
    aliased = aliased.replace(
        '    allocatable:\n      cpu: 3920m\n      memory: 15147852Ki\n      pods: "110"\n    taints:',
        "    allocatable: *alloc\n    taints:",
    )
    assert "*alloc" in aliased
    response = await client.put(URL, content=aliased, headers=YAML)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == yaml.safe_load(CLUSTER_YAML)["spec"]


async def test_options_lists_every_method_of_a_document(client):
    response = await client.options(URL)
    assert response.status_code == 204
    assert sorted(m.strip() for m in response.headers["allow"].split(",")) == ["DELETE", "GET", "OPTIONS", "PUT"]


def _token(position: dict) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


async def test_values_no_record_can_hold_are_400_not_500(client):
    # found by fuzzing: a NUL character reached PostgreSQL (which cannot store it in text) and answered 500
    for url, params, field in (
        ("/v1/comparisons", {"base": "\x13\x00", "other": "x"}, "base"),
        ("/v1/evaluations/a%00b", {}, "uid"),
        ("/v1/jobs/a%00b", {}, "uid"),
        ("/v1/evaluations/a%00b/report.html", {}, "uid"),
        ("/v1/namespaces/payments/serviceplans/web/recommendations/a%00b", {}, "uid"),
    ):
        problem = assert_problem(await client.get(url, params=params), 400)
        assert problem["errors"][0]["field"] == field, (url, problem)
    # continue tokens this service never produced: a NUL in a document position, a row id beyond INTEGER
    for url, token in (
        ("/v1/clusters", _token({"ns": "a\x00", "n": "b"})),
        ("/v1/namespaces/payments/serviceplans/web/evaluations", _token({"before": 2**63})),
    ):
        problem = assert_problem(await client.get(url, params={"continue": token}), 400)
        assert problem["errors"][0]["field"] == "continue"


async def test_invalid_documents_to_evaluate_are_a_plain_problem_as_declared(client):
    # the declared 422 covers both answers: this one carries no `result`, the verdict-failed one does
    problem = assert_problem(await client.post("/v1/evaluate", content=b"[null]", headers=JSON), 422)
    assert "result" not in problem
    schema = client.app.openapi_schema.to_schema()
    declared = schema["paths"]["/v1/evaluate"]["post"]["responses"]["422"]["content"]
    assert list(declared) == ["application/problem+json"]
    name = declared["application/problem+json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "result" not in schema["components"]["schemas"][name]["required"]
