"""A member's reading positions (`markers`, migration 0018)."""

from __future__ import annotations

import asyncpg

from storage.db import Executor

TIMELINES = ("home", "notifications")


async def markers_of(db: Executor, account_id: int, timelines: list[str]) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT timeline, last_read_id, version, updated_at FROM markers
        WHERE account_id = $1 AND timeline = ANY($2::text[])
        """,
        account_id,
        timelines,
    )


async def save(db: Executor, account_id: int, timeline: str, last_read_id: int) -> None:
    """Set a marker; each save counts one more version (in one statement, so two apps saving
    at once both count)."""
    await db.execute(
        """
        INSERT INTO markers (account_id, timeline, last_read_id) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, timeline) DO UPDATE
        SET last_read_id = EXCLUDED.last_read_id, version = markers.version + 1,
            updated_at = now()
        """,
        account_id,
        timeline,
        last_read_id,
    )
