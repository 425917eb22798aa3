"""The durable job queue in the `jobs` table.

A job is enqueued on the caller's connection, so inside the caller's transaction it is committed
(or rolled back) together with the write that caused it. Workers claim due jobs with
`FOR UPDATE SKIP LOCKED`, so two workers never claim the same job, and hold them for a short
lease that the worker renews while the job runs (`renew`): a job whose worker died becomes due
again when its lease runs out. Completing, retrying or failing a job applies only while the
caller still holds it (`locked_by`), so a worker that lost its lease (it stalled, or its database
connection did) cannot settle a job another worker has claimed since. Completed jobs are
deleted; jobs that failed for good keep `failed_at` and `last_error` for inspection.

Inserting jobs notifies `CHANNEL` (a trigger, see migration 0002) so idle workers wake at once.
All times come from the database clock, so workers on other hosts agree on what is due.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from storage.db import Executor

CHANNEL = "kith_jobs"


async def enqueue(
    db: Executor, queue: str, payload: dict[str, Any], *, run_at: datetime | None = None
) -> int:
    """Add a job, due at `run_at` (default now); return its id."""
    return await db.fetchval(
        "INSERT INTO jobs (queue, payload, run_at) VALUES ($1, $2, coalesce($3, now()))"
        " RETURNING id",
        queue,
        payload,
        run_at,
    )


async def enqueue_many(
    db: Executor,
    queue: str,
    payloads: Sequence[dict[str, Any]],
    *,
    run_at: datetime | None = None,
) -> list[int]:
    """Add one job per payload in a single statement (fan-out); return their ids in order."""
    rows = await db.fetch(
        """
        INSERT INTO jobs (queue, payload, run_at)
        SELECT $1, p.payload, coalesce($3, now())
        FROM unnest($2::jsonb[]) WITH ORDINALITY AS p (payload, n)
        ORDER BY p.n
        RETURNING id
        """,
        queue,
        list(payloads),
        run_at,
    )
    return sorted(row["id"] for row in rows)


async def claim(
    db: Executor,
    worker_id: str,
    *,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
    exclude_queues: Sequence[str] = (),
) -> list[asyncpg.Record]:
    """Lock up to `limit` due jobs for `lease_seconds`, counting an attempt on each; only jobs
    of `queues` when given, never of `exclude_queues`.

    Returns them oldest first, `attempts` already including this one.
    """
    rows = await db.fetch(
        """
        WITH due AS (
            SELECT id FROM jobs
            WHERE run_at <= now()
              AND (locked_until IS NULL OR locked_until < now())
              AND failed_at IS NULL
              AND ($4::text[] IS NULL OR queue = ANY ($4))
              AND NOT (queue = ANY ($5::text[]))
            ORDER BY run_at, id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs
        SET locked_until = now() + make_interval(secs => $3),
            locked_by = $2,
            attempts = attempts + 1
        FROM due
        WHERE jobs.id = due.id
        RETURNING jobs.*
        """,
        limit,
        worker_id,
        lease_seconds,
        list(queues) if queues is not None else None,
        list(exclude_queues),
    )
    return sorted(rows, key=lambda row: (row["run_at"], row["id"]))


async def renew(
    db: Executor, worker_id: str, job_ids: Sequence[int], *, lease_seconds: float
) -> set[int]:
    """Extend the leases of the worker's running jobs by `lease_seconds` from now, in one
    statement; return the ids another worker has claimed since (this one lost their lease).

    Jobs gone from the table or released (done, retried) are neither renewed nor returned.
    """
    rows = await db.fetch(
        """
        WITH renewed AS (
            UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
            WHERE id = ANY ($1::bigint[]) AND locked_by = $2
        )
        SELECT id FROM jobs WHERE id = ANY ($1::bigint[]) AND locked_by <> $2
        """,
        list(job_ids),
        worker_id,
        lease_seconds,
    )
    return {row["id"] for row in rows}


async def complete(db: Executor, job_id: int, worker_id: str) -> bool:
    """Delete the done job; False (and nothing done) when `worker_id` no longer holds it."""
    status = await db.execute(
        "DELETE FROM jobs WHERE id = $1 AND locked_by = $2", job_id, worker_id
    )
    return status == "DELETE 1"


async def retry(
    db: Executor, job_id: int, worker_id: str, *, delay_seconds: float, error: str
) -> bool:
    """Release the job and make it due again `delay_seconds` from now; False (and nothing done)
    when `worker_id` no longer holds it."""
    status = await db.execute(
        """
        UPDATE jobs
        SET run_at = now() + make_interval(secs => $3), last_error = $4,
            locked_until = NULL, locked_by = NULL
        WHERE id = $1 AND locked_by = $2
        """,
        job_id,
        worker_id,
        delay_seconds,
        error,
    )
    return status == "UPDATE 1"


async def fail(db: Executor, job_id: int, worker_id: str, error: str) -> bool:
    """Give up on the job: it stays, with the error, but is never claimed again. False (and
    nothing done) when `worker_id` no longer holds it."""
    status = await db.execute(
        """
        UPDATE jobs
        SET failed_at = now(), last_error = $3, locked_until = NULL, locked_by = NULL
        WHERE id = $1 AND locked_by = $2
        """,
        job_id,
        worker_id,
        error,
    )
    return status == "UPDATE 1"


async def count_pending(db: Executor, queue: str | None = None) -> int:
    """Jobs not yet done nor failed for good: due, scheduled or running."""
    return await db.fetchval(
        "SELECT count(*) FROM jobs WHERE failed_at IS NULL AND ($1::text IS NULL OR queue = $1)",
        queue,
    )


@asynccontextmanager
async def listen(pool: asyncpg.Pool, on_notify: Callable[[], None]) -> AsyncIterator[None]:
    """Call `on_notify()` whenever jobs are enqueued, holding one pool connection meanwhile."""

    def callback(*_: object) -> None:
        on_notify()

    async with pool.acquire() as conn:
        await conn.add_listener(CHANNEL, callback)
        try:
            yield
        finally:
            await conn.remove_listener(CHANNEL, callback)
