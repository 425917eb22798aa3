"""Search queries that are not about one account: hashtags by name."""

from __future__ import annotations

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
