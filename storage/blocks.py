"""Blocks and mutes between accounts."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.db import Executor
from storage.follows import account_page
from storage.pagination import Page


async def insert_block(
    db: Executor, account_id: int, target_id: int, uri: str | None = None
) -> bool:
    """Record a block; False when it already existed."""
    result = await db.execute(
        """
        INSERT INTO blocks (account_id, target_account_id, uri) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, target_account_id) DO NOTHING
        """,
        account_id,
        target_id,
        uri,
    )
    return result != "INSERT 0 0"


async def delete_block(db: Executor, account_id: int, target_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM blocks WHERE account_id = $1 AND target_account_id = $2 RETURNING *",
        account_id,
        target_id,
    )


async def delete_block_by_uri(db: Executor, account_id: int, uri: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "DELETE FROM blocks WHERE account_id = $1 AND uri = $2 RETURNING *", account_id, uri
    )


async def forget_notifications_between(db: Executor, account_id: int, other_id: int) -> None:
    """Drop the notifications each of two accounts had from the other."""
    await db.execute(
        """
        DELETE FROM notifications
        WHERE (account_id = $1 AND from_account_id = $2)
           OR (account_id = $2 AND from_account_id = $1)
        """,
        account_id,
        other_id,
    )


async def upsert_mute(
    db: Executor,
    account_id: int,
    target_id: int,
    *,
    hide_notifications: bool,
    expires_at: datetime | None,
) -> None:
    await db.execute(
        """
        INSERT INTO mutes (account_id, target_account_id, hide_notifications, expires_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (account_id, target_account_id)
        DO UPDATE SET hide_notifications = EXCLUDED.hide_notifications,
                      expires_at = EXCLUDED.expires_at
        """,
        account_id,
        target_id,
        hide_notifications,
        expires_at,
    )


async def delete_mute(db: Executor, account_id: int, target_id: int) -> None:
    await db.execute(
        "DELETE FROM mutes WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )


async def list_blocked(db: Executor, account_id: int, page: Page) -> list[asyncpg.Record]:
    return await account_page(db, "blocks", "account_id", "target_account_id", account_id, page)


async def list_muted(db: Executor, account_id: int, page: Page) -> list[asyncpg.Record]:
    """Muted accounts whose mute has not expired."""
    return await account_page(
        db,
        "mutes",
        "account_id",
        "target_account_id",
        account_id,
        page,
        condition="(e.expires_at IS NULL OR e.expires_at > now())",
    )
