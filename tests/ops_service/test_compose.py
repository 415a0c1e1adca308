"""compose.yaml: its structure (no container engine runs here), then the same topology as plain processes on the
local PostgreSQL: the migration job, two API replicas on loopback ports and one worker. A job submitted through
the first replica is run by the worker and read back, finished, through the second."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.cli.main import main as planner_cli
from tests.api.test_jobs_api import body as recommend_body
from tests.ops_service.queue_helpers import PLANNER, env_for, free_port, start, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APIS = ("api-1", "api-2")


def command_exists(words: list[str]) -> bool:
    """The command is a real ``planner`` command line: ``--help`` on it succeeds."""
    assert words[0] == "planner"
    result = CliRunner().invoke(planner_cli, [*(w for w in words[1:] if not w.startswith("-")), "--help"])
    return result.exit_code == 0


def test_services_and_startup_order():
    assert set(SERVICES) == {"postgres", "migrate", "api-1", "api-2", "worker"}
    assert SERVICES["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert SERVICES["migrate"]["command"] == ["planner", "db", "upgrade"]
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert SERVICES["migrate"].get("restart") == "no"
    for name in (*APIS, "worker"):
        assert SERVICES[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}, name
    assert SERVICES["worker"]["command"][:2] == ["planner", "worker"]
    assert SERVICES["worker"]["stop_signal"] == "SIGTERM"  # a running job finishes before the worker exits


def test_commands_are_real_cli_commands():
    for name in ("migrate", *APIS, "worker"):
        assert command_exists(SERVICES[name]["command"]), name


def test_replicas_listen_everywhere_with_auth_and_the_queue():
    ports = set()
    for name in APIS:
        service = SERVICES[name]
        command = service["command"]
        assert command[:2] == ["planner", "serve"]
        assert command[command.index("--host") + 1] == "0.0.0.0"
        env = service["environment"]
        # beyond loopback the service refuses to start without auth; the queue hands jobs to the worker
        assert env["PLANNER_AUTH"] == "required"
        assert env["PLANNER_QUEUE"] == "procrastinate"
        assert env["PLANNER_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["PLANNER_DATABASE_URL"]
        assert "/ready" in service["healthcheck"]["test"][-1]
        ports.update(service["ports"])
    assert len(ports) == 2
    for name in ("migrate", "worker"):
        assert (
            SERVICES[name]["environment"]["PLANNER_DATABASE_URL"]
            == SERVICES["api-1"]["environment"]["PLANNER_DATABASE_URL"]
        )


def test_the_replica_command_refuses_to_listen_everywhere_without_auth(tmp_path):
    env = env_for(f"sqlite:///{tmp_path / 'x.db'}")
    refused = subprocess.run(
        [PLANNER, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "refusing to listen on 0.0.0.0 with authentication disabled" in refused.stderr
    assert "PLANNER_AUTH=required" in refused.stderr


def _request(method: str, url: str, token: str, data: bytes | None = None) -> tuple[int, Message, dict]:
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_the_topology_as_processes(postgres_databases, tmp_path):
    url = postgres_databases.create()
    base_env = {k: v for k, v in SERVICES["api-1"]["environment"].items() if k != "PLANNER_DATABASE_URL"}
    env = env_for(url, **base_env)

    migrate = subprocess.run(
        [PLANNER, *SERVICES["migrate"]["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    created = subprocess.run(
        [PLANNER, "token", "create", "--name", "ci", "--scope", "write", "--namespace", "team-a"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("tp_")

    ports = [free_port(), free_port()]
    processes = []
    try:
        for name, port in zip(APIS, ports, strict=True):
            command = list(SERVICES[name]["command"])
            command[command.index("--host") + 1] = "127.0.0.1"
            command[command.index("--port") + 1] = str(port)
            processes.append(start(command[1:], env, tmp_path / f"{name}.log"))
        worker_command = [*SERVICES["worker"]["command"][1:], "--heartbeat", "1"]
        processes.append(start(worker_command, env, tmp_path / "worker.log"))
        for port in ports:
            wait_for(lambda port=port: _ready(port), 60, f"the replica on port {port}")

        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        status, headers, job = _request("POST", f"{first}/v1/recommend?async=true", token, recommend_body().encode())
        assert status == 202, job
        location = headers["Location"]

        def finished() -> dict | None:
            code, _, state = _request("GET", f"{second}{location}", token)
            assert code == 200, state
            return state if state["status"] in {"succeeded", "failed"} else None

        state = wait_for(finished, 60, "the worker to finish the job", 0.25)
        assert state["status"] == "succeeded", state
        assert state["solver"]["status"] in {"optimal", "feasible"}
        worker_log = (tmp_path / "worker.log").read_text()
        assert "planner:run_job" in worker_log  # run by the worker process, not by a replica
        # request IDs and JSON access lines from the replicas
        lines = [json.loads(line) for line in (tmp_path / "api-2.log").read_text().splitlines() if line.startswith("{")]
        assert any(line["route"] == "/v1/jobs/{uid}" and line["status"] == 200 for line in lines)
    finally:
        for process in processes:
            stop(process)
    for process in processes[:2]:
        assert process.returncode in {0, -15}
