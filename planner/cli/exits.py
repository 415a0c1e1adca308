"""Exit codes a pipeline can rely on, and how each failure is printed."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import click

from planner.domain.errors import DomainError, InvalidDocument, UnknownReference

PASS = 0
"""Every evaluated Service meets its requirements."""
REQUIREMENTS_FAILED = 1
"""At least one Service fails a requirement (the failing numbers are in the output)."""
BAD_INPUT = 2
"""The input is invalid: each error is printed with its field path and file:line (also click's usage errors)."""
SERVICE_ERROR = 3
"""The service is unreachable or answered with an error, or an internal error happened."""

EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  pass: every Service meets its requirements\n"
    "  1  requirements failed\n"
    "  2  bad input (each error with its field path and file:line)\n"
    "  3  service unreachable or internal error"
)


def use_color(stream: IO[str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    target = stream if stream is not None else sys.stdout
    isatty: Callable[[], bool] | None = getattr(target, "isatty", None)
    return bool(isatty and isatty())


def format_error(error_field: str, message: str, source: str | None, line: int | None, value: object = None) -> str:
    """``file:line: field.path: message (value: ...)``, leaving out the parts that are unknown."""
    where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
    field = f"{error_field}: " if error_field else ""
    shown = f" (value: {value!r})" if value is not None and not isinstance(value, (dict, list)) else ""
    return f"{where}{field}{message}{shown}"


def print_invalid(exc: InvalidDocument) -> None:
    click.echo(f"error: {exc.summary}", err=True)
    for e in exc.errors:
        click.echo("  " + format_error(e.field, e.message, e.source, e.line, e.value), err=True)


@contextmanager
def exit_codes() -> Iterator[None]:
    """Map domain errors to exit code 2 and anything unexpected to 3 (with a one-line message)."""
    try:
        yield
    except InvalidDocument as exc:
        print_invalid(exc)
        raise SystemExit(BAD_INPUT) from exc
    except (UnknownReference, DomainError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(BAD_INPUT) from exc
    except (SystemExit, click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
        raise
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(SERVICE_ERROR) from exc
    except Exception as exc:
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(SERVICE_ERROR) from exc


__all__ = [
    "BAD_INPUT",
    "EXIT_CODES_HELP",
    "PASS",
    "REQUIREMENTS_FAILED",
    "SERVICE_ERROR",
    "exit_codes",
    "format_error",
    "print_invalid",
    "use_color",
]
