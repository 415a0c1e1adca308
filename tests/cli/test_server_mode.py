"""``--server``: the same inputs go to ``POST /v1/evaluate``; the output is identical to the offline run.

The service's evaluate endpoint is exercised here through an httpx transport that answers like the service
(the engine's Evaluation schema, RFC 9457 problems for bad input), plus a real unreachable address.
"""

import json

import httpx
import msgspec
import pytest

import planner.cli.evaluate as evaluate_command
from planner.cli.remote import EVALUATE_PATH, ServiceError, evaluate_remote, request_body
from planner.cli.run import evaluate_locally
from planner.cli.sources import build_inputs, read_inputs
from planner.domain.errors import InvalidDocument
from planner.domain.loading import load_objects
from tests.cli.clihelpers import SHOP, SHOP_FILES, STRICT, run
from tests.support.processes import free_port


def fake_service(request: httpx.Request) -> httpx.Response:
    """Evaluate the posted List with the engine, as the service does."""
    assert request.method == "POST"
    assert request.url.path == EVALUATE_PATH
    body = request.content.decode()
    objects = load_objects(body, "body")
    inputs = build_inputs(objects, cluster_name=request.url.params["clusterName"])
    evaluations = evaluate_locally(inputs)
    return httpx.Response(200, content=msgspec.json.encode({"evaluations": evaluations}))


@pytest.fixture
def served(monkeypatch):
    calls = []

    def remote(server, objects, **kwargs):
        calls.append(server)
        return evaluate_remote(server, objects, transport=httpx.MockTransport(fake_service), **kwargs)

    monkeypatch.setattr(evaluate_command, "evaluate_remote", remote)
    return calls


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "junit", "markdown"])
def test_output_is_identical_to_the_offline_run(served, fmt):
    offline = run("evaluate", *SHOP_FILES, STRICT, "--format", fmt)
    online = run("evaluate", *SHOP_FILES, STRICT, "--format", fmt, "--server", "http://planner.test")
    assert served == ["http://planner.test"]
    assert online.exit_code == offline.exit_code == 1
    assert online.stdout == offline.stdout


def test_request_is_one_kubernetes_list_of_every_document():
    objects = read_inputs([str(SHOP)])
    body = request_body(objects)
    assert body["kind"] == "List"
    assert [item["kind"] for item in body["items"]] == [
        "NodeList",
        "PodList",
        "TrafficProfile",
        "Service",
        "Deployment",
    ]
    json.dumps(body)  # plain JSON


def test_problem_details_are_bad_input_exit_2(monkeypatch):
    def reject(request: httpx.Request) -> httpx.Response:
        problem = {
            "type": "about:blank",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "input is invalid",
            "errors": [{"field": "items[3].spec.ports[0].port", "type": "Invalid", "message": "must be 1-65535"}],
        }
        return httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})

    with pytest.raises(InvalidDocument) as info:
        evaluate_remote(
            "http://planner.test", read_inputs([str(SHOP)]), cluster_name="c", transport=httpx.MockTransport(reject)
        )
    (error,) = info.value.errors
    assert error.field == "items[3].spec.ports[0].port"

    def remote(server, objects, **kwargs):
        return evaluate_remote(server, objects, transport=httpx.MockTransport(reject), **kwargs)

    monkeypatch.setattr(evaluate_command, "evaluate_remote", remote)
    result = run("evaluate", SHOP, "--server", "http://planner.test")
    assert result.exit_code == 2
    assert "items[3].spec.ports[0].port: must be 1-65535" in result.stderr


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(404, text="not found"),
        httpx.Response(200, json={"evaluations": [{"service": "x"}]}),
        httpx.Response(200, text="<html>"),
    ],
)
def test_server_errors_and_wrong_schema_are_service_errors(response):
    with pytest.raises(ServiceError):
        evaluate_remote(
            "http://planner.test",
            read_inputs([str(SHOP)]),
            cluster_name="c",
            transport=httpx.MockTransport(lambda request: response),
        )


def test_unreachable_server_exits_3():
    url = f"http://127.0.0.1:{free_port()}"
    result = run("evaluate", SHOP, "--server", url, "--timeout", "5")
    assert result.exit_code == 3
    assert f"cannot reach {url}/v1/evaluate" in result.stderr
    assert result.stdout == ""


def test_bad_input_is_reported_locally_before_any_request(served, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: Sideways}\n")
    result = run("evaluate", SHOP, bad, "--server", "http://planner.test")
    assert result.exit_code == 2
    assert f"{bad}:4: spec.type" in result.stderr
    assert served == []


@pytest.fixture
def live_service(tmp_path):
    """``planner serve`` on a free loopback port with a fresh SQLite database."""
    import sys
    from pathlib import Path

    from tests.support.processes import environment_without_planner_settings, logged_process, wait_for_ok

    port = free_port()
    env = environment_without_planner_settings()
    env["PLANNER_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'server.db'}"
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "planner", "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)]
    with logged_process(command, cwd=Path(__file__).parents[2], env=env, log_path=log) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_ok(process, f"{url}/ready", seconds=60, output=log.read_text)
        yield url
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("fmt", ["json", "table", "sarif"])
def test_real_service_gives_the_offline_output(live_service, fmt):
    # The same inputs evaluated in-process and by a running service (POST /v1/evaluate): identical output and
    # the same exit code (the strict profile fails a requirement: exit 1).
    offline = run("evaluate", *SHOP_FILES, STRICT, "--format", fmt)
    remote = run("evaluate", *SHOP_FILES, STRICT, "--format", fmt, "--server", live_service)
    assert offline.exit_code == remote.exit_code == 1
    assert remote.output == offline.output


def test_recommend_on_a_real_service_writes_the_offline_manifests(live_service, tmp_path):
    # The same inputs placed in-process and by the service (POST /v1/recommend, deterministic solver with the
    # same seed): the same summary line, the same manifests and the same diff.
    offline = run("recommend", *SHOP_FILES, "-o", tmp_path / "offline", "--time-limit", "1")
    remote = run("recommend", *SHOP_FILES, "-o", tmp_path / "remote", "--time-limit", "1", "--server", live_service)
    assert remote.exit_code == offline.exit_code
    assert remote.output.replace("remote", "offline") == offline.output
    written = sorted(p.name for p in (tmp_path / "offline").iterdir())
    assert "changes.diff" in written
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == written
    for name in written:
        if name.endswith((".yaml", ".diff")):
            assert (tmp_path / "remote" / name).read_text() == (tmp_path / "offline" / name).read_text(), name
