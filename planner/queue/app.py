"""The procrastinate application: a PsycopgConnector on the service's PostgreSQL database.

The queue's tables live in the PostgreSQL schema ``procrastinate`` (created by the migrations), so every queue
connection sets its ``search_path`` there.
"""

from __future__ import annotations

from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from planner.queue.runner import JOBS_QUEUE
from planner.queue.tasks import blueprint

__all__ = ["JOBS_QUEUE", "QUEUE_SCHEMA", "create_queue_app", "libpq_url"]

QUEUE_SCHEMA = "procrastinate"


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+asyncpg://...``) as a libpq connection URI."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        msg = f"the task queue needs PostgreSQL, not {url.get_backend_name()}"
        raise ValueError(msg)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_queue_app(database_url: str, **pool: Any) -> procrastinate.App:
    """A procrastinate App with the planner tasks; open it with ``async with app.open_async():``."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(database_url),
        kwargs={"options": f"-c search_path={QUEUE_SCHEMA}"},
        **pool,
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(blueprint, namespace="planner")
    return app
