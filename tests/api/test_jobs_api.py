"""Long solves as jobs: 202 + Location, polling, the server answering while a solve runs, bounded concurrency and
queue (429 + Retry-After), and jobs surviving a restart of the service (clean stop, and a worker that died).

Solves are held on a gate (the optimizer call waits on a threading.Event) where a test needs one to be running;
the numbers are those of test_recommend_api: 10 replicas on 3 equal nodes under Local -> 5/5/0.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import anyio.to_thread
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from planner.api.app import create_app
from planner.config import Settings
from planner.db.base import utcnow
from planner.db.engine import Database
from planner.db.jobs import claim_job, enqueue_job, get_job
from planner.db.models import JobRecord
from planner.worker import recommend_job
from tests.api.test_recommend_api import NS, cluster_doc, options, plan_doc

JSON = {"Content-Type": "application/json"}


def body(time_limit: float = 1) -> str:
    return json.dumps([cluster_doc(), plan_doc(replicas=10), options(solver={"timeLimitSeconds": time_limit})])


class Gate:
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()


@pytest.fixture
def gate(monkeypatch):
    state = Gate()
    real = recommend_job.recommend

    def held(request):
        state.entered.set()
        state.open.wait(60)
        return real(request)

    monkeypatch.setattr(recommend_job, "recommend", held)
    yield state
    state.open.set()


def app_for(database_url: str):
    # in-process jobs on both databases (no separate queue workers in these tests)
    return create_app(Settings(database_url=database_url, max_body_bytes=1024 * 1024, queue="inprocess"))


async def until_done(client, location: str) -> dict:
    job: dict = {}
    for _ in range(3000):
        job = (await client.get(location)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job did not finish: {job}")


async def entered(gate: Gate) -> None:
    assert await anyio.to_thread.run_sync(gate.entered.wait, 60), "the solve did not start"


async def test_async_recommend_answers_202_and_the_job_completes(database_url):
    async with AsyncTestClient(app=app_for(database_url)) as client:
        response = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["kind"] == "Job"
        assert accepted["status"] == "queued"
        assert accepted["operation"] == "recommend"
        location = response.headers["location"]
        assert location == f"/v1/jobs/{accepted['metadata']['uid']}"
        job = await until_done(client, location)
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 1
        assert sorted(next(iter(job["result"]["services"]))["podsPerNode"].values()) == [5, 5]
        assert job["solver"]["status"] == "optimal"
        assert job["resultRef"] is None  # stateless: nothing kept beyond the job
        missing = await client.get("/v1/jobs/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_long_time_limit_becomes_a_job_and_the_stored_result_is_kept(database_url):
    async with AsyncTestClient(app=app_for(database_url)) as client:
        for plural, name, doc in (("clusters", "prod", cluster_doc()), ("serviceplans", "web", plan_doc())):
            put = await client.put(f"/v1/namespaces/{NS}/{plural}/{name}", content=json.dumps(doc), headers=JSON)
            assert put.status_code == 201
        # 3 s is above the inline limit (2 s by default): 202 even without ?async=true
        options_body = json.dumps({"solver": {"timeLimitSeconds": 3}})
        response = await client.post(
            f"/v1/namespaces/{NS}/serviceplans/web/recommendations", content=options_body, headers=JSON
        )
        assert response.status_code == 202, response.text
        assert response.json()["subject"] == {"kind": "ServicePlan", "namespace": NS, "name": "web"}
        assert response.json()["inputRevisions"] == {"ServicePlan/web": 1, "Cluster/prod": 1}
        job = await until_done(client, response.headers["location"])
        assert job["status"] == "succeeded", job
        stored = await client.get(job["resultRef"])
        assert stored.status_code == 200
        assert stored.json()["metadata"]["inputRevisions"] == {"ServicePlan/web": 1, "Cluster/prod": 1}
        assert sorted(stored.json()["recommendation"]["services"][0]["podsPerNode"].values()) == [5, 5]
        listed = await client.get(f"/v1/namespaces/{NS}/serviceplans/web/recommendations")
        assert [i["metadata"]["uid"] for i in listed.json()["items"]] == [stored.json()["metadata"]["uid"]]


async def test_server_answers_during_a_solve_and_extra_solves_get_429(database_url, gate, monkeypatch):
    monkeypatch.setenv("PLANNER_SOLVE_CONCURRENCY", "1")
    monkeypatch.setenv("PLANNER_SOLVE_QUEUE_LIMIT", "1")
    monkeypatch.setenv("PLANNER_SOLVE_RETRY_AFTER", "7")
    async with AsyncTestClient(app=app_for(database_url)) as client:
        first = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        assert first.status_code == 202
        await entered(gate)  # the solve runs in a worker thread, held on the gate
        health = await client.get("/health")
        assert health.status_code == 200  # the event loop is free while the solve runs
        assert (await client.get(first.headers["location"])).json()["status"] == "running"

        second = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        assert second.status_code == 202  # queued: the queue holds 1
        assert second.json()["queuePosition"] == 0
        third = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        assert third.status_code == 429
        assert third.headers["retry-after"] == "7"
        assert third.json()["type"] == "urn:trafficplanner:problem:too-many-solves"
        inline = await client.post("/v1/recommend", content=body(), headers=JSON)
        assert inline.status_code == 429  # the only solve slot is taken
        assert inline.headers["retry-after"] == "7"

        gate.open.set()
        assert (await until_done(client, first.headers["location"]))["status"] == "succeeded"
        assert (await until_done(client, second.headers["location"]))["status"] == "succeeded"
        again = await client.post("/v1/recommend", content=body(), headers=JSON)
        assert again.status_code == 200  # slots free again


async def test_jobs_survive_a_restart(database_url, gate, monkeypatch):
    monkeypatch.setenv("PLANNER_SOLVE_CONCURRENCY", "1")
    async with AsyncTestClient(app=app_for(database_url)) as client:
        running = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        await entered(gate)
        waiting = await client.post("/v1/recommend?async=true", content=body(), headers=JSON)
        assert running.status_code == waiting.status_code == 202
    # the service stopped: the running job went back to the queue (its attempt not counted), the other waits
    db = Database.from_url(database_url)
    try:
        uids = [running.json()["metadata"]["uid"], waiting.json()["metadata"]["uid"]]
        stopped = [await get_job(db, uid) for uid in uids]
        assert [(j.status, j.attempts) for j in stopped] == [("queued", 0), ("queued", 0)]
    finally:
        await db.dispose()
    gate.open.set()
    async with AsyncTestClient(app=app_for(database_url)) as client:  # a new process on the same database
        for response in (running, waiting):
            job = await until_done(client, response.headers["location"])
            assert job["status"] == "succeeded", job
            assert job["attempts"] == 1
            assert sorted(job["result"]["services"][0]["podsPerNode"].values()) == [5, 5]


async def test_a_job_whose_worker_died_runs_again_after_restart(database_url, monkeypatch):
    monkeypatch.setenv("PLANNER_SOLVE_CONCURRENCY", "0")  # an API-only process: it stores jobs, runs none
    async with AsyncTestClient(app=app_for(database_url)) as client:
        response = await client.post("/v1/recommend", content=body(), headers=JSON)
        assert response.status_code == 202  # no solve slot here: even a short solve becomes a job
        assert (await client.get(response.headers["location"])).json()["status"] == "queued"
    db = Database.from_url(database_url)
    try:
        # a worker claims the job and dies: the job stays running with a heartbeat ten minutes old
        claimed = await claim_job(db)
        assert claimed is not None
        assert claimed.uid == response.json()["metadata"]["uid"]
        async with db.write() as session:
            await session.execute(
                update(JobRecord)
                .where(JobRecord.uid == claimed.uid)
                .values(updated_at=utcnow() - timedelta(minutes=10))
            )
    finally:
        await db.dispose()
    monkeypatch.setenv("PLANNER_SOLVE_CONCURRENCY", "1")
    async with AsyncTestClient(app=app_for(database_url)) as client:
        job = await until_done(client, response.headers["location"])
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 2  # the dead worker's attempt, then this one


async def test_looking_for_queued_jobs_holds_no_solve_slot(db, monkeypatch):
    # The runner looks for queued jobs whenever a slot frees up. It used to take the slot first and give it back
    # when the table had nothing queued, so an inline solve arriving during that query got 429 although nothing
    # ran. Now a slot is taken only for a claimed job; a job claimed while an inline solve took the last slot
    # goes back to the queue, its attempt not counted, and runs when the slot frees.
    from planner.worker import runner as runner_module
    from planner.worker.runner import InProcessRunner
    from planner.worker.settings import SolveSettings

    looks: asyncio.Queue[None] = asyncio.Queue()
    permits: asyncio.Queue[None] = asyncio.Queue()
    claimed: asyncio.Queue[object] = asyncio.Queue()
    unrestricted = asyncio.Event()
    handed_back = asyncio.Event()
    real_claim, real_release = runner_module.claim_job, runner_module.release

    async def claim_when_told(database, kind=None):
        if not unrestricted.is_set():
            looks.put_nowait(None)
            await permits.get()
        job = await real_claim(database, kind)
        claimed.put_nowait(job)
        return job

    async def release_and_tell(database, uid):
        released = await real_release(database, uid)
        handed_back.set()
        return released

    ran: list[str] = []

    async def handler(_db, job):
        ran.append(job.uid)
        return {}

    async def look() -> None:
        await asyncio.wait_for(looks.get(), 30)

    monkeypatch.setattr(runner_module, "claim_job", claim_when_told)
    monkeypatch.setattr(runner_module, "release", release_and_tell)
    runner = InProcessRunner(db, SolveSettings(concurrency=1, poll_seconds=60), {"probe": handler})
    async with runner.running():
        try:
            await look()  # at start the runner looks at the (empty) queue
            async with runner.inline_slot():  # the only slot is free meanwhile (this used to raise SolverBusy)
                permits.put_nowait(None)
            await look()  # the inline solve's slot came back: the runner looks again
            permits.put_nowait(None)
            assert await asyncio.wait_for(claimed.get(), 30) is None  # nothing queued yet
            job = await enqueue_job(db, kind="probe", request={})
            await runner.submit(job)
            await look()  # it claims the job...
            async with runner.inline_slot():  # ...while an inline solve takes the slot
                permits.put_nowait(None)
                await asyncio.wait_for(handed_back.wait(), 30)
                stored = await get_job(db, job.uid)
                assert (stored.status, stored.attempts, ran) == ("queued", 0, [])  # handed back, not run
            unrestricted.set()
            permits.put_nowait(None)  # the look started by the freed slot claims the job and runs it
            for _ in range(1000):
                if (await get_job(db, job.uid)).status == "succeeded":
                    break
                await asyncio.sleep(0.01)
            assert (await get_job(db, job.uid)).status == "succeeded"
            assert ran == [job.uid]
        finally:  # whatever happened, never leave the runner waiting on a permit
            unrestricted.set()
            permits.put_nowait(None)
