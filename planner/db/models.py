"""Tables: stored documents with their revisions, labels and references; evaluation results; solver jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from planner.db.base import Base, UTCDateTime


class DocumentRecord(Base):
    """The head of one named document: its latest revision. Deleted documents stay as tombstones so that
    revision numbers (and ETags) are never reused when a name is created again."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("namespace", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(63))
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DocumentRevisionRecord(Base):
    """One immutable revision of a document's content."""

    __tablename__ = "document_revisions"
    __table_args__ = (UniqueConstraint("document_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocumentLabelRecord(Base):
    """``metadata.labels`` of a live document's latest revision, for label-selector queries."""

    __tablename__ = "document_labels"
    __table_args__ = (Index(None, "key", "value"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(317), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))


class DocumentReferenceRecord(Base):
    """A reference from a live document's latest revision to another document in the same namespace."""

    __tablename__ = "document_references"
    __table_args__ = (Index(None, "namespace", "target_kind", "target_name"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(255), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(63))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_name: Mapped[str] = mapped_column(String(63))


class ResultRecord(Base):
    """A persisted evaluation or recommendation about one document, with the input revisions it was computed from."""

    __tablename__ = "results"
    __table_args__ = (Index(None, "namespace", "subject_kind", "subject_name", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace: Mapped[str] = mapped_column(String(63))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    input_revisions: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class JobRecord(Base):
    """A long-running request (e.g. a solve): queued, claimed by a worker, then succeeded or failed."""

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "status", "created_at"), Index(None, "owner", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str | None] = mapped_column(String(63), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(36), nullable=True)
    """Id of the API token that submitted the job (empty: authentication disabled; NULL: not submitted over HTTP)."""
    status: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
