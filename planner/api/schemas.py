"""Wire shapes of the REST API: the stored documents with server-managed metadata, lists and history.

The ``spec`` of each document is the domain type itself; only ``metadata`` differs from the domain document:
``name`` and ``namespace`` may be left out of a request body (they come from the URL), and the read-only fields
``uid``, ``revision``, ``creationTimestamp`` and ``updateTimestamp`` are filled in responses. A body may send
``revision`` back: it is then a precondition, like ``If-Match``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from planner.domain.base import Schema
from planner.domain.documents import ApiVersion, ClusterSpec, LabelMap, ScenarioSpec, ServicePlanSpec
from planner.domain.types import DnsLabel

UID_PATTERN = r"^[0-9A-Za-z-]+$"
"""Result and job ids (UUIDs): anything else cannot name a record and is refused as malformed (400)."""


class ObjectMetadata(Schema):
    name: DnsLabel | None = None
    """Filled from the URL when left out; must equal it when given."""
    namespace: DnsLabel | None = None
    """Filled from the URL when left out; must equal it when given."""
    labels: LabelMap = msgspec.field(default_factory=dict)
    annotations: LabelMap = msgspec.field(default_factory=dict)
    uid: str | None = None
    """Read-only: identifies this incarnation of the name (a new uid after delete and re-create)."""
    revision: int | None = None
    """Read-only: the revision of this content. Sent in a request body, it must equal the stored revision."""
    creation_timestamp: datetime | None = None
    """Read-only: when the document was created."""
    update_timestamp: datetime | None = None
    """Read-only: when this revision was written."""


class ClusterResource(Schema, kw_only=True, tag="Cluster", tag_field="kind"):
    api_version: ApiVersion
    metadata: ObjectMetadata = msgspec.field(default_factory=ObjectMetadata)
    spec: ClusterSpec


class ServicePlanResource(Schema, kw_only=True, tag="ServicePlan", tag_field="kind"):
    api_version: ApiVersion
    metadata: ObjectMetadata = msgspec.field(default_factory=ObjectMetadata)
    spec: ServicePlanSpec


class ScenarioResource(Schema, kw_only=True, tag="Scenario", tag_field="kind"):
    api_version: ApiVersion
    metadata: ObjectMetadata = msgspec.field(default_factory=ObjectMetadata)
    spec: ScenarioSpec


Resource = ClusterResource | ServicePlanResource | ScenarioResource


class ListMetadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    continue_: str | None = msgspec.field(default=None, name="continue")
    """Pass as ``continue`` to get the next page; absent on the last page."""


class ClusterList(msgspec.Struct, kw_only=True, tag="ClusterList", tag_field="kind", rename="camel"):
    api_version: ApiVersion
    metadata: ListMetadata
    items: list[ClusterResource]


class ServicePlanList(msgspec.Struct, kw_only=True, tag="ServicePlanList", tag_field="kind", rename="camel"):
    api_version: ApiVersion
    metadata: ListMetadata
    items: list[ServicePlanResource]


class ScenarioList(msgspec.Struct, kw_only=True, tag="ScenarioList", tag_field="kind", rename="camel"):
    api_version: ApiVersion
    metadata: ListMetadata
    items: list[ScenarioResource]


class RevisionSummary(msgspec.Struct, kw_only=True, rename="camel"):
    revision: int
    content_hash: str
    """SHA-256 of the canonical JSON of the stored content."""
    creation_timestamp: datetime


class RevisionList(msgspec.Struct, kw_only=True, tag="RevisionList", tag_field="kind", rename="camel"):
    api_version: ApiVersion
    document_kind: Literal["Cluster", "ServicePlan", "Scenario"]
    namespace: str
    name: str
    items: list[RevisionSummary]


class HealthStatus(msgspec.Struct, kw_only=True):
    status: Literal["ok", "ready"]
