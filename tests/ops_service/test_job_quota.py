"""PLANNER_JOBS_PER_TOKEN: one caller cannot fill the shared job queue; other callers can still queue jobs."""

from __future__ import annotations

import json

import pytest
from litestar.testing import AsyncTestClient

from planner.api.app import create_app
from planner.config import Settings
from planner.db.job_queue import OwnerQuotaFull, QueueFull, enqueue_bounded
from planner.db.jobs import claim_job, complete_job
from tests.api.test_recommend_api import cluster_doc, options, plan_doc

JSON = {"Content-Type": "application/json"}
BODY = json.dumps([cluster_doc(), plan_doc(replicas=10), options(solver={"timeLimitSeconds": 1})])


async def test_a_token_at_its_job_quota_gets_429_and_others_still_queue(auth_settings: Settings, issue, monkeypatch):
    # An API-only replica (no solve slots): jobs stay queued, so every job counts against its token.
    monkeypatch.setenv("PLANNER_SOLVE_CONCURRENCY", "0")
    monkeypatch.setenv("PLANNER_SOLVE_QUEUE_LIMIT", "10")
    monkeypatch.setenv("PLANNER_JOBS_PER_TOKEN", "2")
    monkeypatch.setenv("PLANNER_SOLVE_RETRY_AFTER", "9")
    alice = await issue("write", "*", name="alice")
    bob = await issue("write", "*", name="bob")
    async with AsyncTestClient(app=create_app(auth_settings)) as client:
        for _ in range(2):
            accepted = await client.post("/v1/recommend?async=true", content=BODY, headers={**JSON, **alice})
            assert accepted.status_code == 202, accepted.text
        refused = await client.post("/v1/recommend?async=true", content=BODY, headers={**JSON, **alice})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "9"
        assert refused.headers["content-type"] == "application/problem+json"
        assert "2 jobs queued or running" in refused.json()["detail"]
        # The queue (10) is far from full: another token still gets its jobs in.
        other = await client.post("/v1/recommend?async=true", content=BODY, headers={**JSON, **bob})
        assert other.status_code == 202, other.text


async def test_owner_quota_counts_queued_and_running_jobs_only(db):
    # Quota 2 for "a": two queued -> full; one claimed (running) still counts; once it finishes, "a" has room.
    for _ in range(2):
        await enqueue_bounded(db, kind="solve", request={}, limit=100, owner="a", owner_limit=2)
    with pytest.raises(OwnerQuotaFull) as refused:
        await enqueue_bounded(db, kind="solve", request={}, limit=100, owner="a", owner_limit=2)
    assert isinstance(refused.value, QueueFull)
    assert refused.value.limit == 2
    # Jobs of another owner, and jobs without an owner, are not counted against "a".
    await enqueue_bounded(db, kind="solve", request={}, limit=100, owner="b", owner_limit=2)
    await enqueue_bounded(db, kind="solve", request={}, limit=100)
    running = await claim_job(db)  # the oldest: one of "a"'s
    assert running is not None
    with pytest.raises(OwnerQuotaFull):  # running still counts
        await enqueue_bounded(db, kind="solve", request={}, limit=100, owner="a", owner_limit=2)
    await complete_job(db, running.uid, {"done": True})
    job = await enqueue_bounded(db, kind="solve", request={}, limit=100, owner="a", owner_limit=2)
    assert job.status == "queued"
