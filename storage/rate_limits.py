"""Rate-limit counters in fixed windows, shared by every process on the database.

A counter is a row of `rate_limits` keyed by (bucket, key); see migration 0013.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from storage.db import Executor, fetch_one

# Expired rows deleted by each hit: more than one so the table shrinks after a burst of keys
# that are never seen again, few enough that a hit stays cheap.
_SWEEP = 20


async def count_hit(db: Executor, bucket: str, key: str, period: timedelta) -> asyncpg.Record:
    """Count one hit; the counter's `hits` in its window, `resets_at`, and `retry_after`.

    `retry_after` is the whole seconds until the window resets (at least 1). The counter starts
    a new window of `period` when its old one is over. The statement also deletes a few expired
    rows of other counters, skipping any another statement holds.
    """
    return await fetch_one(
        db,
        """
        WITH swept AS (
            DELETE FROM rate_limits
            WHERE (bucket, key) IN (
                SELECT bucket, key FROM rate_limits
                WHERE resets_at <= now() AND (bucket, key) <> ($1, $2)
                LIMIT $4
                FOR UPDATE SKIP LOCKED
            )
        )
        INSERT INTO rate_limits AS r (bucket, key, hits, resets_at)
        VALUES ($1, $2, 1, now() + $3::interval)
        ON CONFLICT (bucket, key) DO UPDATE SET
            hits = CASE WHEN r.resets_at <= now() THEN 1 ELSE r.hits + 1 END,
            resets_at = CASE WHEN r.resets_at <= now() THEN excluded.resets_at
                             ELSE r.resets_at END
        RETURNING hits, resets_at,
                  greatest(ceil(extract(epoch FROM resets_at - now())), 1)::integer
                      AS retry_after
        """,
        bucket,
        key,
        period,
        _SWEEP,
    )


async def take_back_hit(db: Executor, bucket: str, key: str, resets_at: datetime) -> None:
    """Uncount a hit made by `count_hit` in the window ending at `resets_at`.

    A window that has been replaced since is left alone: the hit was never counted in it.
    """
    await db.execute(
        """
        UPDATE rate_limits SET hits = hits - 1
        WHERE bucket = $1 AND key = $2 AND resets_at = $3 AND hits > 0
        """,
        bucket,
        key,
        resets_at,
    )
