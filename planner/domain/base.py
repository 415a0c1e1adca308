"""Base Struct classes for planner's own documents and for the Kubernetes objects it reads."""

from __future__ import annotations

import msgspec


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="camel", omit_defaults=True):
    """A planner document part: camelCase on the wire, unknown fields rejected."""


class KubeObject(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A typed view of a Kubernetes object part.

    Unknown fields are ignored: real manifests carry many fields planner does not model, and they stay
    in the raw manifest kept beside the typed view.
    """
