"""Dependencies injected into handlers."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency

from planner.db.engine import Database

DatabaseDep = NamedDependency[Database]
"""The application's database (parameter name ``db``)."""


def provide_db(state: State) -> Database:
    database = state.db
    assert isinstance(database, Database)
    return database
