"""Hashtags and the statuses that carry them."""

from __future__ import annotations

import asyncpg

from storage.db import Executor


async def upsert_tags(db: Executor, names: list[str]) -> list[asyncpg.Record]:
    """The tags named `names` (case-insensitively), created when new; a tag keeps the spelling
    it was first used with."""
    if not names:
        return []
    await db.execute(
        """
        INSERT INTO tags (name) SELECT unnest($1::text[])
        ON CONFLICT ((lower(name))) DO NOTHING
        """,
        names,
    )
    return await db.fetch(
        "SELECT id, name FROM tags WHERE lower(name) IN (SELECT lower(unnest($1::text[])))",
        names,
    )


async def attach_tags(db: Executor, status_id: int, tag_ids: list[int]) -> None:
    await db.execute(
        """
        INSERT INTO statuses_tags (status_id, tag_id) SELECT $1, unnest($2::bigint[])
        ON CONFLICT DO NOTHING
        """,
        status_id,
        tag_ids,
    )
