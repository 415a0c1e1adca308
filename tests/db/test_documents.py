"""Document repository on both databases: revisions, preconditions, references, listing, delete."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from planner.db.documents import (
    Precondition,
    apply_document,
    delete_document,
    get_document,
    list_documents,
    list_revisions,
)
from planner.db.errors import DocumentInUse, DocumentNotFound, InvalidContinueToken, PreconditionFailed
from planner.domain.documents import Cluster, Scenario, ServicePlan
from planner.domain.errors import InvalidDocument, UnknownReference
from planner.domain.selectors import parse_selector
from tests.api.documents import cluster, scenario, service_plan


def make_cluster(name="prod", namespace="payments", labels=None, cpu="4") -> Cluster:
    return msgspec.convert(cluster(name, namespace, labels, cpu), Cluster)


def make_plan(name, cluster_ref, namespace="payments") -> ServicePlan:
    return msgspec.convert(service_plan(name, cluster_ref, namespace), ServicePlan)


def make_scenario(name, cluster_ref, plans, namespace="payments") -> Scenario:
    return msgspec.convert(scenario(name, cluster_ref, plans, namespace), Scenario)


async def test_changed_content_makes_a_new_revision_identical_content_does_not(db):
    first = await apply_document(db, make_cluster(cpu="4"))
    assert (first.created, first.changed, first.document.revision) == (True, True, 1)
    same = await apply_document(db, make_cluster(cpu="4"))
    assert (same.created, same.changed, same.document.revision) == (False, False, 1)
    second = await apply_document(db, make_cluster(cpu="8"))
    assert (second.created, second.changed, second.document.revision) == (False, True, 2)
    assert second.document.uid == first.document.uid

    old = await get_document(db, "Cluster", "payments", "prod", revision=1)
    assert old.content["spec"]["nodes"][0]["allocatable"]["cpu"] == "4"
    latest = await get_document(db, "Cluster", "payments", "prod")
    assert latest.revision == 2
    assert latest.content["spec"]["nodes"][0]["allocatable"]["cpu"] == "8"
    history = await list_revisions(db, "Cluster", "payments", "prod")
    assert [r.revision for r in history] == [1, 2]
    assert history[0].content_hash != history[1].content_hash


async def test_same_name_in_another_namespace_or_kind_is_another_document(db):
    await apply_document(db, make_cluster("prod", "payments"))
    other = await apply_document(db, make_cluster("prod", "search"))
    assert other.created
    with pytest.raises(DocumentNotFound):
        await get_document(db, "ServicePlan", "payments", "prod")


async def test_preconditions(db):
    await apply_document(db, make_cluster(cpu="4"))
    with pytest.raises(PreconditionFailed) as stale:
        await apply_document(db, make_cluster(cpu="5"), Precondition(revisions=frozenset({7})))
    assert stale.value.current_revision == 1
    updated = await apply_document(db, make_cluster(cpu="5"), Precondition(revisions=frozenset({1})))
    assert updated.document.revision == 2
    with pytest.raises(PreconditionFailed):
        await apply_document(db, make_cluster(cpu="6"), Precondition(must_not_exist=True))
    with pytest.raises(PreconditionFailed):
        await apply_document(db, make_cluster("absent"), Precondition(must_exist=True))
    # a failed precondition writes nothing
    assert [r.revision for r in await list_revisions(db, "Cluster", "payments", "prod")] == [1, 2]
    with pytest.raises(DocumentNotFound):
        await get_document(db, "Cluster", "payments", "absent")


async def test_unknown_references_are_rejected_with_the_field(db):
    with pytest.raises(UnknownReference) as one:
        await apply_document(db, make_plan("web", "missing"))
    assert (one.value.field, one.value.kind, one.value.name) == ("spec.clusterRef", "Cluster", "missing")
    await apply_document(db, make_cluster("prod"))
    with pytest.raises(InvalidDocument) as many:
        await apply_document(db, make_scenario("what-if", "prod", ["web", "api"]))
    assert [(e.field, e.type, e.value) for e in many.value.errors] == [
        ("spec.servicePlanRefs[0]", "NotFound", "web"),
        ("spec.servicePlanRefs[1]", "NotFound", "api"),
    ]
    with pytest.raises(DocumentNotFound):
        await get_document(db, "Scenario", "payments", "what-if")


async def test_references_do_not_cross_namespaces(db):
    await apply_document(db, make_cluster("prod", "search"))
    with pytest.raises(UnknownReference):
        await apply_document(db, make_plan("web", "prod", "payments"))


async def test_delete_refuses_while_referenced_and_names_the_referrers(db):
    await apply_document(db, make_cluster("prod"))
    await apply_document(db, make_plan("web", "prod"))
    await apply_document(db, make_plan("api", "prod"))
    await apply_document(db, make_scenario("zone-a-down", "prod", ["web"]))

    with pytest.raises(DocumentInUse) as cluster_in_use:
        await delete_document(db, "Cluster", "payments", "prod")
    assert [(r.kind, r.name, r.field) for r in cluster_in_use.value.referrers] == [
        ("Scenario", "zone-a-down", "spec.clusterRef"),
        ("ServicePlan", "api", "spec.clusterRef"),
        ("ServicePlan", "web", "spec.clusterRef"),
    ]
    with pytest.raises(DocumentInUse) as plan_in_use:
        await delete_document(db, "ServicePlan", "payments", "web")
    assert [(r.kind, r.name, r.field) for r in plan_in_use.value.referrers] == [
        ("Scenario", "zone-a-down", "spec.servicePlanRefs[0]")
    ]
    # nothing was deleted
    assert (await get_document(db, "Cluster", "payments", "prod")).revision == 1
    assert (await get_document(db, "ServicePlan", "payments", "web")).revision == 1

    # unreferenced: delete in dependency order
    await delete_document(db, "ServicePlan", "payments", "api")
    await delete_document(db, "Scenario", "payments", "zone-a-down")
    await delete_document(db, "ServicePlan", "payments", "web")
    deleted = await delete_document(db, "Cluster", "payments", "prod")
    assert deleted.revision == 1
    with pytest.raises(DocumentNotFound):
        await get_document(db, "Cluster", "payments", "prod")
    with pytest.raises(DocumentNotFound):
        await delete_document(db, "Cluster", "payments", "prod")


async def test_a_reference_that_moves_away_releases_the_old_target(db):
    await apply_document(db, make_cluster("old"))
    await apply_document(db, make_cluster("new"))
    await apply_document(db, make_plan("web", "old"))
    await apply_document(db, make_plan("web", "new"))
    await delete_document(db, "Cluster", "payments", "old")
    with pytest.raises(DocumentInUse):
        await delete_document(db, "Cluster", "payments", "new")


async def test_recreated_document_continues_its_revisions_and_keeps_history(db):
    first = await apply_document(db, make_cluster(cpu="4"))
    await apply_document(db, make_cluster(cpu="5"))
    await delete_document(db, "Cluster", "payments", "prod", Precondition(revisions=frozenset({2})))
    # history stays readable after the delete
    assert [r.revision for r in await list_revisions(db, "Cluster", "payments", "prod")] == [1, 2]
    assert (await get_document(db, "Cluster", "payments", "prod", revision=2)).revision == 2
    # the same content again is a new incarnation with the next revision, so an old ETag can never match it
    again = await apply_document(db, make_cluster(cpu="5"))
    assert (again.created, again.changed, again.document.revision) == (True, True, 3)
    assert again.document.uid != first.document.uid
    assert (await list_documents(db, "Cluster")).items[0].revision == 3


async def test_delete_precondition(db):
    await apply_document(db, make_cluster())
    with pytest.raises(PreconditionFailed):
        await delete_document(db, "Cluster", "payments", "prod", Precondition(revisions=frozenset({2})))
    assert (await get_document(db, "Cluster", "payments", "prod")).revision == 1


async def test_list_filters_by_label_selector(db):
    await apply_document(db, make_cluster("a", labels={"env": "prod", "tier": "edge"}))
    await apply_document(db, make_cluster("b", labels={"env": "staging"}))
    await apply_document(db, make_cluster("c", labels={"env": "prod", "canary": ""}))
    await apply_document(db, make_cluster("d"))

    async def names(selector: str) -> list[str]:
        page = await list_documents(db, "Cluster", namespace="payments", selector=parse_selector(selector))
        return [d.name for d in page.items]

    assert await names("") == ["a", "b", "c", "d"]
    assert await names("env=prod") == ["a", "c"]
    assert await names("env==prod") == ["a", "c"]
    # != and notin also match documents without the label (Kubernetes semantics)
    assert await names("env!=prod") == ["b", "d"]
    assert await names("env in (staging, prod)") == ["a", "b", "c"]
    assert await names("env notin (prod)") == ["b", "d"]
    assert await names("canary") == ["c"]
    assert await names("!canary") == ["a", "b", "d"]
    assert await names("env=prod,!canary") == ["a"]
    assert await names("env=prod,tier=edge") == ["a"]
    assert await names("env=nope") == []


async def test_labels_follow_the_latest_revision(db):
    await apply_document(db, make_cluster("a", labels={"env": "prod"}))
    await apply_document(db, make_cluster("a", labels={"env": "staging"}))
    page = await list_documents(db, "Cluster", selector=parse_selector("env=prod"))
    assert page.items == []


async def test_pagination_walks_every_document_once_across_namespaces(db):
    expected = []
    for namespace in ("alpha", "beta"):
        for index in range(5):
            name = f"c{index}"
            await apply_document(db, make_cluster(name, namespace))
            expected.append((namespace, name))
    seen = []
    token = None
    pages = 0
    while True:
        page = await list_documents(db, "Cluster", limit=3, continue_token=token)
        seen.extend((d.namespace, d.name) for d in page.items)
        pages += 1
        token = page.continue_token
        if token is None:
            break
    assert seen == expected
    assert pages == 4  # 3 + 3 + 3 + 1
    in_beta = await list_documents(db, "Cluster", namespace="beta", limit=10)
    assert [d.name for d in in_beta.items] == ["c0", "c1", "c2", "c3", "c4"]
    assert in_beta.continue_token is None


async def test_malformed_continue_token(db):
    with pytest.raises(InvalidContinueToken):
        await list_documents(db, "Cluster", continue_token="not-a-token!")


async def test_concurrent_applies_without_precondition_lose_no_write(db):
    """Eight writers race on one name, each with different content: every write becomes exactly one revision."""
    await apply_document(db, make_cluster(cpu="1"))
    outcomes = await asyncio.gather(*(apply_document(db, make_cluster(cpu=str(10 + i))) for i in range(8)))
    revisions = sorted(o.document.revision for o in outcomes)
    assert revisions == list(range(2, 10))
    history = await list_revisions(db, "Cluster", "payments", "prod")
    assert [r.revision for r in history] == list(range(1, 10))
    stored_cpus = set()
    for revision in range(2, 10):
        doc = await get_document(db, "Cluster", "payments", "prod", revision)
        stored_cpus.add(doc.content["spec"]["nodes"][0]["allocatable"]["cpu"])
    assert stored_cpus == {str(10 + i) for i in range(8)}


async def test_concurrent_creates_of_one_name_make_one_document(db):
    outcomes = await asyncio.gather(*(apply_document(db, make_cluster(cpu=str(i + 1))) for i in range(6)))
    assert sum(o.created for o in outcomes) == 1
    assert sorted(o.document.revision for o in outcomes) == [1, 2, 3, 4, 5, 6]
