"""Request bodies: JSON or YAML by ``Content-Type``, decoded strictly into a msgspec type with field-path errors."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import msgspec
import yaml

from planner.api.problems import ApiProblem, FieldProblem, field_problem_from_msgspec

T = TypeVar("T")

JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
ACCEPTED_TYPES = ("application/json", "application/yaml")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML 1.1 loader that keeps timestamps as strings (as Kubernetes' YAML-to-JSON conversion does)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def media_kind(content_type: str | None) -> str:
    """``json`` or ``yaml``; a missing type is read as YAML (which accepts JSON too).

    Raises:
        ApiProblem: 415 for any other media type.
    """
    if not content_type:
        return "yaml"
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence in JSON_TYPES or (essence.startswith("application/") and essence.endswith("+json")):
        return "json"
    if essence in YAML_TYPES or essence.endswith("+yaml"):
        return "yaml"
    msg = f"unsupported media type {essence!r}; send application/json or application/yaml"
    raise ApiProblem(415, msg, problem="unsupported-media-type")


def _malformed(message: str) -> ApiProblem:
    return ApiProblem(
        400, message, problem="malformed-body", errors=[FieldProblem(field="", type="Invalid", message=message)]
    )


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


DEFAULT_EXPANSION_BUDGET = 1_000_000
"""Most values a decoded body may hold once YAML aliases are expanded, unless the caller sizes it to the body."""


def check_plain_data(raw: Any, budget: int = DEFAULT_EXPANSION_BUDGET) -> None:
    """Reject what JSON storage cannot hold faithfully: non-finite numbers, recursive YAML aliases, and aliases
    that expand to more than ``budget`` values (a "billion laughs" body).

    Raises:
        ApiProblem: 422 with the field path of the offending value.
    """
    active: set[int] = set()
    parts: list[str | int] = []
    remaining = budget

    def reject(message: str, value: Any = None) -> ApiProblem:
        error = FieldProblem(field=_path(parts), type="Invalid", message=message, value=value)
        return ApiProblem(422, message, problem="invalid-body", errors=[error])

    def walk(node: Any) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining < 0:
            msg = "the body expands to too many values (YAML aliases)"
            raise reject(msg)
        if isinstance(node, dict | list):
            if id(node) in active:
                msg = "recursive YAML alias"
                raise reject(msg)
            active.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                parts.append(key if isinstance(node, list) else str(key))
                walk(value)
                parts.pop()
            active.discard(id(node))
        elif isinstance(node, float) and not math.isfinite(node):
            msg = "numbers must be finite"
            raise reject(msg, str(node))

    try:
        walk(raw)
    except RecursionError as exc:
        msg = "the body is nested too deeply"
        raise ApiProblem(422, msg, problem="invalid-body") from exc


def parse_raw(body: bytes, kind: str) -> list[Any]:
    """Decode every document in ``body`` (JSON: exactly one; YAML: one or more, empty ones skipped).

    Raises:
        ApiProblem: 400 for malformed text.
    """
    if kind == "json":
        try:
            docs = [msgspec.json.decode(body)]
        except msgspec.DecodeError as exc:
            msg = f"malformed JSON: {exc}"
            raise _malformed(msg) from exc
    else:
        try:
            docs = [d for d in yaml.load_all(body, Loader=_Loader) if d is not None]
        except yaml.YAMLError as exc:
            msg = f"malformed YAML: {exc}"
            raise _malformed(msg) from exc
        except (ValueError, RecursionError) as exc:
            msg = f"malformed YAML: {exc}"
            raise _malformed(msg) from exc
    # YAML aliases may share values; allow the expanded data to be a bounded multiple of the text size
    budget = max(100_000, 4 * len(body))
    for doc in docs:
        check_plain_data(doc, budget)
    return docs


def decode_one(body: bytes, content_type: str | None, type_: type[T]) -> tuple[T, dict[str, Any]]:
    """Decode a body holding exactly one object into ``type_``; return it with the raw mapping.

    Raises:
        ApiProblem: 415 unsupported type, 400 malformed text or not exactly one object, 422 schema violation.
    """
    docs = parse_raw(body, media_kind(content_type))
    if len(docs) != 1:
        msg = f"expected exactly one document in the body, found {len(docs)}"
        raise _malformed(msg)
    raw = docs[0]
    if not isinstance(raw, dict):
        msg = f"the body must be an object, not {type(raw).__name__}"
        raise _malformed(msg)
    return convert(raw, type_), raw


def convert(raw: dict[str, Any], type_: type[T]) -> T:
    """Strictly convert decoded data into ``type_``. Raises ApiProblem 422 with the field path."""
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as exc:
        problem = field_problem_from_msgspec(exc, raw)
        detail = f"{problem.field}: {problem.message}" if problem.field else problem.message
        raise ApiProblem(422, detail, problem="invalid-body", errors=[problem]) from exc
