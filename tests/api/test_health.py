"""Probes and the commands that serve the API."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, inspect

from planner.api.app import create_app
from planner.cli.main import main
from planner.config import Settings, normalize_database_url, settings_from_env
from tests.api.test_openapi import COMMITTED


async def test_health_and_ready(client):
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_ready_is_503_when_the_database_is_unreachable():
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nothing"
    async with AsyncTestClient(app=create_app(Settings(database_url=url))) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["type"] == "urn:trafficplanner:problem:database-unavailable"
        # a request that needs the database gets a 503 problem too, not a 500
        listing = await client.get("/v1/clusters")
        assert listing.status_code == 503
        assert listing.headers["content-type"] == "application/problem+json"


def test_settings_from_environment(tmp_path):
    default = settings_from_env({})
    assert default.database_url.startswith("sqlite+aiosqlite:///")
    assert default.database_url.endswith("/var/planner.db")
    assert default.max_body_bytes == 32 * 1024 * 1024
    custom = settings_from_env(
        {"PLANNER_DATABASE_URL": "postgresql://u@db:5432/planner", "PLANNER_MAX_BODY_BYTES": "1000"}
    )
    assert custom.database_url == "postgresql+asyncpg://u@db:5432/planner"
    assert custom.max_body_bytes == 1000
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_database_url("postgresql+psycopg://h/d") == "postgresql+psycopg://h/d"


def test_cli_db_upgrade_and_openapi(tmp_path, monkeypatch):
    database = tmp_path / "nested" / "planner.db"
    monkeypatch.setenv("PLANNER_DATABASE_URL", f"sqlite:///{database}")
    from planner.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    engine = create_engine(f"sqlite:///{database}")
    try:
        assert "documents" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads(COMMITTED.read_text())
