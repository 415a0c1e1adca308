"""Repository of planner documents: apply with revisions and preconditions, read, list, history, delete.

Concurrency: the head row of a document is only ever changed by a compare-and-swap
``UPDATE documents SET revision = N + 1 ... WHERE id = :id AND revision = N``, and every revision row is unique on
``(document_id, revision)``. A writer that loses the swap starts over from the new head (or fails its ``If-Match``
precondition), so no two writers ever produce the same revision and no write is lost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import ColumnElement, and_, delete, exists, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.errors import (
    DocumentInUse,
    DocumentNotFound,
    InvalidContinueToken,
    PreconditionFailed,
    Referrer,
    WriteConflict,
)
from planner.db.models import DocumentLabelRecord, DocumentRecord, DocumentReferenceRecord, DocumentRevisionRecord
from planner.db.references import Reference, references_of
from planner.domain.documents import Document
from planner.domain.errors import FieldError, InvalidDocument, UnknownReference
from planner.domain.selectors import Selector

MAX_WRITE_ATTEMPTS = 64
"""How often a writer without a precondition retries after losing a compare-and-swap to another writer."""


class StoredDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One revision of a stored document, with its server-managed metadata."""

    uid: str
    namespace: str
    kind: str
    name: str
    revision: int
    content: dict[str, Any]
    """The document as stored: validated, defaulted, builtins only."""
    content_hash: str
    created_at: datetime
    """When the document (this incarnation of the name) was created."""
    updated_at: datetime
    """When this revision was written."""


class RevisionInfo(msgspec.Struct, frozen=True, kw_only=True):
    revision: int
    content_hash: str
    created_at: datetime


class DocumentPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[StoredDocument]
    continue_token: str | None
    """Pass back to get the next page; ``None`` on the last page."""


class Precondition(msgspec.Struct, frozen=True, kw_only=True):
    """What the writer expects of the stored document (``If-Match`` / ``If-None-Match: *``)."""

    revisions: frozenset[int] | None = None
    """The document must exist at one of these revisions."""
    must_exist: bool = False
    """``If-Match: *``: the document must exist."""
    must_not_exist: bool = False
    """``If-None-Match: *``: create only."""


ANY = Precondition()


class ApplyOutcome(msgspec.Struct, frozen=True, kw_only=True):
    document: StoredDocument
    created: bool
    """The name did not exist (or had been deleted) before this apply."""
    changed: bool
    """A new revision was written (``False`` for an identical re-apply)."""


def content_of(doc: Document) -> dict[str, Any]:
    """The builtins form of a document, as stored and hashed."""
    content = msgspec.to_builtins(doc)
    assert isinstance(content, dict)
    return content


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys) of ``content``."""
    return hashlib.sha256(msgspec.json.encode(content, order="sorted")).hexdigest()


class _LostRaceError(Exception):
    """Another writer changed the head between our read and our compare-and-swap."""


def _check_precondition(pre: Precondition, head: DocumentRecord | None, what: str) -> None:
    live = head is not None and head.deleted_at is None
    current = head.revision if head is not None and live else None
    if pre.must_not_exist and live:
        msg = f"{what} already exists (If-None-Match: *)"
        raise PreconditionFailed(msg, current)
    if pre.must_exist and not live:
        msg = f"{what} does not exist (If-Match: *)"
        raise PreconditionFailed(msg, None)
    if pre.revisions is not None and (current is None or current not in pre.revisions):
        expected = ", ".join(str(r) for r in sorted(pre.revisions))
        found = f"revision {current}" if current is not None else "no document"
        msg = f"{what}: If-Match expects revision {expected}, found {found}"
        raise PreconditionFailed(msg, current)


async def _head(session: AsyncSession, kind: str, namespace: str, name: str) -> DocumentRecord | None:
    stmt = select(DocumentRecord).where(
        DocumentRecord.namespace == namespace, DocumentRecord.kind == kind, DocumentRecord.name == name
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _check_references(session: AsyncSession, namespace: str, refs: Sequence[Reference]) -> None:
    """Every referenced document must be live. Locks them (``FOR SHARE`` on PostgreSQL) until commit, so a
    concurrent delete of a referenced document waits and then sees the new reference."""
    missing: list[Reference] = []
    for ref in refs:
        stmt = (
            select(DocumentRecord.id)
            .where(
                DocumentRecord.namespace == namespace,
                DocumentRecord.kind == ref.kind,
                DocumentRecord.name == ref.name,
                DocumentRecord.deleted_at.is_(None),
            )
            .with_for_update(read=True)
        )
        if (await session.execute(stmt)).scalar_one_or_none() is None:
            missing.append(ref)
    if len(missing) == 1:
        raise UnknownReference(missing[0].field, missing[0].kind, missing[0].name)
    if missing:
        raise InvalidDocument(
            [
                FieldError(
                    field=ref.field,
                    type="NotFound",
                    message=f"{ref.kind} {ref.name!r} not found in namespace {namespace!r}",
                    value=ref.name,
                )
                for ref in missing
            ],
            summary="the document references documents that do not exist",
        )


async def _replace_index(
    session: AsyncSession, document_id: int, namespace: str, labels: dict[str, str], refs: Sequence[Reference]
) -> None:
    await session.execute(delete(DocumentLabelRecord).where(DocumentLabelRecord.document_id == document_id))
    await session.execute(delete(DocumentReferenceRecord).where(DocumentReferenceRecord.document_id == document_id))
    if labels:
        await session.execute(
            insert(DocumentLabelRecord),
            [{"document_id": document_id, "key": k, "value": v} for k, v in labels.items()],
        )
    if refs:
        await session.execute(
            insert(DocumentReferenceRecord),
            [
                {
                    "document_id": document_id,
                    "field": r.field,
                    "namespace": namespace,
                    "target_kind": r.kind,
                    "target_name": r.name,
                }
                for r in refs
            ],
        )


def _stored(head: DocumentRecord, revision: int, content: dict[str, Any], digest: str, at: datetime) -> StoredDocument:
    return StoredDocument(
        uid=head.uid,
        namespace=head.namespace,
        kind=head.kind,
        name=head.name,
        revision=revision,
        content=content,
        content_hash=digest,
        created_at=head.created_at,
        updated_at=at,
    )


async def _apply_once(db: Database, doc: Document, pre: Precondition) -> ApplyOutcome:
    kind, namespace, name = type(doc).__name__, doc.metadata.namespace, doc.metadata.name
    what = f"{kind} {namespace}/{name}"
    content = content_of(doc)
    digest = content_hash(content)
    refs = references_of(doc)
    async with db.write() as session:
        head = await _head(session, kind, namespace, name)
        _check_precondition(pre, head, what)
        live = head is not None and head.deleted_at is None
        if head is not None and live and head.content_hash == digest:
            latest = await session.execute(
                select(DocumentRevisionRecord.created_at).where(
                    DocumentRevisionRecord.document_id == head.id, DocumentRevisionRecord.revision == head.revision
                )
            )
            return ApplyOutcome(
                document=_stored(head, head.revision, content, digest, latest.scalar_one()),
                created=False,
                changed=False,
            )
        await _check_references(session, namespace, refs)
        now = utcnow()
        if head is None:
            head = DocumentRecord(
                uid=str(uuid.uuid4()),
                namespace=namespace,
                kind=kind,
                name=name,
                revision=1,
                content_hash=digest,
                created_at=now,
                updated_at=now,
                deleted_at=None,
            )
            session.add(head)
            await session.flush()
            revision = 1
        else:
            revision = head.revision + 1
            values: dict[str, Any] = {"revision": revision, "content_hash": digest, "updated_at": now}
            if not live:
                values |= {"uid": str(uuid.uuid4()), "created_at": now, "deleted_at": None}
            swap = cast(
                "CursorResult[Any]",
                await session.execute(
                    update(DocumentRecord)
                    .where(DocumentRecord.id == head.id, DocumentRecord.revision == head.revision)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ),
            )
            if swap.rowcount != 1:
                raise _LostRaceError
            await session.refresh(head)
        session.add(
            DocumentRevisionRecord(
                document_id=head.id, revision=revision, content=content, content_hash=digest, created_at=now
            )
        )
        await session.flush()
        await _replace_index(session, head.id, namespace, dict(doc.metadata.labels), refs)
        return ApplyOutcome(document=_stored(head, revision, content, digest, now), created=not live, changed=True)


async def apply_document(db: Database, doc: Document, precondition: Precondition = ANY) -> ApplyOutcome:
    """Create or replace ``doc`` (by namespace, kind and name) in one transaction.

    Changed content becomes the next revision; identical content is a no-op that keeps the revision.

    Raises:
        PreconditionFailed: ``precondition`` does not hold (checked atomically with the write).
        UnknownReference: one referenced document does not exist.
        InvalidDocument: several referenced documents do not exist (one ``NotFound`` error each).
        WriteConflict: the compare-and-swap kept losing to concurrent writers (only without a precondition).
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            return await _apply_once(db, doc, precondition)
        except (_LostRaceError, IntegrityError):
            # someone else created or advanced the document first; re-read and re-check the precondition
            continue
    msg = f"{type(doc).__name__} {doc.metadata.namespace}/{doc.metadata.name}: too many concurrent writers"
    raise WriteConflict(msg)


async def get_document(
    db: Database, kind: str, namespace: str, name: str, revision: int | None = None
) -> StoredDocument:
    """The latest revision of a live document, or revision ``revision`` (also of a deleted one).

    Raises:
        DocumentNotFound: no such document or revision.
    """
    async with db.read() as session:
        head = await _head(session, kind, namespace, name)
        if head is None or (revision is None and head.deleted_at is not None):
            raise DocumentNotFound(kind, namespace, name, revision)
        wanted = head.revision if revision is None else revision
        row = (
            await session.execute(
                select(DocumentRevisionRecord).where(
                    DocumentRevisionRecord.document_id == head.id, DocumentRevisionRecord.revision == wanted
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise DocumentNotFound(kind, namespace, name, revision)
        return _stored(head, row.revision, row.content, row.content_hash, row.created_at)


async def list_revisions(db: Database, kind: str, namespace: str, name: str) -> list[RevisionInfo]:
    """Every revision of a document, oldest first. History stays readable after the document is deleted.

    Raises:
        DocumentNotFound: the name was never used.
    """
    async with db.read() as session:
        head = await _head(session, kind, namespace, name)
        if head is None:
            raise DocumentNotFound(kind, namespace, name)
        rows = await session.execute(
            select(
                DocumentRevisionRecord.revision, DocumentRevisionRecord.content_hash, DocumentRevisionRecord.created_at
            )
            .where(DocumentRevisionRecord.document_id == head.id)
            .order_by(DocumentRevisionRecord.revision)
        )
        return [RevisionInfo(revision=r, content_hash=h, created_at=t) for r, h, t in rows]


def encode_continue(namespace: str, name: str) -> str:
    raw = msgspec.json.encode({"ns": namespace, "n": name})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class _Position(msgspec.Struct, frozen=True):
    ns: str
    n: str


def decode_continue(token: str) -> tuple[str, str]:
    """Raises InvalidContinueToken for anything :func:`encode_continue` did not produce."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        position = msgspec.json.decode(raw, type=_Position)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidContinueToken from exc
    if "\x00" in position.ns or "\x00" in position.n:  # never produced, and PostgreSQL text cannot hold it
        raise InvalidContinueToken
    return position.ns, position.n


def _label_condition(requirement_key: str, operator: str, values: Sequence[str]) -> ColumnElement[bool]:
    match = [DocumentLabelRecord.document_id == DocumentRecord.id, DocumentLabelRecord.key == requirement_key]
    if operator in ("Equals", "In", "NotEquals", "NotIn"):
        match.append(DocumentLabelRecord.value.in_(list(values)))
    found = exists().where(and_(*match))
    return ~found if operator in ("NotEquals", "NotIn", "DoesNotExist") else found


async def list_documents(
    db: Database,
    kind: str,
    *,
    namespace: str | None = None,
    namespaces: Collection[str] | None = None,
    selector: Selector | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> DocumentPage:
    """Live documents of ``kind`` ordered by (namespace, name), one page at a time; ``namespaces`` limits a
    cross-namespace list to those namespaces.

    Raises:
        InvalidContinueToken: ``continue_token`` is malformed.
    """
    conditions: list[ColumnElement[bool]] = [DocumentRecord.kind == kind, DocumentRecord.deleted_at.is_(None)]
    if namespace is not None:
        conditions.append(DocumentRecord.namespace == namespace)
    if namespaces is not None:
        conditions.append(DocumentRecord.namespace.in_(sorted(namespaces)))
    conditions.extend(
        _label_condition(req.key, req.operator, req.values)
        for req in (selector.requirements if selector is not None else ())
    )
    if continue_token:
        after_ns, after_name = decode_continue(continue_token)
        conditions.append(
            or_(
                DocumentRecord.namespace > after_ns,
                and_(DocumentRecord.namespace == after_ns, DocumentRecord.name > after_name),
            )
        )
    stmt = (
        select(DocumentRecord, DocumentRevisionRecord)
        .join(
            DocumentRevisionRecord,
            and_(
                DocumentRevisionRecord.document_id == DocumentRecord.id,
                DocumentRevisionRecord.revision == DocumentRecord.revision,
            ),
        )
        .where(*conditions)
        .order_by(DocumentRecord.namespace, DocumentRecord.name)
        .limit(limit + 1)
    )
    async with db.read() as session:
        rows = (await session.execute(stmt)).all()
    items = [_stored(h, r.revision, r.content, r.content_hash, r.created_at) for h, r in rows[:limit]]
    token = encode_continue(items[-1].namespace, items[-1].name) if len(rows) > limit else None
    return DocumentPage(items=items, continue_token=token)


async def delete_document(
    db: Database, kind: str, namespace: str, name: str, precondition: Precondition = ANY
) -> StoredDocument:
    """Delete a live document and return its last revision. Its history is kept.

    Raises:
        DocumentNotFound: no live document of that name.
        PreconditionFailed: ``precondition`` does not hold.
        DocumentInUse: live documents still reference it (nothing is deleted).
        WriteConflict: concurrent writers kept changing the document.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            return await _delete_once(db, kind, namespace, name, precondition)
        except _LostRaceError:
            continue
    msg = f"{kind} {namespace}/{name}: too many concurrent writers"
    raise WriteConflict(msg)


async def _delete_once(
    db: Database, kind: str, namespace: str, name: str, precondition: Precondition
) -> StoredDocument:
    what = f"{kind} {namespace}/{name}"
    async with db.write() as session:
        head = await _head(session, kind, namespace, name)
        if head is None or head.deleted_at is not None:
            raise DocumentNotFound(kind, namespace, name)
        _check_precondition(precondition, head, what)
        # Take the row lock first: a concurrent apply that references this document holds FOR SHARE on it, so we
        # wait for it to commit, and the referrer query below then sees its reference.
        swap = cast(
            "CursorResult[Any]",
            await session.execute(
                update(DocumentRecord)
                .where(
                    DocumentRecord.id == head.id,
                    DocumentRecord.revision == head.revision,
                    DocumentRecord.deleted_at.is_(None),
                )
                .values(deleted_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        )
        if swap.rowcount != 1:
            raise _LostRaceError
        referrers = (
            await session.execute(
                select(DocumentRecord.kind, DocumentRecord.name, DocumentReferenceRecord.field)
                .join(DocumentRecord, DocumentRecord.id == DocumentReferenceRecord.document_id)
                .where(
                    DocumentReferenceRecord.namespace == namespace,
                    DocumentReferenceRecord.target_kind == kind,
                    DocumentReferenceRecord.target_name == name,
                    DocumentRecord.deleted_at.is_(None),
                )
                .order_by(DocumentRecord.kind, DocumentRecord.name, DocumentReferenceRecord.field)
            )
        ).all()
        if referrers:
            raise DocumentInUse(kind, namespace, name, [Referrer(kind=k, name=n, field=f) for k, n, f in referrers])
        row = (
            await session.execute(
                select(DocumentRevisionRecord).where(
                    DocumentRevisionRecord.document_id == head.id, DocumentRevisionRecord.revision == head.revision
                )
            )
        ).scalar_one()
        await _replace_index(session, head.id, namespace, {}, [])
        return _stored(head, row.revision, row.content, row.content_hash, row.created_at)
