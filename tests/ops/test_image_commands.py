"""The container image's commands, run outside the image (CI has no container engine).

Each test reads the command from the Dockerfile itself: the one-shot migration command
(label ``io.trafficplanner.migrate-command``), ``CMD`` and the ``HEALTHCHECK`` command,
and runs it with the image's environment against a fresh database.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import (
    environment_without_planner_settings,
    free_port,
    http_status,
    logged_process,
    wait_for_ok,
)

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
IMAGE_VENV_BIN = "/app/.venv/bin"
POSTGRES_HOST = os.environ.get("PLANNER_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("PLANNER_TEST_POSTGRES_PORT", "5432"))
STARTUP_SECONDS = 60.0
STOP_SECONDS = 20.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind: an SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'planner.db'}"
        return
    name = f"planner_ops_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def image_env(runtime_stage, database_url):
    """The runtime stage's ENV, with the image's virtual environment mapped to this checkout's."""
    env = environment_without_planner_settings()
    env.update(runtime_stage.pairs("ENV"))
    assert env["PATH"] == f"{IMAGE_VENV_BIN}:${{PATH}}"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    env["PLANNER_DATABASE_URL"] = database_url
    return env


def migrate(runtime_stage, env) -> subprocess.CompletedProcess[str]:
    command = shlex.split(runtime_stage.pairs("LABEL")["io.trafficplanner.migrate-command"])
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def serve_command(runtime_stage, port: int) -> list[str]:
    """The image's CMD, bound to loopback and a free port instead of 0.0.0.0:8000."""
    command = runtime_stage.command()
    host_at = command.index("--host") + 1
    port_at = command.index("--port") + 1
    assert (command[host_at], command[port_at]) == ("0.0.0.0", "8000")
    command[host_at], command[port_at] = "127.0.0.1", str(port)
    return command


def healthcheck_command(runtime_stage, port: int) -> tuple[list[str], float]:
    """The HEALTHCHECK command aimed at ``port``, and its timeout in seconds."""
    options, command = runtime_stage.healthcheck()
    assert "127.0.0.1:8000/" in command[-1]
    command[-1] = command[-1].replace("127.0.0.1:8000/", f"127.0.0.1:{port}/")
    timeout = next(opt for opt in options.split() if opt.startswith("--timeout="))
    return command, float(timeout.removeprefix("--timeout=").removesuffix("s"))


def test_migration_command_is_repeatable(runtime_stage, image_env, database_url):
    first = migrate(runtime_stage, image_env)
    assert first.returncode == 0, first.stderr
    if database_url.startswith("sqlite"):
        assert Path(database_url.removeprefix("sqlite+aiosqlite:///")).is_file()
    # Every release runs the one-shot migration again; on an up-to-date database it is a no-op.
    second = migrate(runtime_stage, image_env)
    assert second.returncode == 0, second.stderr


def test_server_answers_health_checks_and_stops_cleanly_on_sigterm(runtime_stage, image_env, tmp_path):
    migrated = migrate(runtime_stage, image_env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log_path = tmp_path / "server.log"
    with logged_process(serve_command(runtime_stage, port), cwd=ROOT, env=image_env, log_path=log_path) as server:
        wait_for_ok(server, f"http://127.0.0.1:{port}/health", seconds=STARTUP_SECONDS, output=log_path.read_text)

        assert http_status(f"http://127.0.0.1:{port}/ready") == 200

        check, timeout = healthcheck_command(runtime_stage, port)
        assert check[0] == "python"  # resolved through the image's PATH: the virtual environment first
        healthy = subprocess.run(check, env=image_env, capture_output=True, text=True, timeout=timeout, check=False)
        assert healthy.returncode == 0, healthy.stderr

        down, _ = healthcheck_command(runtime_stage, free_port())
        unhealthy = subprocess.run(down, env=image_env, capture_output=True, text=True, timeout=timeout, check=False)
        assert unhealthy.returncode != 0  # the check does fail when nothing answers

        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=STOP_SECONDS)
    log = log_path.read_text()
    # A clean stop: the application's shutdown ran to completion, then uvicorn re-raises the
    # signal it caught so the process ends "terminated by SIGTERM" (uvicorn/server.py,
    # Server.capture_signals: `signal.raise_signal(captured_signal)`); exiting 0 is clean too.
    assert status in {0, -signal.SIGTERM}, log
    assert "Application shutdown complete." in log
    assert "Finished server process" in log
    assert "Traceback" not in log


def test_health_check_uses_only_the_standard_library(runtime_stage):
    # The runtime image has no curl or wget; the check must run on the bare interpreter.
    _, command = runtime_stage.healthcheck()
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import ast, sys; ast.parse(sys.argv[1])", command[-1]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        word.strip(" ,;")
        for statement in command[-1].split(";")
        if statement.strip().startswith("import ")
        for word in statement.strip().removeprefix("import ").split(",")
    }
    assert imported == {"sys", "urllib.request"}


def test_readme_serve_command_migrates_and_serves_the_ui(tmp_path):
    # The README's first command, `python3 dev serve`, on a fresh SQLite file: `dev` applies the
    # migrations, then replaces itself with the server, so the process it started is the server.
    db_file = tmp_path / "readme.db"
    env = environment_without_planner_settings()
    env["PLANNER_DATABASE_URL"] = f"sqlite:///{db_file}"
    port = free_port()
    log_path = tmp_path / "dev-serve.log"
    dev_serve = [sys.executable, str(ROOT / "dev"), "serve", "--port", str(port)]
    with logged_process(dev_serve, cwd=tmp_path, env=env, log_path=log_path) as server:
        wait_for_ok(server, f"http://127.0.0.1:{port}/health", seconds=STARTUP_SECONDS, output=log_path.read_text)
        assert http_status(f"http://127.0.0.1:{port}/ready") == 200
        assert http_status(f"http://127.0.0.1:{port}/schema") == 200
        assert db_file.is_file()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=STOP_SECONDS)
    log = log_path.read_text()
    assert "==> planner db upgrade" in log
    assert log.index("==> planner db upgrade") < log.index(f"Uvicorn running on http://127.0.0.1:{port}")
    assert "Application shutdown complete." in log
