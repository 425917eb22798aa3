"""Invites: codes that let someone sign up (in `invite` mode, or skipping approval)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.db import Executor
from storage.pagination import Page


async def insert_invite(
    db: Executor,
    *,
    code: str,
    created_by: int,
    max_uses: int | None,
    expires_at: datetime | None,
) -> asyncpg.Record | None:
    """Create an invite; None when `code` is already taken (the caller draws another)."""
    return await db.fetchrow(
        """
        INSERT INTO invites (code, created_by, max_uses, expires_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (code) DO NOTHING
        RETURNING *
        """,
        code,
        created_by,
        max_uses,
        expires_at,
    )


async def list_invites(db: Executor, created_by: int, page: Page) -> list[asyncpg.Record]:
    """One page of the invites `created_by` made, newest first."""
    where, args = page.where("id", 3)
    rows = await db.fetch(
        f"""
        SELECT * FROM invites WHERE created_by = $1 AND {where}
        ORDER BY {page.order("id")} LIMIT $2
        """,
        created_by,
        page.limit,
        *args,
    )
    return page.newest_first(rows)


async def get_invite(db: Executor, invite_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM invites WHERE id = $1", invite_id)


async def expire(db: Executor, invite_id: int) -> asyncpg.Record | None:
    """Make an invite unusable from now on (an invite that already expired keeps its time)."""
    return await db.fetchrow(
        """
        UPDATE invites SET expires_at = least(coalesce(expires_at, now()), now())
        WHERE id = $1 RETURNING *
        """,
        invite_id,
    )


async def claim(db: Executor, code: str) -> asyncpg.Record | None:
    """Count one use of the invite `code` when it is still usable; None when it is not.

    Usable: not used up, not expired, and its creator can still sign in (as Mastodon, an
    invite from a suspended or disabled member stops working). One statement: concurrent
    sign-ups with the last use of a code queue on the row lock, and the ones after the first
    see `uses = max_uses` and claim nothing.
    """
    return await db.fetchrow(
        """
        UPDATE invites SET uses = uses + 1
        WHERE code = $1
          AND (max_uses IS NULL OR uses < max_uses)
          AND (expires_at IS NULL OR expires_at > now())
          AND EXISTS (
              SELECT 1 FROM accounts a JOIN users u ON u.account_id = a.id
              WHERE a.id = invites.created_by
                AND a.suspended_at IS NULL AND u.approved AND NOT u.disabled)
        RETURNING *
        """,
        code,
    )
