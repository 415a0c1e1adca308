"""Builders for field errors worded as the Kubernetes API server words them, and typed-view conversion.

The ``type`` values mirror ``k8s.io/apimachinery/pkg/util/validation/field`` error types (Required, Invalid,
Forbidden, NotSupported, Duplicate, NotFound), plus ``TypeInvalid`` for a value of the wrong JSON type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from planner.domain.errors import FieldError, InvalidDocument

T = TypeVar("T")


def join(prefix: str, path: str) -> str:
    """``join("spec.service", "spec.type")`` -> ``"spec.service.spec.type"``; index paths join without a dot."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field=field, type="Required", message=detail or "Required value")


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field=field, type="Invalid", message=detail, value=value)


def forbidden(field: str, detail: str, value: Any = None) -> FieldError:
    return FieldError(field=field, type="Forbidden", message=detail, value=value)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    listed = ", ".join(f'"{s}"' for s in supported)
    return FieldError(field=field, type="NotSupported", message=f"supported values: {listed}", value=value)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field=field, type="Duplicate", message="Duplicate value", value=value)


def not_found(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(field=field, type="NotFound", message=detail or "Not found", value=value)


def prefixed(errors: Iterable[FieldError], prefix: str) -> list[FieldError]:
    """The same errors with ``prefix`` put in front of each field path."""
    return [msgspec.structs.replace(e, field=join(prefix, e.field)) for e in errors]


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def type_error(exc: msgspec.ValidationError, prefix: str) -> FieldError:
    """Turn a msgspec conversion error into a TypeInvalid field error at the offending path."""
    text = str(exc)
    match = _MSGSPEC_PATH.search(text)
    path = ""
    message = text
    if match is not None:
        message = text[: match.start()]
        path = match.group("path").replace("[...]", "")
        path = path.removeprefix(".")
    return FieldError(field=join(prefix, path), type="TypeInvalid", message=message)


def convert_view(raw: Any, kind: type[T], prefix: str = "") -> T:
    """Convert a raw manifest into a typed view; a wrong type raises InvalidDocument with the field path.

    Conversion is strict (``"80"`` is not a port number), as the API server's JSON decoding is.
    """
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidDocument([type_error(exc, prefix)]) from exc


__all__ = [
    "convert_view",
    "duplicate",
    "forbidden",
    "invalid",
    "join",
    "not_found",
    "not_supported",
    "prefixed",
    "required",
    "type_error",
]
