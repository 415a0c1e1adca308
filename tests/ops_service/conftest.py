"""Fixtures with authentication on: an app client and tokens issued straight into the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from planner.api.app import create_app
from planner.config import Settings
from planner.db.engine import Database
from planner.db.tokens import create_token

Issue = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def auth_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_body_bytes=1024 * 1024, auth="required")


@pytest.fixture
async def auth_client(auth_settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(auth_settings)) as test_client:
        yield test_client


@pytest.fixture
def issue(db: Database) -> Issue:
    """``await issue("write", "team-a")`` -> the Authorization header of a new token."""

    async def make(scope: str, *namespaces: str, name: str = "test") -> dict[str, str]:
        issued = await create_token(db, name=name, scope=scope, namespaces=namespaces)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {issued.secret}"}

    return make
