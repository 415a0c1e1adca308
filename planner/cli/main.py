"""The ``planner`` command."""

from __future__ import annotations

from pathlib import Path

import click

from planner.allocator import tune_allocator
from planner.config import get_settings


@click.group()
@click.version_option(package_name="traffic-planner")
def main() -> None:
    """Traffic Planner: plan Kubernetes Service traffic policies and replica placement."""
    try:
        tune_allocator()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--migrate", is_flag=True, help="Apply database migrations before serving.")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback address with PLANNER_AUTH=disabled.")
def serve(host: str, port: int, migrate: bool, insecure: bool) -> None:
    """Serve the REST API (OpenAPI UI at /schema)."""
    import uvicorn  # noqa: PLC0415 - keep the CLI start fast

    from planner.auth.exposure import exposure_error  # noqa: PLC0415

    settings = get_settings()
    if refusal := exposure_error(host, auth=settings.auth, insecure=insecure or settings.insecure):
        raise click.UsageError(refusal)
    if migrate:
        from planner.db.migrate import upgrade  # noqa: PLC0415

        upgrade(get_settings().database_url)
    # planner.api.logging writes one JSON line per request instead of uvicorn's access log
    uvicorn.run("planner.api.app:create_app", factory=True, host=host, port=port, proxy_headers=False, access_log=False)


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations (PLANNER_DATABASE_URL, default ./var/planner.db)."""
    from planner.db.migrate import upgrade  # noqa: PLC0415

    upgrade(get_settings().database_url, revision)
    click.echo(f"database at {revision}")


@main.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def openapi(output: Path | None) -> None:
    """Print the OpenAPI document of the REST API (commit it as openapi/openapi.json)."""
    from planner.api.spec import openapi_json  # noqa: PLC0415

    text = openapi_json()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _register() -> None:
    from planner.cli.evaluate import evaluate  # noqa: PLC0415
    from planner.cli.importing import import_cluster  # noqa: PLC0415
    from planner.cli.recommend import recommend  # noqa: PLC0415

    main.add_command(evaluate)
    main.add_command(import_cluster)
    main.add_command(recommend)
    from planner.cli.tokens import token, worker  # noqa: PLC0415

    main.add_command(token)
    main.add_command(worker)


_register()
