"""Kubernetes resource quantities ("500m", "2Gi", "1e3") parsed into exact integers.

Follows ``k8s.io/apimachinery/pkg/api/resource`` quantity syntax: a signed decimal number, then an optional
binary suffix (Ki Mi Gi Ti Pi Ei), decimal suffix (n u m "" k M G T P E) or decimal exponent (e3, E-2).
Fractions are rounded up, as the API server rounds a quantity to its smallest representable unit.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


def parse_quantity(text: str | int | float) -> Fraction:
    """Return the exact value of a quantity.

    >>> parse_quantity("500m")
    Fraction(1, 2)
    """
    if isinstance(text, bool):
        msg = f"quantity must be a string or number, not {text!r}"
        raise QuantityError(msg)
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            msg = f"quantity must be finite, not {text!r}"
            raise QuantityError(msg)
        return Fraction(str(text))
    return _parse_text(text if isinstance(text, str) else repr(text))


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction:
    """:func:`parse_quantity` of a string (memoised: clusters repeat the same few quantities)."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        msg = (
            f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {text!r}"
        )
        raise QuantityError(msg)
    number, exponent, suffix = match.groups()
    value = Fraction(number)
    if exponent is not None:
        return value * Fraction(10) ** int(exponent[1:])
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    return value * _DECIMAL[suffix or ""]


def _nonnegative(value: Fraction, text: object) -> Fraction:
    if value < 0:
        msg = f"must be greater than or equal to 0, got {text!r}"
        raise QuantityError(msg)
    return value


def millicores(text: str | int | float) -> int:
    """CPU quantity in millicores, rounded up (``"0.1"`` -> 100, ``"1"`` -> 1000)."""
    if isinstance(text, str):
        return _millicores_text(text)
    return math.ceil(_nonnegative(parse_quantity(text), text) * 1000)


@functools.lru_cache(maxsize=4096)
def _millicores_text(text: str) -> int:
    return math.ceil(_nonnegative(_parse_text(text), text) * 1000)


def byte_count(text: str | int | float) -> int:
    """Memory or storage quantity in bytes, rounded up (``"1Gi"`` -> 1073741824)."""
    if isinstance(text, str):
        return _byte_count_text(text)
    return math.ceil(_nonnegative(parse_quantity(text), text))


@functools.lru_cache(maxsize=4096)
def _byte_count_text(text: str) -> int:
    return math.ceil(_nonnegative(_parse_text(text), text))


def count(text: str | int | float) -> int:
    """A plain count such as allocatable ``pods`` (``"110"`` -> 110), rounded up."""
    if isinstance(text, str):
        return _byte_count_text(text)
    return math.ceil(_nonnegative(parse_quantity(text), text))


def format_millicores(value: int) -> str:
    """Format millicores the way kubectl prints CPU (``1500`` -> ``"1500m"``, ``2000`` -> ``"2"``)."""
    return str(value // 1000) if value % 1000 == 0 else f"{value}m"


def format_bytes(value: int) -> str:
    """Format bytes with the largest exact binary suffix (``1073741824`` -> ``"1Gi"``)."""
    for suffix, factor in reversed(_BINARY.items()):
        if value and value % factor == 0:
            return f"{value // factor}{suffix}"
    return str(value)
