"""Kubernetes quantities -> exact integers (k8s.io/apimachinery/pkg/api/resource quantity.go)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.quantity import (
    QuantityError,
    byte_count,
    count,
    format_bytes,
    format_millicores,
    millicores,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", 500),
        ("0.1", 100),  # 0.1 core = 100 m
        ("1", 1000),
        ("1e3", 1_000_000),  # 1e3 cores = 1000 cores = 1_000_000 m
        ("3920m", 3920),
        ("2.5", 2500),
        ("100u", 1),  # 0.0001 core rounds up to the smallest unit, 1 m (API server rounds up)
        (4, 4000),
    ],
)
def test_cpu_in_millicores(text, expected):
    assert millicores(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15Gi", 15 * 2**30),
        ("1Ki", 1024),
        ("256Mi", 256 * 2**20),
        ("15147852Ki", 15147852 * 1024),
        ("1G", 10**9),
        ("1e3", 1000),
        ("128974848", 128974848),
    ],
)
def test_memory_in_bytes(text, expected):
    assert byte_count(text) == expected


def test_pod_count():
    assert count("110") == 110


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "5 Gi", "Gi", "1Zi", "--1", "1e"])
def test_malformed_quantity_is_a_quantity_error(text):
    with pytest.raises(QuantityError):
        millicores(text)


def test_negative_capacity_is_rejected():
    with pytest.raises(QuantityError, match="greater than or equal to 0"):
        byte_count("-1Gi")


def test_booleans_are_not_quantities():
    with pytest.raises(QuantityError):
        parse_quantity(True)


@pytest.mark.parametrize(("value", "text"), [(1500, "1500m"), (2000, "2"), (0, "0"), (250, "250m")])
def test_format_millicores(value, text):
    assert format_millicores(value) == text


@pytest.mark.parametrize(("value", "text"), [(2**30, "1Gi"), (1536 * 2**20, "1536Mi"), (1000, "1000"), (0, "0")])
def test_format_bytes(value, text):
    assert format_bytes(value) == text


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**12))
def test_millicores_round_trip(value):
    assert millicores(format_millicores(value)) == value


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=2**62))
def test_bytes_round_trip(value):
    assert byte_count(format_bytes(value)) == value
