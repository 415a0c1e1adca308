"""The procrastinate queue on PostgreSQL: two ``planner worker`` processes, 40 jobs, one worker killed mid-job.

procrastinate leaves the job of a SIGKILLed worker in ``doing``; the surviving worker's stalled-job check
(``get_stalled_jobs`` + ``retry_job``) must hand it out again. Evidence of exactly-once comes from the queue's
own event table (one ``succeeded`` per job) and from the jobs table (every job succeeded, the killed one on its
second attempt, finished by the surviving worker's process).
"""

from __future__ import annotations

import asyncio
import signal

import psycopg

from planner.db.engine import Database
from planner.db.jobs import enqueue_job, get_job
from planner.db.migrate import upgrade
from planner.queue.app import create_queue_app
from planner.queue.runner import JOBS_QUEUE, PROBE, RUN_JOB_TASK
from tests.conftest import in_thread
from tests.ops_service.queue_helpers import env_for, plain_url, start, stop, wait_for

JOBS = 40
LONG_SECONDS = 60.0
"""The first attempt of the long job outlasts anything the test waits for (it is killed), so a slow start of the
second worker cannot let it finish on its own; the retried attempt takes RETRY_SECONDS."""
RETRY_SECONDS = 1.0
SHORT_SECONDS = 0.05
WORKER_ARGS = ["worker", "--heartbeat", "0.5", "--stalled-after", "2"]


def _fetch(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _status(url: str, uid: str) -> str:
    return _fetch(url, "SELECT status FROM jobs WHERE uid = %s", uid)[0][0]


async def _defer(url: str, db: Database, seconds: list[float], retry_seconds: float | None = None) -> list[str]:
    app = create_queue_app(url, min_size=1, max_size=2)
    uids = []
    async with app.open_async():
        for wait in seconds:
            request = {"seconds": wait} if retry_seconds is None else {"seconds": wait, "retrySeconds": retry_seconds}
            job = await enqueue_job(db, kind=PROBE, request=request)
            await app.configure_task(RUN_JOB_TASK, queue=JOBS_QUEUE).defer_async(job_uid=job.uid)
            uids.append(job.uid)
    return uids


async def test_two_workers_run_every_job_once_and_recover_a_killed_one(postgres_databases, tmp_path):
    url = postgres_databases.create()
    in_thread(lambda: upgrade(url))
    db = Database.from_url(url, pooled=False)
    first = start([*WORKER_ARGS, "--name", "first"], env_for(url), tmp_path / "first.log")
    second = None
    try:
        # the first worker takes the long job and is killed while running it
        [long_uid] = await _defer(url, db, [LONG_SECONDS], RETRY_SECONDS)
        await asyncio.to_thread(wait_for, lambda: _status(url, long_uid) == "running", 30, "the long job to start")
        second = start([*WORKER_ARGS, "--name", "second"], env_for(url), tmp_path / "second.log")
        short = await _defer(url, db, [SHORT_SECONDS] * (JOBS - 1))
        await asyncio.to_thread(
            wait_for,
            lambda: _fetch(url, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")[0][0] >= 5,
            30,
            "the second worker to run short jobs",
        )
        assert _status(url, long_uid) == "running"  # still held by the first worker
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        every = [long_uid, *short]
        await asyncio.to_thread(
            wait_for,
            lambda: _fetch(url, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")[0][0] == JOBS,
            45,
            "every job to succeed",
            0.2,
        )
        jobs = [await get_job(db, uid) for uid in every]
        assert {job.status for job in jobs} == {"succeeded"}
        long_job = jobs[0]
        assert long_job.attempts == 2  # the killed attempt, then the retried one
        assert long_job.result is not None
        assert long_job.result["pid"] == second.pid  # finished by the surviving worker
        assert long_job.result["slept"] == RETRY_SECONDS  # the retried attempt
        assert all(job.attempts == 1 for job in jobs[1:])

        queue_jobs = _fetch(url, "SELECT id, args->>'job_uid', status::text FROM procrastinate.procrastinate_jobs")
        assert len(queue_jobs) == JOBS  # one task per job: no duplicate was deferred
        assert {row[1] for row in queue_jobs} == set(every)
        assert {row[2] for row in queue_jobs} == {"succeeded"}
        events = dict(
            _fetch(
                url,
                "SELECT type::text, count(*) FROM procrastinate.procrastinate_events GROUP BY type",
            )
        )
        assert events["succeeded"] == JOBS  # each job ran to completion exactly once
        assert events["started"] == JOBS + 1  # plus the attempt lost with the killed worker
        per_job = _fetch(
            url,
            "SELECT job_id, count(*) FROM procrastinate.procrastinate_events WHERE type = 'succeeded' GROUP BY job_id",
        )
        assert all(count == 1 for _, count in per_job)
        log = (tmp_path / "second.log").read_text()
        assert "retried job" in log
    finally:
        for process in (first, second):
            if process is not None:
                stop(process)
        await db.dispose()
