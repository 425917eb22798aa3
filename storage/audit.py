"""The audit log: every staff action and every automatic moderation decision."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Executor
from storage.pagination import Page


async def record(
    db: Executor,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: str | int,
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Record who (`actor_id`; None for an automatic decision) did `action` to a target, and why.

    Call it in the same transaction as the action, so the log never disagrees with the data.
    """
    await db.execute(
        """
        INSERT INTO audit_log (account_id, action, target_type, target_id, detail, reason)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        actor_id,
        action,
        target_type,
        str(target_id),
        detail or {},
        reason,
    )


async def list_entries(
    db: Executor, page: Page, *, action: str | None = None
) -> list[asyncpg.Record]:
    """Entries newest first, optionally of one action (e.g. "domain_block.create")."""
    where, args = page.where("l.id", 3)
    rows = await db.fetch(
        f"""
        SELECT l.*, a.username AS actor_username
        FROM audit_log l LEFT JOIN accounts a ON a.id = l.account_id
        WHERE ($2::text IS NULL OR l.action = $2) AND {where}
        ORDER BY {page.order("l.id")}
        LIMIT $1
        """,
        page.limit,
        action,
        *args,
    )
    return page.newest_first(rows)
