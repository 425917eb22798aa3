"""Blocking and muting: one place for the client API and (for blocks) the inbox.

A block severs the social graph both ways: follows and pending follow requests in either
direction end, each side's statuses leave the other's home feed, and notifications between them
are dropped. A mute only hides; it changes nothing the muted account can see.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from federation import outbox
from federation.errors import forbidden, not_found
from storage import accounts as account_store
from storage import blocks as block_store
from storage import follows as follow_store
from storage import home_feed
from storage.db import Conn

# Mastodon accepts mute durations up to this many seconds (0 means indefinitely).
MAX_MUTE_SECONDS = 10 * 365 * 24 * 3600


async def block(
    pool: asyncpg.Pool, account_id: int, target_id: int, *, uri: str | None = None
) -> None:
    """`account_id` blocks `target_id` (idempotent). `uri` names a remote Block activity."""
    async with pool.acquire() as conn, conn.transaction():
        await _check_target(conn, account_id, target_id, "block")
        await block_store.insert_block(conn, account_id, target_id, uri)
        for follower, followed in ((account_id, target_id), (target_id, account_id)):
            await follow_store.delete_follow(conn, follower, followed)
            await follow_store.delete_follow_request(conn, follower, followed)
            await home_feed.remove_author(conn, follower, followed)
        await block_store.forget_notifications_between(conn, account_id, target_id)
        await outbox.blocked(conn, account_id, target_id)


async def unblock(pool: asyncpg.Pool, account_id: int, target_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _check_target(conn, account_id, target_id, "unblock")
        if await block_store.delete_block(conn, account_id, target_id) is not None:
            await outbox.unblocked(conn, account_id, target_id)


async def mute(
    pool: asyncpg.Pool,
    account_id: int,
    target_id: int,
    *,
    notifications: bool = True,
    duration_seconds: int = 0,
) -> None:
    """Hide `target_id` from `account_id`'s timelines (and notifications, unless told not to)
    for `duration_seconds`, or until unmuted when 0."""
    expires_at = (
        datetime.now(UTC) + timedelta(seconds=min(duration_seconds, MAX_MUTE_SECONDS))
        if duration_seconds > 0
        else None
    )
    async with pool.acquire() as conn, conn.transaction():
        await _check_target(conn, account_id, target_id, "mute")
        await block_store.upsert_mute(
            conn, account_id, target_id, hide_notifications=notifications, expires_at=expires_at
        )


async def unmute(pool: asyncpg.Pool, account_id: int, target_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _check_target(conn, account_id, target_id, "unmute")
        await block_store.delete_mute(conn, account_id, target_id)


async def _check_target(conn: Conn, account_id: int, target_id: int, action: str) -> None:
    if account_id == target_id:
        raise forbidden(f"You cannot {action} yourself")
    if await account_store.get_account(conn, target_id) is None:
        raise not_found()
