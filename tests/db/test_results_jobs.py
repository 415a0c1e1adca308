"""Result and job repositories (used by the evaluation and optimizer endpoints) on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from planner.db.base import utcnow
from planner.db.errors import JobNotFound, PreconditionFailed, ResultNotFound
from planner.db.job_queue import requeue_expired
from planner.db.jobs import claim_job, complete_job, enqueue_job, fail_job, get_job
from planner.db.results import get_result, latest_result, list_results, save_result


async def test_results_are_kept_per_subject_newest_first(db):
    common = {"namespace": "payments", "subject_kind": "ServicePlan", "subject_name": "web"}
    first = await save_result(
        db, **common, kind="evaluation", status="ok", input_revisions={"ServicePlan/web": 1}, payload={"n": 1}
    )
    second = await save_result(
        db, **common, kind="evaluation", status="ok", input_revisions={"ServicePlan/web": 2}, payload={"n": 2}
    )
    await save_result(
        db, **common, kind="recommendation", status="optimal", input_revisions={"ServicePlan/web": 2}, payload={}
    )
    await save_result(
        db,
        namespace="payments",
        subject_kind="ServicePlan",
        subject_name="api",
        kind="evaluation",
        status="ok",
        input_revisions={},
        payload={},
    )
    evaluations = await list_results(db, **common, kind="evaluation")
    assert [r.uid for r in evaluations] == [second.uid, first.uid]
    assert len(await list_results(db, **common)) == 3
    latest = await latest_result(db, **common, kind="evaluation")
    assert latest is not None
    assert latest.payload == {"n": 2}
    assert latest.input_revisions == {"ServicePlan/web": 2}
    assert (await get_result(db, first.uid)).payload == {"n": 1}
    assert await latest_result(db, **common, kind="nothing") is None
    with pytest.raises(ResultNotFound):
        await get_result(db, "0" * 36)


async def test_job_lifecycle(db):
    job = await enqueue_job(db, kind="solve", request={"plan": "web"}, namespace="payments", max_attempts=2)
    assert (job.status, job.attempts) == ("queued", 0)
    claimed = await claim_job(db, kind="solve")
    assert claimed is not None
    assert (claimed.uid, claimed.status, claimed.attempts) == (job.uid, "running", 1)
    assert claimed.started_at is not None
    assert await claim_job(db) is None  # nothing else queued

    retried = await fail_job(db, job.uid, {"message": "solver crashed"})
    assert (retried.status, retried.error) == ("queued", {"message": "solver crashed"})
    again = await claim_job(db)
    assert again is not None
    assert again.attempts == 2
    done = await complete_job(db, job.uid, {"placement": {"node-a": 2}})
    assert (done.status, done.result) == ("succeeded", {"placement": {"node-a": 2}})
    assert done.finished_at is not None
    with pytest.raises(PreconditionFailed):
        await complete_job(db, job.uid, {})
    assert (await get_job(db, job.uid)).result == {"placement": {"node-a": 2}}
    with pytest.raises(JobNotFound):
        await get_job(db, "missing")


async def test_failure_after_last_attempt_is_final(db):
    job = await enqueue_job(db, kind="solve", request={}, max_attempts=1)
    await claim_job(db)
    failed = await fail_job(db, job.uid, {"message": "infeasible"})
    assert failed.status == "failed"
    assert await claim_job(db) is None


async def test_each_job_is_claimed_by_one_worker(db):
    jobs = [await enqueue_job(db, kind="solve", request={"i": i}) for i in range(5)]
    claims = await asyncio.gather(*(claim_job(db) for _ in range(8)))
    claimed = [c.uid for c in claims if c is not None]
    assert sorted(claimed) == sorted(j.uid for j in jobs)


async def test_jobs_whose_heartbeat_expired_are_requeued_or_failed(db):
    # A running job whose last heartbeat is older than the lease lost its worker: queued again while attempts
    # remain; a job on its last attempt fails instead.
    job = await enqueue_job(db, kind="solve", request={})
    last = await enqueue_job(db, kind="solve", request={}, max_attempts=1)
    assert (await claim_job(db)).uid == job.uid
    assert (await claim_job(db)).uid == last.uid
    assert await requeue_expired(db, lease_seconds=3600) == []  # heartbeats are fresh
    later = utcnow() + timedelta(seconds=61)
    assert await requeue_expired(db, lease_seconds=60, now=later) == [job.uid]
    assert (await get_job(db, job.uid)).status == "queued"
    assert (await get_job(db, last.uid)).status == "failed"
