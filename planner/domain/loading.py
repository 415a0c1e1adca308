"""Reading JSON and (multi-document) YAML text into raw objects, with source lines for error reports.

Every loaded document remembers where it came from: its start line and the line of each field, keyed by field
path in Kubernetes notation (``spec.ports[0].nodePort``), so that a validation error can point to ``file:line``.
Duplicate keys in a mapping are an error (YAML allows parsers to keep either value; Kubernetes' strict decoding
rejects them).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from planner.domain.errors import FieldError, InvalidDocument


class LoadedObject(msgspec.Struct, frozen=True, kw_only=True):
    """One top-level object from the input, with where it came from."""

    raw: dict[str, Any]
    source: str
    index: int
    """Position of the document in a multi-document stream (0-based)."""
    line: int
    """1-based line where the document starts."""
    lines: dict[str, int] = msgspec.field(default_factory=dict)
    """1-based line of each field path in the document (``""`` is the document itself)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that keeps timestamps as text (raw manifests stay JSON-compatible)."""


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def child_path(path: str, key: str) -> str:
    """Kubernetes field-path notation: ``spec.ports`` for plain keys, ``metadata.labels[example.com/x]`` otherwise."""
    if not _PLAIN_KEY.match(key):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


_child = child_path


def _index_lines(node: Node, path: str, lines: dict[str, int], errors: list[FieldError], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = str(key_node.value)
            if key == "<<":  # merge key: its fields are indexed where they are written
                continue
            line = key_node.start_mark.line + 1
            child = _child(path, key)
            if key in seen:
                errors.append(
                    FieldError(
                        field=child,
                        type="Duplicate",
                        message=f"duplicate key {key!r} (first at line {seen[key]})",
                        value=key,
                        source=source,
                        line=line,
                    )
                )
                continue
            seen[key] = line
            lines[child] = line
            _index_lines(value_node, child, lines, errors, source)
    elif isinstance(node, SequenceNode):
        for position, item in enumerate(node.value):
            child = f"{path}[{position}]"
            lines[child] = item.start_mark.line + 1
            _index_lines(item, child, lines, errors, source)


def _non_string_key(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return _child(path, str(key))
            found = _non_string_key(item, _child(path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for position, item in enumerate(value):
            found = _non_string_key(item, f"{path}[{position}]")
            if found is not None:
                return found
    return None


def _malformed(source: str, exc: Exception) -> InvalidDocument:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return InvalidDocument(
        [
            FieldError(
                field="", type="Invalid", message=f"malformed YAML or JSON{where}: {problem}", source=source, line=line
            )
        ],
        summary=f"{source} is not valid YAML or JSON",
    )


def _load_yaml(text: str, source: str) -> list[LoadedObject]:
    loader = _Loader(text)
    objects: list[LoadedObject] = []
    errors: list[FieldError] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node() guarantees a node
                break
            data = loader.construct_document(node)
            start = node.start_mark.line + 1
            if data is None:
                index += 1
                continue
            if not isinstance(data, dict):
                errors.append(
                    FieldError(
                        field="",
                        type="TypeInvalid",
                        message=f"document {index} must be a mapping, not {type(data).__name__}",
                        source=source,
                        line=start,
                    )
                )
                index += 1
                continue
            lines: dict[str, int] = {}
            _index_lines(node, "", lines, errors, source)
            bad_key = _non_string_key(data, "")
            if bad_key is not None:
                errors.append(
                    FieldError(
                        field=bad_key,
                        type="TypeInvalid",
                        message="mapping keys must be strings",
                        source=source,
                        line=lines.get(bad_key, start),
                    )
                )
            objects.append(LoadedObject(raw=data, source=source, index=index, line=start, lines=lines))
            index += 1
    finally:
        loader.dispose()
    if errors:
        raise InvalidDocument(errors, summary=f"{source} is invalid")
    return objects


def load_objects(text: str | bytes, source: str = "<input>") -> list[LoadedObject]:
    """Parse JSON or multi-document YAML; every document must be a mapping.

    Raises:
        InvalidDocument: malformed text, a document that is not a mapping, or a duplicate key; each error carries
            ``source`` and ``line``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return _load_yaml(text, source)
    except yaml.YAMLError as exc:
        # JSON that YAML 1.1 rejects (e.g. tab indentation) is still accepted, without per-field lines.
        if text.lstrip().startswith(("{", "[")):
            try:
                data = msgspec.json.decode(text)
            except msgspec.DecodeError:
                raise _malformed(source, exc) from exc
            if isinstance(data, dict):
                return [LoadedObject(raw=data, source=source, index=0, line=1, lines={"": 1})]
        raise _malformed(source, exc) from exc


_SEGMENT = re.compile(r"\[[^\[\]]*\]$")


def line_of(obj: LoadedObject, field_path: str) -> int:
    """Line of ``field_path`` in ``obj``'s source; the nearest enclosing field that exists when it is absent.

    A Required error for a missing field points at its parent; an error inside a ``spec.service`` manifest points
    at the offending field of that manifest.
    """
    path = field_path
    while path:
        if path in obj.lines:
            return obj.lines[path]
        path = _SEGMENT.sub("", path) if _SEGMENT.search(path) else path.rpartition(".")[0]
    return obj.lines.get("", obj.line)


def locate(errors: list[FieldError], obj: LoadedObject, prefix: str = "") -> list[FieldError]:
    """Attach ``obj``'s source and the line of each error's field (``prefix`` is removed before the look-up)."""
    located: list[FieldError] = []
    for error in errors:
        path = error.field
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :].lstrip(".")
        located.append(
            msgspec.structs.replace(error, source=error.source or obj.source, line=error.line or line_of(obj, path))
        )
    return located


__all__ = ["LoadedObject", "child_path", "line_of", "load_objects", "locate"]
