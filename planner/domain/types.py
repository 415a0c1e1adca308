"""Constrained scalar types, defined once and reused by every document."""

from __future__ import annotations

from typing import Annotated

import msgspec

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

DnsLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
"""An RFC 1123 label: the name of a planner document or a namespace."""

NodeName = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
"""A Kubernetes node name (RFC 1123 subdomain)."""

ZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
"""Value of the ``topology.kubernetes.io/zone`` label."""

Quantity = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["500m", "4", "15Gi", "110"])]
"""A Kubernetes resource quantity as kubectl prints it."""

Rate = Annotated[float, msgspec.Meta(ge=0, le=1e12, description="New connections per second")]
Fraction01 = Annotated[float, msgspec.Meta(ge=0, le=1)]
PositiveRatio = Annotated[float, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=86400 * 365)]
Replicas = Annotated[int, msgspec.Meta(ge=0, le=150_000)]
PodCount = Annotated[int, msgspec.Meta(ge=0, le=150_000)]
