"""Where 202 jobs run: procrastinate workers on PostgreSQL, an in-process worker on SQLite."""
