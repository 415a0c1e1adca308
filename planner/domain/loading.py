"""Reading JSON and (multi-document) YAML text into raw objects, with source lines for error reports."""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

from planner.domain.errors import FieldError, InvalidDocument


class LoadedObject(msgspec.Struct, frozen=True, kw_only=True):
    """One top-level object from the input, with where it came from."""

    raw: dict[str, Any]
    source: str
    index: int
    """Position of the document in a multi-document stream (0-based)."""
    line: int
    """1-based line where the document starts."""


def load_objects(text: str | bytes, source: str = "<input>") -> list[LoadedObject]:
    """Parse JSON or multi-document YAML; every document must be a mapping.

    Raises:
        InvalidDocument: malformed text or a document that is not a mapping (field path and line in the message).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidDocument(
            [FieldError(field="", type="Invalid", message=f"malformed YAML or JSON{where}: {exc}")],
            summary=f"{source} is not valid YAML or JSON",
        ) from exc
    objects: list[LoadedObject] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidDocument(
                [FieldError(field="", type="TypeInvalid", message=f"document {index} must be a mapping")],
                summary=f"{source} is invalid",
            )
        objects.append(LoadedObject(raw=doc, source=source, index=index, line=1))
    return objects
