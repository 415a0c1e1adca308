"""Which other documents a document names. References stay inside the document's namespace."""

from __future__ import annotations

import msgspec

from planner.domain.documents import Cluster, Document, Scenario, ServicePlan


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    """Where the reference is written, e.g. ``spec.servicePlanRefs[1]``."""
    kind: str
    name: str


def references_of(doc: Document) -> list[Reference]:
    """The documents ``doc`` depends on, each with the field that names it."""
    if isinstance(doc, Cluster):
        return []
    if isinstance(doc, ServicePlan):
        return [Reference(field="spec.clusterRef", kind="Cluster", name=doc.spec.cluster_ref)]
    assert isinstance(doc, Scenario)
    refs = [Reference(field="spec.clusterRef", kind="Cluster", name=doc.spec.cluster_ref)]
    refs.extend(
        Reference(field=f"spec.servicePlanRefs[{i}]", kind="ServicePlan", name=name)
        for i, name in enumerate(doc.spec.service_plan_refs)
    )
    return refs
