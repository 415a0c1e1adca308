"""The OpenAPI document as committed in ``openapi/openapi.json``."""

from __future__ import annotations

import msgspec

from planner.api.app import create_app
from planner.config import Settings


def openapi_json() -> str:
    """The schema of the app, pretty-printed with sorted keys and a trailing newline (stable for diffs)."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    schema = app.openapi_schema.to_schema()
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2).decode() + "\n"
