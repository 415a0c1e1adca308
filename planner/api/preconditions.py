"""Entity tags and the ``If-Match`` / ``If-None-Match`` preconditions (RFC 9110 section 13.1).

The ETag of a document is its revision as a strong entity tag (``"3"``). Revisions are never reused for a name,
not even after delete and re-create, so an ETag never matches a different content. Weak tags never match,
as ``If-Match`` requires strong comparison.
"""

from __future__ import annotations

import re

from planner.api.problems import ApiProblem, FieldProblem
from planner.db.documents import ANY, Precondition

_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e]*)"[ \t]*(?:,|$)')


def etag(revision: int) -> str:
    return f'"{revision}"'


def _bad_header(name: str, value: str) -> ApiProblem:
    message = 'expected * or a list of entity tags such as "3"'
    return ApiProblem(
        400,
        f"malformed {name} header",
        problem="invalid-header",
        errors=[FieldProblem(field=name, type="Invalid", message=message, value=value)],
    )


def parse_if_match(value: str | None) -> Precondition:
    """``*`` -> the document must exist; a list of tags -> it must be at one of those revisions."""
    if value is None:
        return ANY
    if value.strip() == "*":
        return Precondition(must_exist=True)
    revisions: set[int] = set()
    position = 0
    text = value.strip()
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None or match.end() == position:
            raise _bad_header("If-Match", value)
        weak, opaque = match.groups()
        if not weak and opaque.isdigit() and len(opaque) < 12:
            revisions.add(int(opaque))
        position = match.end()
    if not text:
        raise _bad_header("If-Match", value)
    return Precondition(revisions=frozenset(revisions))


def parse_if_none_match(value: str | None) -> Precondition:
    """Only ``*`` (create only) is supported on writes."""
    if value is None:
        return ANY
    if value.strip() != "*":
        raise _bad_header("If-None-Match", value)
    return Precondition(must_not_exist=True)


def combine(first: Precondition, second: Precondition) -> Precondition:
    """Both preconditions must hold."""
    if first.revisions is None:
        revisions = second.revisions
    elif second.revisions is None:
        revisions = first.revisions
    else:
        revisions = first.revisions & second.revisions
    return Precondition(
        revisions=revisions,
        must_exist=first.must_exist or second.must_exist,
        must_not_exist=first.must_not_exist or second.must_not_exist,
    )
