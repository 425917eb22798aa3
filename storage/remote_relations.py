"""What remote actors do to the social graph and to moderation: follows named by their
activity ids, reports (Flag) and moves."""

from __future__ import annotations

import asyncpg

from storage.db import Executor


async def get_follow_request_by_uri(db: Executor, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM follow_requests WHERE uri = $1", uri)


async def get_follow_by_uri(db: Executor, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM follows WHERE uri = $1", uri)


async def follow_pairs_of(db: Executor, account_id: int) -> list[tuple[int, int]]:
    """Every (follower, followed) pair, follow or request, that involves `account_id`."""
    rows = await db.fetch(
        """
        SELECT account_id, target_account_id FROM follows
        WHERE account_id = $1 OR target_account_id = $1
        UNION
        SELECT account_id, target_account_id FROM follow_requests
        WHERE account_id = $1 OR target_account_id = $1
        """,
        account_id,
    )
    return [(row["account_id"], row["target_account_id"]) for row in rows]


async def set_moved_to(db: Executor, account_id: int, moved_to_account_id: int) -> None:
    await db.execute(
        "UPDATE accounts SET moved_to_account_id = $2, updated_at = now() WHERE id = $1",
        account_id,
        moved_to_account_id,
    )
