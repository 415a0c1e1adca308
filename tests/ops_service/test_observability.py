"""Request IDs, one JSON access line per request, Prometheus metrics, limits, the token CLI and the
loopback rule of ``planner serve``."""

from __future__ import annotations

import io
import json
import logging

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from planner.api.app import create_app
from planner.api.logging import ACCESS_LOGGER, JsonFormatter
from planner.auth.exposure import exposure_error, is_loopback
from planner.cli.main import main as planner_cli
from planner.config import Settings, settings_from_env


@pytest.fixture
def access_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def samples(text: str, name: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_request_id_is_echoed_or_generated_and_logged(client, access_lines):
    given = await client.get("/health", headers={"X-Request-ID": "ci-run-42.step-3"})
    assert given.headers["x-request-id"] == "ci-run-42.step-3"
    fresh = await client.get("/v1/namespaces/team-a/clusters/missing")
    generated = fresh.headers["x-request-id"]
    assert len(generated) == 32
    bad = await client.get("/health", headers={"X-Request-ID": "has spaces and\ttabs"})
    assert bad.headers["x-request-id"] != "has spaces and\ttabs"  # not echoed: replaced by a fresh one

    lines = access_lines()
    assert [line["request_id"] for line in lines] == ["ci-run-42.step-3", generated, bad.headers["x-request-id"]]
    miss = lines[1]
    assert miss["method"] == "GET"
    assert miss["status"] == 404
    assert miss["route"] == "/v1/namespaces/{namespace}/clusters/{name}"  # the template, not the raw path
    assert miss["path"] == "/v1/namespaces/team-a/clusters/missing"
    assert miss["duration_ms"] >= 0
    assert miss["level"] == "info"


async def test_unmatched_routes_are_logged_under_one_label(client, access_lines):
    response = await client.get("/no/such/path/123")
    assert response.status_code == 404
    assert response.headers["x-request-id"]
    assert access_lines()[-1]["route"] is None


async def test_metrics_count_requests_by_route_template(client):
    before = samples((await client.get("/metrics")).text, "planner_http_request_duration_seconds_count")
    for name in ("a", "b", "c"):
        assert (await client.get(f"/v1/namespaces/team-a/clusters/{name}")).status_code == 404
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text, "planner_http_request_duration_seconds_count")
    key = (("method", "GET"), ("route", "/v1/namespaces/{namespace}/clusters/{name}"), ("status", "404"))
    assert after[key] - before.get(key, 0) == 3  # three paths, one series
    depth = samples(response.text, "planner_job_queue_depth")
    assert depth[(("queue", "jobs"), ("state", "queued"))] == 0


async def test_evaluation_and_solve_metrics_come_from_the_evaluate_and_recommend_paths(client):
    from tests.api.test_recommend_api import cluster_doc, options, plan_doc

    before = (await client.get("/metrics")).text
    documents = [cluster_doc(), plan_doc(replicas=10)]
    headers = {"Content-Type": "application/json"}
    evaluated = await client.post("/v1/evaluate", content=json.dumps(documents), headers=headers)
    assert evaluated.status_code == 200, evaluated.text
    solve = [*documents, options(solver={"timeLimitSeconds": 1})]
    recommended = await client.post("/v1/recommend", content=json.dumps(solve), headers=headers)
    assert recommended.status_code == 200, recommended.text
    assert recommended.json()["solver"]["status"] == "optimal"
    after = (await client.get("/metrics")).text
    count = "planner_evaluation_duration_seconds_count"
    assert samples(after, count)[()] - samples(before, count).get((), 0) == 1
    solves = "planner_solve_duration_seconds_count"
    assert samples(after, solves)[()] - samples(before, solves).get((), 0) == 1
    assert samples(after, "planner_solve_duration_seconds_sum")[()] > 0
    optimal = (("status", "optimal"),)
    status = "planner_solver_status_total"
    assert samples(after, status)[optimal] - samples(before, status).get(optimal, 0) == 1


async def test_metrics_can_require_an_admin_token(database_url, issue):
    settings = Settings(database_url=database_url, auth="required", metrics_public=False)
    async with AsyncTestClient(app=create_app(settings)) as closed:
        assert (await closed.get("/metrics")).status_code == 401
        assert (await closed.get("/metrics", headers=await issue("write", "*"))).status_code == 403
        assert (await closed.get("/metrics", headers=await issue("admin", "*"))).status_code == 200


def test_settings_from_environment():
    settings = settings_from_env(
        {"PLANNER_AUTH": "required", "PLANNER_METRICS_PUBLIC": "0", "PLANNER_QUEUE": "procrastinate"}
    )
    assert (settings.auth, settings.metrics_public, settings.queue) == ("required", False, "procrastinate")
    defaults = settings_from_env({})
    assert (defaults.auth, defaults.insecure, defaults.queue) == ("disabled", False, "inprocess")
    with pytest.raises(ValueError, match="PLANNER_AUTH"):
        settings_from_env({"PLANNER_AUTH": "maybe"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("planner.internal", False)],
)  # fmt: skip
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback
    refusal = exposure_error(host, auth="disabled", insecure=False)
    assert (refusal is None) is loopback
    assert exposure_error(host, auth="required", insecure=False) is None
    assert exposure_error(host, auth="disabled", insecure=True) is None


def test_serve_refuses_a_public_address_without_auth(monkeypatch):
    result = CliRunner().invoke(planner_cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 with authentication disabled" in result.output


def test_token_cli_create_list_revoke(database_url, monkeypatch):
    monkeypatch.setenv("PLANNER_DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(
        planner_cli, ["token", "create", "--name", "ci", "--scope", "write", "--namespace", "team-a"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("tp_")
    assert len(secret) > 40
    listed = runner.invoke(planner_cli, ["token", "list", "--json"])
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["name"], entry["scope"], entry["namespaces"], entry["state"]) == ("ci", "write", ["team-a"], "active")
    assert secret not in listed.stdout  # only the prefix is shown
    assert secret.startswith(entry["prefix"])
    revoked = runner.invoke(planner_cli, ["token", "revoke", "ci"])
    assert revoked.exit_code == 0
    assert runner.invoke(planner_cli, ["token", "list", "--json"]).stdout == ""
    again = runner.invoke(planner_cli, ["token", "revoke", "ci"])
    assert again.exit_code != 0


async def test_the_kubernetes_envelope_and_the_body_limit(client):
    # 5,000 nodes is the largest cluster Kubernetes supports (and the Cluster schema's limit); one more is refused
    # with the field path, and nothing is stored
    nodes = [{"name": f"n{i}", "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}} for i in range(5001)]
    doc = {"apiVersion": "trafficplanner.io/v1", "kind": "Cluster", "spec": {"nodes": nodes}}
    url = "/v1/namespaces/team-a/clusters/huge"
    refused = await client.put(url, content=json.dumps(doc), headers={"Content-Type": "application/json"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["spec.nodes"]
    assert (await client.get(url)).status_code == 404

    # the client fixture's body limit is 1 MiB
    too_big = await client.put(url, content=b" " * (1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413


async def test_a_solve_may_not_ask_for_more_than_the_time_cap(client):
    from tests.api.test_jobs_api import body

    # PLANNER_MAX_SOLVE_SECONDS defaults to 120; the document schema alone would allow 600
    refused = await client.post(
        "/v1/recommend", content=body(time_limit=300), headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["spec.solver.timeLimitSeconds"]
