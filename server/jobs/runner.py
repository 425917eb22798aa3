"""Running queued jobs: the retry policy and the worker (the handlers' contract is
`storage/job_handlers.py`).

A handler is `async def handler(ctx, payload)`, where `ctx` is whatever the worker was built with
(the server passes its pool, configuration and, later, its HTTP session). A handler signals
its outcome by returning (done: the job is deleted), raising `RetryLater` (try again after a
given delay), raising `PermanentFailure` (give up now), or raising anything else (a transient
error or a bug: retried with exponential backoff).

The backoff schedule, delay after failed attempt n = min(30 s * 2**(n-1), 8 h), ±10% jitter:

    30 s, 1 m, 2 m, 4 m, 8 m, 16 m, 32 m, 64 m, 2 h 8 m, 4 h 16 m, then 8 h five times

so with the default of 16 attempts a job is retried for about 48.5 hours (two days, like
Mastodon's deliveries) before it fails for good. Every run counts as an attempt, including one
ending in `RetryLater`, so no job is retried forever. Failed jobs stay in the table for
inspection.

Leases: a worker claims jobs for a short lease (`DEFAULT_LEASE`, 30 s) and, while they run,
renews the leases of all its running jobs in one statement every third of it (the heartbeat), so
the jobs of a worker that died (SIGKILL, lost host) are taken over by another within about a
lease, while a job may still run for its whole `job_timeout`. A worker that loses a lease (it
stalled past it and another worker claimed the job) cancels that job, and its completion or
retry of it is refused by the store (`locked_by`), so the job is settled once, by its holder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg

from storage import jobs as store
from storage.job_handlers import (
    Claim,
    JobKind,
    PermanentFailure,
    Registry,
    RetryLater,
    holding,
)

log = logging.getLogger(__name__)

BACKOFF_BASE = 30.0
BACKOFF_CAP = 8 * 3600.0
BACKOFF_JITTER = 0.1
# How long a claim lasts unless renewed; the heartbeat renews it every third of that. A dead
# worker's jobs wait about this long before another worker runs them.
DEFAULT_LEASE = 30.0
# `drain()` runs without a heartbeat, so its lease outlives the job timeout by this much: a job
# is cancelled by its own worker before another worker may claim it.
LEASE_MARGIN = 60.0
MAX_ERROR_CHARS = 2000


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    `jitter()` returns a number in [0, 1); it spreads the delay by ±BACKOFF_JITTER so jobs that
    failed together (a server went down) do not all come back at the same moment.
    """
    delay = min(cap, base * 2 ** min(attempt - 1, 64))  # a bounded exponent cannot overflow
    return delay * (1 + BACKOFF_JITTER * (2 * jitter() - 1))


@dataclass
class _Lane:
    """Slots for some queues: `queues` None means every queue without a lane of its own."""

    limit: int
    queues: list[str] | None
    running: set[asyncio.Task[None]]

    @property
    def free(self) -> int:
        return self.limit - len(self.running)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def _label(job: asyncpg.Record) -> str:
    return f"job {job['id']} ({job['queue']}, attempt {job['attempts']})"


class Worker:
    """Claims due jobs and runs up to `concurrency` of them at once, plus up to a lane's own
    concurrency for each queue registered with one.

    `run()` is the long-running loop. It sleeps until a job is enqueued (LISTEN/NOTIFY), a slot
    frees up, or `poll_interval` passes (for jobs rescheduled into the future, and in case a
    notification was missed). `drain()` runs due jobs one by one until none remain, for tests.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        ctx: Any,
        *,
        concurrency: int = 8,
        poll_interval: float = 5.0,
        job_timeout: float = 300.0,
        lease_seconds: float = DEFAULT_LEASE,
        shutdown_grace: float = 10.0,
        worker_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.ctx = ctx
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.lease_seconds = lease_seconds
        self.shutdown_grace = shutdown_grace
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until `stop` is set, then let running jobs finish within `shutdown_grace`.

        Jobs still running after that are cancelled and released to run again at once.
        """
        wake = asyncio.Event()
        own = self.registry.lanes()
        lanes = [_Lane(self.concurrency, None, set())]
        lanes += [_Lane(limit, [queue], set()) for queue, limit in own.items()]
        running: dict[int, asyncio.Task[None]] = {}  # by job id, for the heartbeat

        def finished(lane: _Lane, job_id: int, task: asyncio.Task[None]) -> None:
            lane.running.discard(task)
            if running.get(job_id) is task:  # not a later run of the same job
                del running[job_id]
            wake.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("job bookkeeping failed", exc_info=task.exception())

        heartbeat = asyncio.create_task(self._heartbeat(running), name="kith-worker-heartbeat")
        try:
            async with store.listen(self.pool, wake.set):
                try:
                    while not stop.is_set():
                        wake.clear()
                        for lane in lanes:
                            if lane.free <= 0:
                                continue
                            claimed = await self._claim(lane.free, lane.queues, exclude=list(own))
                            for job in claimed:
                                task = asyncio.create_task(self._execute(job, propagate=False))
                                lane.running.add(task)
                                running[job["id"]] = task
                                task.add_done_callback(partial(finished, lane, job["id"]))
                        await _wait_any(stop, wake, timeout=self.poll_interval)
                finally:
                    await self._stop(set(running.values()))
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _heartbeat(self, running: dict[int, asyncio.Task[None]]) -> None:
        """Every third of a lease, renew the leases of all running jobs in one statement, and
        cancel any job another worker has claimed meanwhile (this one stalled past its lease).

        A failed renewal (database unreachable) is logged and tried again at the next beat; the
        jobs keep running, and two more beats remain before their leases run out.
        """
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            ids = list(running)
            if not ids:
                continue
            try:
                lost = await store.renew(
                    self.pool, self.worker_id, ids, lease_seconds=self.lease_seconds
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("renewing the leases of %d running jobs failed", len(ids))
                continue
            for job_id in lost:
                if (task := running.get(job_id)) is not None:
                    log.warning("job %s was claimed by another worker; cancelling it here", job_id)
                    task.cancel()

    async def drain(self) -> int:
        """Run due jobs until none remain; return how many runs there were.

        Errors other than RetryLater and PermanentFailure are recorded as usual and then
        raised, so tests see handler bugs.
        """
        runs = 0
        lease = self.job_timeout + LEASE_MARGIN
        while jobs := await store.claim(self.pool, self.worker_id, limit=1, lease_seconds=lease):
            await self._execute(jobs[0], propagate=True)
            runs += 1
        return runs

    async def _claim(
        self, limit: int, queues: list[str] | None, *, exclude: list[str]
    ) -> list[asyncpg.Record]:
        try:
            return await store.claim(
                self.pool,
                self.worker_id,
                limit=limit,
                lease_seconds=self.lease_seconds,
                queues=queues,
                exclude_queues=exclude if queues is None else (),
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("claiming jobs failed; trying again in %s s", self.poll_interval)
            return []

    async def _execute(self, job: asyncpg.Record, *, propagate: bool) -> None:
        kind = self.registry.get(job["queue"])
        if kind is None:
            log.error("%s failed: no handler for its queue", _label(job))
            await self._fail(job, f"no handler for queue {job['queue']!r}")
            return
        claim = Claim(job["id"], self.worker_id)
        token = holding(claim)
        try:
            async with asyncio.timeout(self.job_timeout):
                await kind.handler(self.ctx, job["payload"])
        except RetryLater as exc:
            await self._retry(job, kind, exc.delay_seconds, f"retry later: {exc.reason}")
        except PermanentFailure as exc:
            log.warning("%s failed for good: %s", _label(job), exc.reason)
            await self._fail(job, exc.reason[:MAX_ERROR_CHARS])
        except asyncio.CancelledError:
            await self._settled(
                job,
                store.retry(
                    self.pool,
                    job["id"],
                    self.worker_id,
                    delay_seconds=0,
                    error="interrupted: the worker stopped",
                ),
            )
            raise
        except Exception as exc:
            # drain() raises the error instead, with its traceback.
            log.warning("%s failed: %s", _label(job), _describe(exc), exc_info=not propagate)
            await self._retry(job, kind, backoff_delay(job["attempts"]), _describe(exc))
            if propagate:
                raise
        else:
            if not claim.settled:
                await self._settled(job, store.complete(self.pool, job["id"], self.worker_id))
        finally:
            token.var.reset(token)

    async def _retry(self, job: asyncpg.Record, kind: JobKind, delay: float, error: str) -> None:
        if job["attempts"] >= kind.max_attempts:
            log.warning("%s failed for good, out of attempts: %s", _label(job), error)
            await self._fail(job, f"gave up after {job['attempts']} attempts: {error}")
        else:
            await self._settled(
                job,
                store.retry(self.pool, job["id"], self.worker_id, delay_seconds=delay, error=error),
            )

    async def _fail(self, job: asyncpg.Record, error: str) -> None:
        await self._settled(job, store.fail(self.pool, job["id"], self.worker_id, error))

    @staticmethod
    async def _settled(job: asyncpg.Record, outcome: Awaitable[bool]) -> None:
        """Await a completion, retry or failure; when the store refused it because another
        worker holds the job now, say so: that worker settles it."""
        if not await outcome:
            log.warning("%s was claimed by another worker meanwhile; left to it", _label(job))

    async def _stop(self, running: set[asyncio.Task[None]]) -> None:
        if not running:
            return
        _, unfinished = await asyncio.wait(set(running), timeout=self.shutdown_grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of `events` is set, or after `timeout` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
