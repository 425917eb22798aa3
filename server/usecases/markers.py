"""Saving a member's reading positions (Mastodon's markers)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from server.usecases.actors import Actor
from storage import markers as store


async def save_markers(
    pool: asyncpg.Pool, actor: Actor, positions: Mapping[str, int]
) -> list[asyncpg.Record]:
    """Set `actor`'s markers (timeline name → last read id) at once; return them as saved."""
    account_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        for timeline, last_read_id in positions.items():
            await store.save(conn, account_id, timeline, last_read_id)
        return await store.markers_of(conn, account_id, list(positions))
