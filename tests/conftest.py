"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and an API client on it.

Every test that uses ``database_url``, ``db`` or ``client`` runs twice: on an SQLite file and on a PostgreSQL
database created for this test session on 127.0.0.1:5432 (user postgres). A PostgreSQL that cannot be reached
fails those tests; it never skips them. ``PLANNER_TEST_POSTGRES_URL`` points at another server.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete

from planner.api.app import create_app
from planner.config import Settings
from planner.db.base import metadata
from planner.db.engine import Database
from planner.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get("PLANNER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def in_thread(function: Callable[[], Any]) -> None:
    """Run ``function`` in a fresh thread (Alembic's env.py runs its own event loop) and re-raise its error."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            function()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


class PostgresDatabases:
    """Creates throw-away databases on the test server and drops them at the end of the session."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"planner_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(POSTGRES_ADMIN_URL)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases) -> dict[str, str]:
    """One migrated database per backend for the whole session (tests empty the tables, see ``database_url``)."""
    urls: dict[str, str] = {}

    def sqlite() -> str:
        path: Path = tmp_path_factory.mktemp("sqlite") / "planner.db"
        return f"sqlite+aiosqlite:///{path}"

    urls["sqlite"] = sqlite()
    try:
        urls["postgresql"] = postgres_databases.create()
    except psycopg.OperationalError:
        urls["postgresql"] = ""
    for url in urls.values():
        if url:
            in_thread(lambda url=url: upgrade(url))
    return urls


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, migrated_urls: dict[str, str]) -> str:
    """URL of an empty, migrated database; parametrized over SQLite and PostgreSQL."""
    url = migrated_urls[request.param]
    if not url:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}; database tests need it")
    database = Database.from_url(url)
    try:
        async with database.write() as session:
            for table in reversed(metadata.sorted_tables):
                await session.execute(delete(table))
    finally:
        await database.dispose()
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_body_bytes=1024 * 1024)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client
