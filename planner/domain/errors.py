"""Domain errors. They carry field paths and values; the API maps them to HTTP problem details."""

from __future__ import annotations

from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One violation: where, what was there, and the rule it broke (as the Kubernetes API server words it)."""

    field: str
    """Field path in Kubernetes notation, e.g. ``spec.sessionAffinityConfig.clientIP.timeoutSeconds``."""
    type: str
    """``FieldValueInvalid``-style reason: Invalid, Required, Forbidden, NotSupported, Duplicate, TypeInvalid."""
    message: str
    value: Any = None
    source: str | None = None
    """File or input name the offending document came from, when known (for editor and SARIF reports)."""
    line: int | None = None
    """1-based line of the offending field in ``source``, when known."""


class DomainError(Exception):
    """Base of every error the pure core raises."""


class InvalidDocument(DomainError):  # noqa: N818 - Kubernetes calls this "Invalid"
    """A document broke one or more rules; every violation is listed."""

    def __init__(self, errors: list[FieldError], summary: str = "document is invalid") -> None:
        self.errors = errors
        self.summary = summary
        super().__init__(f"{summary}: " + "; ".join(f"{e.field}: {e.message}" for e in errors))


class UnknownReference(DomainError):  # noqa: N818
    """A document names another document that does not exist."""

    def __init__(self, field: str, kind: str, name: str) -> None:
        self.field = field
        self.kind = kind
        self.name = name
        super().__init__(f"{field}: {kind} {name!r} not found")
