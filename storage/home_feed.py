"""Home timelines, written when a status arrives (fan-out on write).

Reading a home timeline is then one range scan of `home_feed` by (account_id, status_id), however
many accounts the reader follows. Blocks, mutes and deletions are applied when reading.
"""

from __future__ import annotations

import asyncpg

from storage.db import Executor

# How many of an account's recent statuses a new follower's home timeline receives.
BACKFILL_ON_FOLLOW = 40


async def fan_out(conn: Executor, status: asyncpg.Record, mentioned_ids: list[int]) -> int:
    """Insert `status` into the home feeds of its local audience; return how many.

    The audience is the author, plus the author's local followers unless the status is direct
    (boosts only reach followers who show boosts), plus local accounts mentioned in a direct
    status.
    """
    result = await conn.execute(
        """
        INSERT INTO home_feed (account_id, status_id, author_account_id)
        SELECT audience.id, $1, $2 FROM (
            SELECT $2::bigint AS id
            UNION
            SELECT f.account_id FROM follows f
                JOIN accounts a ON a.id = f.account_id AND a.domain IS NULL
                WHERE f.target_account_id = $2 AND $3 <> 'direct'
                  AND ($4::bigint IS NULL OR f.show_reblogs)
            UNION
            SELECT a.id FROM accounts a
                WHERE a.id = ANY($5::bigint[]) AND a.domain IS NULL AND $3 = 'direct'
        ) AS audience
        ON CONFLICT DO NOTHING
        """,
        status["id"],
        status["account_id"],
        status["visibility"],
        status["reblog_of_id"],
        mentioned_ids,
    )
    return int(result.split()[-1])


async def backfill(conn: Executor, follower_id: int, target_id: int) -> None:
    """Give a new follower the target's recent public, unlisted and followers-only statuses."""
    await conn.execute(
        """
        INSERT INTO home_feed (account_id, status_id, author_account_id)
        SELECT $1, s.id, s.account_id FROM statuses s
        WHERE s.account_id = $2 AND s.deleted_at IS NULL
          AND s.visibility IN ('public', 'unlisted', 'private')
        ORDER BY s.id DESC
        LIMIT $3
        ON CONFLICT DO NOTHING
        """,
        follower_id,
        target_id,
        BACKFILL_ON_FOLLOW,
    )


async def remove_author(conn: Executor, account_id: int, author_id: int) -> None:
    """Drop an author's statuses from one home feed (after an unfollow or a block)."""
    await conn.execute(
        "DELETE FROM home_feed WHERE account_id = $1 AND author_account_id = $2",
        account_id,
        author_id,
    )
