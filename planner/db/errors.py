"""Storage errors. The API maps them to problem details (404, 409, 412, 400)."""

from __future__ import annotations

import msgspec


class StorageError(Exception):
    """Base of the errors raised by the repositories."""


class DocumentNotFound(StorageError):  # noqa: N818 - reads as the condition, like Kubernetes' NotFound
    def __init__(self, kind: str, namespace: str, name: str, revision: int | None = None) -> None:
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.revision = revision
        what = f"{kind} {namespace}/{name}"
        super().__init__(f"{what} revision {revision} not found" if revision is not None else f"{what} not found")


class PreconditionFailed(StorageError):  # noqa: N818
    """An ``If-Match`` / ``If-None-Match`` precondition does not hold for the stored document."""

    def __init__(self, message: str, current_revision: int | None) -> None:
        self.current_revision = current_revision
        super().__init__(message)


class Referrer(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str
    field: str


class DocumentInUse(StorageError):  # noqa: N818
    """The document cannot be deleted: other documents still reference it."""

    def __init__(self, kind: str, namespace: str, name: str, referrers: list[Referrer]) -> None:
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.referrers = referrers
        names = ", ".join(f"{r.kind} {r.name} ({r.field})" for r in referrers)
        super().__init__(f"{kind} {namespace}/{name} is referenced by {names}")


class WriteConflict(StorageError):  # noqa: N818
    """Concurrent writers kept winning; the write was not applied. Retrying is safe."""


class InvalidContinueToken(StorageError):  # noqa: N818
    def __init__(self) -> None:
        super().__init__("the continue token is malformed; start the listing again without it")


class JobNotFound(StorageError):  # noqa: N818
    def __init__(self, uid: str) -> None:
        self.uid = uid
        super().__init__(f"job {uid} not found")


class ResultNotFound(StorageError):  # noqa: N818
    def __init__(self, uid: str) -> None:
        self.uid = uid
        super().__init__(f"result {uid} not found")
