"""Running queued jobs: the handler registry, the retry policy and the worker.

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
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg

from storage import jobs as store

log = logging.getLogger(__name__)

Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]

BACKOFF_BASE = 30.0
BACKOFF_CAP = 8 * 3600.0
BACKOFF_JITTER = 0.1
MAX_ATTEMPTS = 16
# How long a claim lasts unless renewed; the heartbeat renews it every third of that. A dead
# worker's jobs wait about this long before another worker runs them.
DEFAULT_LEASE = 30.0
# `drain()` runs without a heartbeat, so its lease outlives the job timeout by this much: a job
# is cancelled by its own worker before another worker may claim it.
LEASE_MARGIN = 60.0
MAX_ERROR_CHARS = 2000


class RetryLater(Exception):
    """Raised by a handler to be run again after `delay_seconds` (e.g. a remote's Retry-After)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds
        self.reason = reason


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (e.g. the remote answered 410 Gone)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Claim:
    """The job a handler runs for, as its worker holds it (see `current_claim`).

    A handler may settle its own job in the same statement as its last write, so no crash can
    fall between the two (the `deliver` job does, see `storage.deliveries.record_delivered`); it
    then sets `settled`, and the worker does not complete the job again.
    """

    job_id: int
    worker_id: str
    settled: bool = False


_current_claim: ContextVar[Claim | None] = ContextVar("kith_job_claim", default=None)


def current_claim() -> Claim | None:
    """The claim of the job the calling handler runs for; None outside a worker's job."""
    return _current_claim.get()


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


@dataclass(frozen=True)
class JobKind:
    handler: Handler
    max_attempts: int
    # Slots of its own (a lane), or None to share the worker's general slots.
    concurrency: int | None = None


class Registry:
    """Which handler runs the jobs of each queue."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        queue: str,
        handler: Handler,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        concurrency: int | None = None,
    ) -> None:
        """Route `queue` to `handler`; a queue has exactly one handler.

        With `concurrency`, the queue runs in a lane of that many slots of its own, so its jobs
        neither wait for nor hold the worker's general slots. Deliveries use one: a dead server
        holds a delivery slot until its request times out, and must not stall everything else.
        """
        if queue in self._kinds:
            raise ValueError(f"a handler for job queue {queue!r} is already registered")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._kinds[queue] = JobKind(handler, max_attempts, concurrency)

    def get(self, queue: str) -> JobKind | None:
        return self._kinds.get(queue)

    def lanes(self) -> dict[str, int]:
        """The queues that have slots of their own, with how many."""
        return {q: k.concurrency for q, k in self._kinds.items() if k.concurrency is not None}


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
        token = _current_claim.set(claim)
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
            _current_claim.reset(token)

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
