"""API tokens: random secrets shown once, stored only as a SHA-256 digest, with a scope and namespaces.

Scopes are ordered: ``read`` < ``write`` < ``admin``; a token holds every permission of the scopes below its own.
A token's namespaces are names, or ``*`` for every namespace.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal, get_args

import msgspec

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
ALL_NAMESPACES = "*"
TOKEN_PREFIX = "tp_"  # noqa: S105 - a marker, not a secret
DISPLAY_CHARS = 10
"""How many leading characters of a token are kept in clear, to recognise it in ``planner token list``."""


def scope_allows(granted: Scope, needed: Scope) -> bool:
    """Whether a token of scope ``granted`` may do what needs ``needed``."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def new_secret() -> str:
    """A fresh token: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a token (hex SHA-256). The secret is high-entropy, so no salt or slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a token's id, name, scope and namespaces (``*`` = all)."""

    token_id: str
    name: str
    scope: Scope
    namespaces: frozenset[str]

    def may(self, needed: Scope) -> bool:
        return scope_allows(self.scope, needed)

    def sees(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces


ANONYMOUS = Principal(token_id="", name="anonymous", scope="admin", namespaces=frozenset({ALL_NAMESPACES}))
"""The caller when authentication is disabled: everything is allowed."""
