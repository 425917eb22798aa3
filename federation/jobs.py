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

log = logging.getLogger(__name__)

Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]

BACKOFF_BASE = 30.0
BACKOFF_CAP = 8 * 3600.0
BACKOFF_JITTER = 0.1
MAX_ATTEMPTS = 16
# A lease outlives the job timeout by this much, so a job is cancelled by its own worker before
# another worker may claim it.
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
        shutdown_grace: float = 10.0,
        worker_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.ctx = ctx
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.shutdown_grace = shutdown_grace
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    @property
    def lease_seconds(self) -> float:
        return self.job_timeout + LEASE_MARGIN

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until `stop` is set, then let running jobs finish within `shutdown_grace`.

        Jobs still running after that are cancelled and released to run again at once.
        """
        wake = asyncio.Event()
        own = self.registry.lanes()
        lanes = [_Lane(self.concurrency, None, set())]
        lanes += [_Lane(limit, [queue], set()) for queue, limit in own.items()]

        def finished(lane: _Lane, task: asyncio.Task[None]) -> None:
            lane.running.discard(task)
            wake.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("job bookkeeping failed", exc_info=task.exception())

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
                            task.add_done_callback(partial(finished, lane))
                    await _wait_any(stop, wake, timeout=self.poll_interval)
            finally:
                await self._stop(set().union(*(lane.running for lane in lanes)))

    async def drain(self) -> int:
        """Run due jobs until none remain; return how many runs there were.

        Errors other than RetryLater and PermanentFailure are recorded as usual and then
        raised, so tests see handler bugs.
        """
        runs = 0
        while jobs := await store.claim(
            self.pool, self.worker_id, limit=1, lease_seconds=self.lease_seconds
        ):
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
            await store.fail(self.pool, job["id"], f"no handler for queue {job['queue']!r}")
            return
        try:
            async with asyncio.timeout(self.job_timeout):
                await kind.handler(self.ctx, job["payload"])
        except RetryLater as exc:
            await self._retry(job, kind, exc.delay_seconds, f"retry later: {exc.reason}")
        except PermanentFailure as exc:
            log.warning("%s failed for good: %s", _label(job), exc.reason)
            await store.fail(self.pool, job["id"], exc.reason[:MAX_ERROR_CHARS])
        except asyncio.CancelledError:
            await store.retry(
                self.pool, job["id"], delay_seconds=0, error="interrupted: the worker stopped"
            )
            raise
        except Exception as exc:
            # drain() raises the error instead, with its traceback.
            log.warning("%s failed: %s", _label(job), _describe(exc), exc_info=not propagate)
            await self._retry(job, kind, backoff_delay(job["attempts"]), _describe(exc))
            if propagate:
                raise
        else:
            await store.complete(self.pool, job["id"])

    async def _retry(self, job: asyncpg.Record, kind: JobKind, delay: float, error: str) -> None:
        if job["attempts"] >= kind.max_attempts:
            log.warning("%s failed for good, out of attempts: %s", _label(job), error)
            await store.fail(
                self.pool, job["id"], f"gave up after {job['attempts']} attempts: {error}"
            )
        else:
            await store.retry(self.pool, job["id"], delay_seconds=delay, error=error)

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
