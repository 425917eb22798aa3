"""Search queries that are not about one account: hashtags by name and their use by day."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.accounts import like_prefix
from storage.db import Executor


async def search_tags(db: Executor, query: str, *, limit: int, offset: int) -> list[asyncpg.Record]:
    """Hashtags whose name starts with `query`, the exact name first, then the shortest."""
    return await db.fetch(
        """
        SELECT id, name FROM tags WHERE name ILIKE $2
        ORDER BY lower(name) = lower($1) DESC, length(name), lower(name)
        LIMIT $3 OFFSET $4
        """,
        query,
        like_prefix(query),
        limit,
        offset,
    )


# The days a hashtag's history covers, today (UTC) included, as Mastodon's Tag entity shows.
HISTORY_DAYS = 7


async def tag_history(
    db: Executor, tag_ids: list[int], since: datetime
) -> dict[int, dict[datetime, tuple[int, int]]]:
    """Per tag and UTC day from `since` on: how many public or unlisted statuses used it, and
    how many accounts wrote them. Status ids are snowflakes of their publication time, so the
    day comes from the id, and the same lower bound on both tables' ids keeps both scans to the
    last days (the tag's index on (tag_id, status_id), the statuses' primary key)."""
    rows = await db.fetch(
        """
        WITH bound AS (
            SELECT floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint << 16 AS first_id
        )
        SELECT st.tag_id,
               date_trunc('day', to_timestamp((st.status_id >> 16) / 1000.0), 'UTC') AS day,
               count(*) AS uses,
               count(DISTINCT s.account_id) AS accounts
        FROM bound, statuses_tags st
        JOIN statuses s ON s.id = st.status_id
        WHERE st.tag_id = ANY($1::bigint[])
          AND st.status_id >= bound.first_id
          AND s.id >= bound.first_id
          AND s.deleted_at IS NULL
          AND s.visibility IN ('public', 'unlisted')
          AND NOT s.local_only
        GROUP BY 1, 2
        """,
        tag_ids,
        since,
    )
    history: dict[int, dict[datetime, tuple[int, int]]] = {}
    for row in rows:
        history.setdefault(row["tag_id"], {})[row["day"]] = (row["uses"], row["accounts"])
    return history
