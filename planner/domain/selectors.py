"""Kubernetes label selectors: matching, and the ``labelSelector`` query syntax (``app=web,tier in (a,b),!canary``).

Semantics follow ``k8s.io/apimachinery/pkg/labels`` (``selector.go``) and ``metav1.LabelSelectorAsSelector``:
requirements are ANDed; ``!=`` and ``notin`` also match objects that lack the key; an empty selector matches
everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from planner.domain.k8s import LabelSelector

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Equals", "NotEquals"]

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    """The selector text or structure is not a valid Kubernetes label selector."""


class Requirement(msgspec.Struct, frozen=True):
    """One ANDed term of a selector."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement."""
        present = self.key in labels
        if self.operator in ("In", "Equals"):
            return present and labels[self.key] in self.values
        if self.operator in ("NotIn", "NotEquals"):
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present

    def __str__(self) -> str:
        if self.operator == "Equals":
            return f"{self.key}={self.values[0]}"
        if self.operator == "NotEquals":
            return f"{self.key}!={self.values[0]}"
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        word = "in" if self.operator == "In" else "notin"
        return f"{self.key} {word} ({','.join(self.values)})"


class Selector(msgspec.Struct, frozen=True):
    """A conjunction of requirements. The empty selector matches every label set."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether every requirement holds for ``labels``."""
        given = labels or {}
        return all(r.matches(given) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid label key (``[prefix/]name``), or ``None`` when it is."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (max 63 characters)"
        )
    return None


def label_value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or ``None`` when it is."""
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (max 63 characters)"
        )
    return None


def _requirement(key: str, operator: Operator, values: Sequence[str]) -> Requirement:
    if (error := label_key_error(key)) is not None:
        msg = f"invalid label key {key!r}: {error}"
        raise SelectorError(msg)
    if operator in ("In", "NotIn") and not values:
        msg = f"for 'in', 'notin' operators, values set can't be empty (key {key!r})"
        raise SelectorError(msg)
    if operator in ("Equals", "NotEquals") and len(values) != 1:
        msg = f"exact-match compatibility requires one single value (key {key!r})"
        raise SelectorError(msg)
    if operator in ("Exists", "DoesNotExist") and values:
        msg = f"values set must be empty for exists and does not exist (key {key!r})"
        raise SelectorError(msg)
    for value in values:
        if (error := label_value_error(value)) is not None:
            msg = f"invalid label value {value!r}: {error}"
            raise SelectorError(msg)
    return Requirement(key=key, operator=operator, values=tuple(sorted(set(values))))


def selector_from_map(match_labels: Mapping[str, str] | None) -> Selector:
    """Selector of a Service (``spec.selector``) or of ``matchLabels``: every pair must match exactly."""
    if not match_labels:
        return Selector()
    return Selector(tuple(_requirement(k, "Equals", [v]) for k, v in sorted(match_labels.items())))


_OPERATORS: dict[str, Operator] = {"In": "In", "NotIn": "NotIn", "Exists": "Exists", "DoesNotExist": "DoesNotExist"}


def selector_from_label_selector(selector: LabelSelector | None) -> Selector:
    """Convert ``matchLabels`` + ``matchExpressions`` (``metav1.LabelSelectorAsSelector``).

    A ``None`` selector matches everything here; callers that need "nil selects nothing" check for ``None`` first.
    """
    if selector is None:
        return Selector()
    requirements = list(selector_from_map(selector.match_labels).requirements)
    for expression in selector.match_expressions or []:
        operator = _OPERATORS.get(expression.operator)
        if operator is None:
            msg = f"{expression.operator!r} is not a valid label selector operator"
            raise SelectorError(msg)
        requirements.append(_requirement(expression.key, operator, expression.values or []))
    return Selector(tuple(requirements))


_TOKEN = re.compile(r"\s*(!=|==|=|!|,|\(|\)|[^\s!=,()]+)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the pattern accepts every non-space character
            msg = f"unexpected character at position {position}"
            raise SelectorError(msg)
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def parse_selector(text: str) -> Selector:
    """Parse the ``labelSelector`` query syntax used by ``kubectl -l`` and the list endpoints.

    Accepts ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and ``!k``
    (does not exist), separated by commas. An empty string selects everything.

    Raises:
        SelectorError: the text is not a valid selector.
    """
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            msg = f"unexpected end of selector {text!r}"
            raise SelectorError(msg)
        i += 1
        return tokens[i - 1]

    def is_word(token: str) -> bool:
        return token not in {"!=", "==", "=", "!", ",", "(", ")"}

    while i < len(tokens):
        token = take()
        if token == "!":  # noqa: S105 - the negation operator, not a secret
            key = take()
            if not is_word(key):
                msg = f"expected a label key after '!', got {key!r}"
                raise SelectorError(msg)
            requirements.append(_requirement(key, "DoesNotExist", []))
        elif is_word(token):
            key = token
            if i >= len(tokens) or tokens[i] == ",":
                requirements.append(_requirement(key, "Exists", []))
            else:
                op = take()
                if op in ("=", "=="):
                    value = tokens[i] if i < len(tokens) and is_word(tokens[i]) else ""
                    i += 1 if value else 0
                    requirements.append(_requirement(key, "Equals", [value]))
                elif op == "!=":
                    value = tokens[i] if i < len(tokens) and is_word(tokens[i]) else ""
                    i += 1 if value else 0
                    requirements.append(_requirement(key, "NotEquals", [value]))
                elif op in ("in", "notin"):
                    if take() != "(":
                        msg = f"expected '(' after {op!r} in {text!r}"
                        raise SelectorError(msg)
                    values: list[str] = []
                    expect_value = True
                    while True:
                        item = take()
                        if item == ")":
                            if expect_value and values:
                                values.append("")
                            break
                        if item == ",":
                            if expect_value:
                                values.append("")
                            expect_value = True
                            continue
                        if not is_word(item) or not expect_value:
                            msg = f"unexpected {item!r} in value list of {key!r}"
                            raise SelectorError(msg)
                        values.append(item)
                        expect_value = False
                    requirements.append(_requirement(key, "In" if op == "in" else "NotIn", values))
                else:
                    msg = f"unknown operator {op!r} after {key!r}"
                    raise SelectorError(msg)
        else:
            msg = f"unexpected {token!r} in selector {text!r}"
            raise SelectorError(msg)
        if i < len(tokens):
            if tokens[i] != ",":
                msg = f"expected ',' but found {tokens[i]!r} in selector {text!r}"
                raise SelectorError(msg)
            i += 1
            if i == len(tokens):
                msg = f"selector {text!r} ends with ','"
                raise SelectorError(msg)
    return Selector(tuple(requirements))


def labels_match(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether a map selector (Service ``spec.selector``, ``nodeSelector``) matches ``labels`` exactly.

    An empty or ``None`` selector matches everything (the caller decides what "no selector" means for Services).
    """
    given = labels or {}
    return all(given.get(key) == value for key, value in (selector or {}).items())


__all__ = [
    "Requirement",
    "Selector",
    "SelectorError",
    "label_key_error",
    "label_value_error",
    "labels_match",
    "parse_selector",
    "selector_from_label_selector",
    "selector_from_map",
]
