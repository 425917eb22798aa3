"""The durable job queue: storage, retry policy, worker loop and its place in the server."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from server.app import create_app
from server.config import Config
from server.jobs.runner import BACKOFF_CAP, Worker, backoff_delay
from server.jobs.worker import run_standalone_worker
from server.state import POOL
from storage import jobs
from storage.db import create_pool
from storage.job_handlers import MAX_ATTEMPTS, PermanentFailure, Registry, RetryLater


@pytest.fixture
async def pool(db_dsn: str):
    pool = await create_pool(db_dsn, max_size=5)
    yield pool
    await pool.close()


def registry(**handlers) -> Registry:
    reg = Registry()
    for queue, handler in handlers.items():
        reg.register(queue, handler)
    return reg


async def job(pool: asyncpg.Pool, job_id: int) -> asyncpg.Record | None:
    """The job's row, with `due_in`: seconds until its run_at (negative when overdue)."""
    return await pool.fetchrow(
        "SELECT *, extract(epoch FROM run_at - now())::float AS due_in FROM jobs WHERE id = $1",
        job_id,
    )


async def eventually(condition, *, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


def worker_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "kith-worker"]


# Storage


async def test_a_job_rolls_back_with_the_write_that_caused_it(pool):
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await jobs.enqueue(conn, "deliver", {"to": "a"})
                raise RuntimeError("the causing write failed")
        async with conn.transaction():
            kept = await jobs.enqueue(conn, "deliver", {"to": "b"})
    assert await pool.fetchval("SELECT array_agg(id) FROM jobs") == [kept]
    assert await jobs.count_pending(pool) == 1


async def test_enqueue_many_fans_out_in_order(pool):
    ids = await jobs.enqueue_many(pool, "deliver", [{"inbox": n} for n in range(5)])
    rows = await pool.fetch("SELECT id, queue, payload FROM jobs ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert [r["payload"] for r in rows] == [{"inbox": n} for n in range(5)]
    assert await jobs.enqueue_many(pool, "deliver", []) == []
    assert await jobs.count_pending(pool, "deliver") == 5
    assert await jobs.count_pending(pool, "fetch") == 0


async def test_claim_takes_due_jobs_of_the_given_queues_oldest_first(pool):
    first = await jobs.enqueue(pool, "deliver", {})
    await jobs.enqueue(pool, "fetch", {})
    later = await pool.fetchval("SELECT now() + interval '1 hour'")
    await jobs.enqueue(pool, "deliver", {}, run_at=later)
    second = await jobs.enqueue(pool, "deliver", {})

    claimed = await jobs.claim(pool, "w", limit=10, lease_seconds=60, queues=["deliver"])

    assert [r["id"] for r in claimed] == [first, second]
    assert all(r["attempts"] == 1 and r["locked_by"] == "w" for r in claimed)


async def test_concurrent_claimers_never_get_the_same_job(db_dsn, pool):
    await jobs.enqueue_many(pool, "deliver", [{"n": n} for n in range(60)])
    other = await create_pool(db_dsn, max_size=5)
    try:
        claimed: list[int] = []
        while True:
            batches = await asyncio.gather(
                *(
                    jobs.claim(p, f"worker-{i}", limit=3, lease_seconds=60)
                    for i, p in enumerate([pool, other] * 5)
                )
            )
            ids = [row["id"] for batch in batches for row in batch]
            if not ids:
                break
            claimed += ids
    finally:
        await other.close()
    assert len(claimed) == len(set(claimed)) == 60


async def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(pool):
    job_id = await jobs.enqueue(pool, "deliver", {})
    [dead] = await jobs.claim(pool, "dead-worker", limit=1, lease_seconds=60)
    assert dead["id"] == job_id
    assert await jobs.claim(pool, "live-worker", limit=1, lease_seconds=60) == []

    await pool.execute("UPDATE jobs SET locked_until = now() - interval '1 second'")
    [again] = await jobs.claim(pool, "live-worker", limit=1, lease_seconds=60)

    assert (again["id"], again["attempts"], again["locked_by"]) == (job_id, 2, "live-worker")


async def test_a_stale_worker_cannot_settle_a_job_another_worker_holds(pool):
    job_id = await jobs.enqueue(pool, "deliver", {})
    await jobs.claim(pool, "worker-a", limit=1, lease_seconds=0.2)
    await asyncio.sleep(0.3)  # worker A stalls past its lease; worker B takes the job over
    [taken] = await jobs.claim(pool, "worker-b", limit=1, lease_seconds=60)
    assert taken["id"] == job_id
    before = await job(pool, job_id)

    assert not await jobs.complete(pool, job_id, "worker-a")
    assert not await jobs.retry(pool, job_id, "worker-a", delay_seconds=0, error="stale")
    assert not await jobs.fail(pool, job_id, "worker-a", "stale")
    assert await jobs.renew(pool, "worker-a", [job_id], lease_seconds=60) == {job_id}  # lost

    after = await job(pool, job_id)
    kept = ("locked_by", "locked_until", "run_at", "failed_at", "last_error", "attempts")
    assert [after[c] for c in kept] == [before[c] for c in kept]
    assert after["locked_by"] == "worker-b" and after["last_error"] is None
    assert await jobs.renew(pool, "worker-b", [job_id], lease_seconds=60) == set()
    assert (await job(pool, job_id))["locked_until"] > after["locked_until"]
    assert await jobs.complete(pool, job_id, "worker-b")
    assert await job(pool, job_id) is None
    # A job done meanwhile is not lost: nothing to renew, nothing to cancel.
    assert await jobs.renew(pool, "worker-b", [job_id], lease_seconds=60) == set()


async def test_a_killed_workers_job_is_run_by_another_once_its_short_lease_runs_out(pool):
    runs: list[str] = []

    async def record(ctx, payload):
        runs.append(payload["n"])

    job_id = await jobs.enqueue(pool, "q", {"n": "only"})
    # Worker A claims the job and is killed: it never runs it, and never renews its lease.
    [claimed] = await jobs.claim(pool, "killed-worker", limit=1, lease_seconds=0.5)
    assert claimed["id"] == job_id
    stop = asyncio.Event()
    worker_b = Worker(pool, registry(q=record), None, lease_seconds=0.5, poll_interval=0.05)
    started = time.monotonic()
    task = asyncio.create_task(worker_b.run(stop))
    try:
        await asyncio.sleep(0.3)
        assert runs == []  # still leased to A

        async def done() -> bool:
            return await job(pool, job_id) is None

        await eventually(done)
        assert runs == ["only"]
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_the_heartbeat_keeps_a_long_job_from_other_workers(pool):
    started, release = asyncio.Event(), asyncio.Event()

    async def long_job(ctx, payload):
        started.set()
        await release.wait()

    job_id = await jobs.enqueue(pool, "long", {})
    stop = asyncio.Event()
    worker = Worker(pool, registry(long=long_job), None, lease_seconds=0.3, poll_interval=0.05)
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(started.wait(), 5)
        deadline = time.monotonic() + 1.5  # five leases
        while time.monotonic() < deadline:
            assert await jobs.claim(pool, "worker-b", limit=1, lease_seconds=60) == []
            row = await job(pool, job_id)
            assert row["locked_by"] == worker.worker_id
            await asyncio.sleep(0.05)
        release.set()

        async def done() -> bool:
            return await job(pool, job_id) is None

        await eventually(done)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_worker_that_stalled_past_its_lease_leaves_the_job_to_its_new_holder(
    db_dsn, pool, caplog
):
    taken: list[int] = []

    async def claim_as_worker_b() -> list[int]:
        conn = await asyncpg.connect(db_dsn)
        try:
            rows = await jobs.claim(conn, "worker-b", limit=1, lease_seconds=60)
            return [row["id"] for row in rows]
        finally:
            await conn.close()

    async def stalls(ctx, payload):
        # Block the event loop, as a stalled process would: no heartbeat renews the lease, and
        # worker B (on another thread, its own loop and connection) claims the job meanwhile.
        time.sleep(0.6)
        with ThreadPoolExecutor(1) as other:
            taken.extend(other.submit(asyncio.run, claim_as_worker_b()).result())

    job_id = await jobs.enqueue(pool, "stalls", {})
    stop = asyncio.Event()
    worker = Worker(pool, registry(stalls=stalls), None, lease_seconds=0.3, poll_interval=0.05)
    task = asyncio.create_task(worker.run(stop))
    try:
        with caplog.at_level(logging.WARNING, logger="server.jobs.runner"):

            async def given_up() -> bool:
                return "claimed by another worker" in caplog.text

            await eventually(given_up)
        assert taken == [job_id]
        await asyncio.sleep(0.3)  # heartbeats of worker A, had it not let go
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    row = await job(pool, job_id)
    assert (row["locked_by"], row["attempts"]) == ("worker-b", 2)
    assert (row["failed_at"], row["last_error"]) == (None, None)


# Handlers and the retry policy


async def test_drain_runs_a_job_exactly_once_and_deletes_it(pool):
    seen = []

    async def handler(ctx, payload):
        seen.append((ctx, payload))

    job_id = await jobs.enqueue(pool, "deliver", {"to": "https://remote.example/inbox"})
    worker = Worker(pool, registry(deliver=handler), "the context")

    assert await worker.drain() == 1
    assert await worker.drain() == 0
    assert seen == [("the context", {"to": "https://remote.example/inbox"})]
    assert await job(pool, job_id) is None


async def test_retry_later_honours_the_delay(pool):
    async def handler(ctx, payload):
        raise RetryLater(3600, "remote said 429")

    job_id = await jobs.enqueue(pool, "deliver", {})
    await Worker(pool, registry(deliver=handler), None).drain()

    row = await job(pool, job_id)
    assert 3590 < row["due_in"] <= 3600
    assert row["last_error"] == "retry later: remote said 429"
    assert (row["attempts"], row["locked_until"], row["failed_at"]) == (1, None, None)
    assert await jobs.claim(pool, "w", limit=1, lease_seconds=60) == []
    assert await jobs.count_pending(pool) == 1


async def test_permanent_failure_keeps_the_job_but_never_runs_it_again(pool):
    async def handler(ctx, payload):
        raise PermanentFailure("410 Gone")

    job_id = await jobs.enqueue(pool, "deliver", {})
    await Worker(pool, registry(deliver=handler), None).drain()

    row = await job(pool, job_id)
    assert row["failed_at"] is not None
    assert row["last_error"] == "410 Gone"
    await pool.execute("UPDATE jobs SET run_at = now() - interval '1 day'")
    assert await jobs.claim(pool, "w", limit=1, lease_seconds=60) == []
    assert await jobs.count_pending(pool) == 0


async def test_other_errors_propagate_from_drain_and_back_off_until_attempts_run_out(pool):
    async def handler(ctx, payload):
        raise ValueError("boom")

    reg = Registry()
    reg.register("deliver", handler, max_attempts=2)
    worker = Worker(pool, reg, None)
    job_id = await jobs.enqueue(pool, "deliver", {})

    with pytest.raises(ValueError, match="boom"):
        await worker.drain()
    row = await job(pool, job_id)
    assert 26 < row["due_in"] <= 33  # the first backoff step, 30 s ± 10%
    assert (row["last_error"], row["failed_at"]) == ("ValueError: boom", None)

    await pool.execute("UPDATE jobs SET run_at = now()")
    with pytest.raises(ValueError):
        await worker.drain()
    row = await job(pool, job_id)
    assert row["failed_at"] is not None
    assert row["last_error"] == "gave up after 2 attempts: ValueError: boom"


async def test_a_job_running_past_its_timeout_is_retried(pool):
    async def handler(ctx, payload):
        await asyncio.sleep(10)

    job_id = await jobs.enqueue(pool, "deliver", {})
    with pytest.raises(TimeoutError):
        await Worker(pool, registry(deliver=handler), None, job_timeout=0.05).drain()

    row = await job(pool, job_id)
    assert row["last_error"] == "TimeoutError"
    assert row["due_in"] > 20


async def test_a_job_for_an_unknown_queue_fails_with_a_logged_reason(pool, caplog):
    job_id = await jobs.enqueue(pool, "no-such-queue", {})
    with caplog.at_level(logging.ERROR, logger="server.jobs.runner"):
        await Worker(pool, Registry(), None).drain()

    row = await job(pool, job_id)
    assert row["failed_at"] is not None
    assert row["last_error"] == "no handler for queue 'no-such-queue'"
    assert f"job {job_id} (no-such-queue, attempt 1) failed" in caplog.text


def test_registering_a_queue_twice_is_refused():
    async def handler(ctx, payload):
        pass

    reg = registry(deliver=handler)
    assert reg.get("deliver").handler is handler
    with pytest.raises(ValueError, match="deliver"):
        reg.register("deliver", handler)


def test_backoff_grows_then_is_capped():
    delays = [backoff_delay(n, jitter=lambda: 0.5) for n in range(1, 40)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays == sorted(delays)
    assert max(delays) == BACKOFF_CAP


def test_backoff_jitter_stays_within_ten_percent():
    for n in (1, 5, 20):
        middle = backoff_delay(n, jitter=lambda: 0.5)
        assert backoff_delay(n, jitter=lambda: 0.0) == pytest.approx(middle * 0.9)
        assert middle < backoff_delay(n, jitter=lambda: 0.999) < middle * 1.1
        assert all(0.9 * middle <= backoff_delay(n) < 1.1 * middle for _ in range(100))


def test_backoff_gives_up_after_about_two_days():
    # Attempt MAX_ATTEMPTS fails the job, so there are MAX_ATTEMPTS - 1 waits.
    total = sum(backoff_delay(n, jitter=lambda: 0.5) for n in range(1, MAX_ATTEMPTS))
    assert 44 * 3600 < total < 52 * 3600
    lowest = sum(backoff_delay(n, jitter=lambda: 0.0) for n in range(1, MAX_ATTEMPTS))
    assert lowest > 40 * 3600


# The worker loop


async def test_notify_wakes_an_idle_worker_long_before_its_next_poll(pool):
    seen: asyncio.Queue[int] = asyncio.Queue()

    async def handler(ctx, payload):
        seen.put_nowait(payload["n"])

    stop = asyncio.Event()
    task = asyncio.create_task(
        Worker(pool, registry(ping=handler), None, poll_interval=30).run(stop)
    )
    try:
        await jobs.enqueue(pool, "ping", {"n": 1})
        assert await asyncio.wait_for(seen.get(), 5) == 1
        await asyncio.sleep(0.2)  # idle now: without a notification it would sleep for 30 s
        async with pool.acquire() as conn, conn.transaction():
            await jobs.enqueue(conn, "ping", {"n": 2})
        assert await asyncio.wait_for(seen.get(), 2) == 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_slow_job_does_not_block_the_others(pool):
    release = asyncio.Event()
    fast_done: list[int] = []

    async def slow(ctx, payload):
        await release.wait()

    async def fast(ctx, payload):
        fast_done.append(payload["n"])

    slow_id = await jobs.enqueue(pool, "slow", {})
    await jobs.enqueue_many(pool, "fast", [{"n": n} for n in range(3)])
    stop = asyncio.Event()
    worker = Worker(pool, registry(slow=slow, fast=fast), None, concurrency=2)
    task = asyncio.create_task(worker.run(stop))
    try:

        async def fast_ones_done() -> bool:
            return sorted(fast_done) == [0, 1, 2]

        await eventually(fast_ones_done)
        assert await job(pool, slow_id) is not None
        release.set()

        async def all_done() -> bool:
            return await jobs.count_pending(pool) == 0

        await eventually(all_done)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_queue_with_a_lane_neither_holds_nor_exceeds_its_slots(pool):
    release = asyncio.Event()
    slow_running: list[int] = []
    fast_done: list[int] = []

    async def slow(ctx, payload):
        slow_running.append(payload["n"])
        await release.wait()

    async def fast(ctx, payload):
        fast_done.append(payload["n"])

    reg = registry(fast=fast)
    reg.register("slow", slow, concurrency=2)
    await jobs.enqueue_many(pool, "slow", [{"n": n} for n in range(5)])
    await jobs.enqueue_many(pool, "fast", [{"n": n} for n in range(3)])
    stop = asyncio.Event()
    # One general slot: without the lane, the slow jobs (enqueued first) would take it.
    task = asyncio.create_task(Worker(pool, reg, None, concurrency=1).run(stop))
    try:

        async def fast_ones_done() -> bool:
            return sorted(fast_done) == [0, 1, 2]

        await eventually(fast_ones_done)
        assert len(slow_running) == 2  # the lane's width, no more
        release.set()

        async def all_done() -> bool:
            return await jobs.count_pending(pool) == 0

        await eventually(all_done)
        assert sorted(slow_running) == [0, 1, 2, 3, 4]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def test_a_lane_needs_at_least_one_slot():
    with pytest.raises(ValueError, match="concurrency"):
        Registry().register("q", lambda ctx, payload: None, concurrency=0)


async def test_stopping_releases_jobs_that_outlive_the_grace_period(pool):
    started = asyncio.Event()

    async def stuck(ctx, payload):
        started.set()
        await asyncio.Event().wait()

    job_id = await jobs.enqueue(pool, "stuck", {})
    stop = asyncio.Event()
    worker = Worker(pool, registry(stuck=stuck), None, shutdown_grace=0.05)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)

    row = await job(pool, job_id)
    assert (row["locked_until"], row["last_error"]) == (None, "interrupted: the worker stopped")
    assert row["due_in"] <= 0


# In the server


async def test_the_worker_runs_and_stops_with_the_app(db_dsn, config: Config, aiohttp_client):
    client = await aiohttp_client(create_app(config, db_dsn, run_worker=True))
    assert len(worker_tasks()) == 1
    pool = client.server.app[POOL]
    # No production handler serves this queue, so the running worker fails the job.
    job_id = await jobs.enqueue(pool, "no-such-queue", {})

    async def failed() -> bool:
        return (await job(pool, job_id))["failed_at"] is not None

    await eventually(failed)
    await client.close()
    assert worker_tasks() == []


async def test_the_standalone_worker_runs_until_the_signal(config: Config, db_dsn, pool):
    job_id = await jobs.enqueue(pool, "no-such-queue", {})

    async def failed() -> bool:
        return (await job(pool, job_id))["failed_at"] is not None

    async def signal_once_the_job_is_handled() -> None:
        await eventually(failed)

    await asyncio.wait_for(
        run_standalone_worker(config, db_dsn, signal_once_the_job_is_handled), 10
    )
    assert worker_tasks() == []
