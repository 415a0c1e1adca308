"""Pure, vectorised traffic evaluation. Imports only ``planner.domain`` (never litestar, SQLAlchemy or ortools)."""
