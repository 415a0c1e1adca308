"""The job-runner interface and the in-process runner used by the REST API.

Jobs live in the database (the ``jobs`` table), so they outlive the process. A runner only decides *where* they
run: :class:`InProcessRunner` runs them in worker threads of the API process, bounded by a capacity limiter it
shares with inline solves. A task-queue runner (separate worker processes) can replace it behind
:class:`JobRunner`.

Leases: a running job's ``updated_at`` is its heartbeat, renewed every ``lease_seconds / 3``. At startup and at
every poll, jobs whose heartbeat is older than the lease (their process died) are queued again. A clean shutdown
gives running jobs back to the queue without counting the attempt.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from planner.db.engine import Database
from planner.db.errors import StorageError
from planner.db.job_queue import heartbeat, release, requeue_expired
from planner.db.jobs import Job, claim_job, complete_job, fail_job
from planner.worker.settings import SolveSettings

log = logging.getLogger(__name__)

JobHandler = Callable[[Database, Job], Awaitable[dict[str, Any]]]
"""Runs one job and returns its JSON-compatible result."""


class JobInputError(Exception):
    """The job can never succeed (its stored request is unusable): it fails without a retry."""


class SolverBusy(Exception):  # noqa: N818 - reads as the condition
    """Every solve slot of this process is taken."""


class CallerBusy(SolverBusy):
    """This caller already runs as many inline solves as ``PLANNER_SOLVES_PER_TOKEN`` allows."""


class JobRunner(Protocol):
    """Where stored jobs run."""

    async def submit(self, job: Job) -> None:
        """A job was stored as ``queued``: run it when capacity allows."""

    async def run_pending(self) -> int:
        """Start queued jobs while capacity is free (and requeue expired leases); return how many started."""


class InProcessRunner:
    """Runs jobs in worker threads of this process, at most ``settings.concurrency`` solves at a time (inline
    solves included). Polls the table every ``settings.poll_seconds`` for jobs queued elsewhere and for leases
    that expired; renews the lease of its own running jobs."""

    def __init__(self, db: Database, settings: SolveSettings, handlers: Mapping[str, JobHandler]) -> None:
        self.db = db
        self.settings = settings
        self.handlers = dict(handlers)
        self.limiter = anyio.CapacityLimiter(max(settings.concurrency, 1))
        self._per_caller: dict[str, int] = {}
        self._wake = anyio.Event()
        self._group: TaskGroup | None = None

    @property
    def runs_jobs(self) -> bool:
        """``False`` for an API-only process (concurrency 0): it stores jobs and leaves them to other workers."""
        return self.settings.concurrency > 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[InProcessRunner]:
        """Run in the background while the block lasts; on exit, running jobs are released back to the queue."""
        async with anyio.create_task_group() as group:
            self._group = group
            if self.runs_jobs:
                group.start_soon(self._serve)
            try:
                yield self
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def submit(self, job: Job) -> None:
        del job  # the job is in the table; wake the loop to claim it
        self._wake.set()

    async def run_pending(self) -> int:
        group = self._group
        if group is None or not self.runs_jobs:
            return 0
        await requeue_expired(self.db, self.settings.lease_seconds)
        started = 0
        # A slot is taken only once a job is claimed: holding one while the database answers "nothing queued"
        # would turn away an inline solve that arrives meanwhile although no solve runs.
        while self.limiter.available_tokens >= 1:
            job = await claim_job(self.db)
            if job is None:
                break
            borrower = object()
            try:
                self.limiter.acquire_on_behalf_of_nowait(borrower)
            except anyio.WouldBlock:
                # an inline solve took the slot while the job was being claimed: the job waits for the next one
                await release(self.db, job.uid)
                break
            group.start_soon(self._run, job, borrower)
            started += 1
        return started

    @asynccontextmanager
    async def inline_slot(self, caller: str = "") -> AsyncIterator[None]:
        """Hold one solve slot for an inline solve by ``caller`` (a token id).

        Raises:
            CallerBusy: ``caller`` already holds ``per_caller`` slots (the caller answers 429).
            SolverBusy: every slot is taken (the caller answers 429).
        """
        if self._per_caller.get(caller, 0) >= self.settings.per_caller:
            raise CallerBusy
        borrower = object()
        try:
            self.limiter.acquire_on_behalf_of_nowait(borrower)
        except anyio.WouldBlock as exc:
            raise SolverBusy from exc
        self._per_caller[caller] = self._per_caller.get(caller, 0) + 1
        try:
            yield
        finally:
            held = self._per_caller[caller] - 1
            if held:
                self._per_caller[caller] = held
            else:
                del self._per_caller[caller]
            self.limiter.release_on_behalf_of(borrower)
            self._wake.set()

    async def _serve(self) -> None:
        while True:
            try:
                # a database call cancelled half-way can leave its connection stuck at shutdown: finish it first
                with anyio.CancelScope(shield=True):
                    await self.run_pending()
            except Exception:
                log.exception("could not start queued jobs; retrying")
            with anyio.move_on_after(self.settings.poll_seconds):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def _beat(self, uid: str) -> None:
        while True:
            await anyio.sleep(self.settings.heartbeat_seconds)
            try:
                with anyio.CancelScope(shield=True):
                    alive = await heartbeat(self.db, uid)
                if not alive:
                    return
            except Exception:
                log.exception("heartbeat of job %s failed", uid)

    async def _run(self, job: Job, borrower: object) -> None:
        held = True

        def free() -> None:
            # the slot is free before the outcome is recorded: whoever sees the job finished can solve again
            nonlocal held
            if held:
                held = False
                self.limiter.release_on_behalf_of(borrower)
                self._wake.set()

        try:
            async with anyio.create_task_group() as beats:
                beats.start_soon(self._beat, job.uid)
                await self._execute(job, free)
                beats.cancel_scope.cancel()
        finally:
            free()

    async def _execute(self, job: Job, free: Callable[[], None]) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                msg = f"no handler for jobs of kind {job.kind!r}"
                raise JobInputError(msg)
            result = await handler(self.db, job)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await release(self.db, job.uid)
            raise
        except JobInputError as exc:
            free()
            await self._finish(fail_job(self.db, job.uid, {"message": str(exc)}, retry=False))
        except Exception as exc:
            log.exception("job %s failed", job.uid)
            free()
            await self._finish(fail_job(self.db, job.uid, {"message": f"{type(exc).__name__}: {exc}"}))
        else:
            free()
            await self._finish(complete_job(self.db, job.uid, result))

    @staticmethod
    async def _finish(outcome: Awaitable[Job]) -> None:
        try:
            with anyio.CancelScope(shield=True):
                await outcome
        except StorageError as exc:
            # the lease expired and another worker took the job over; its outcome wins
            log.warning("job outcome not recorded: %s", exc)
