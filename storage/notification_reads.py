"""Reading and dismissing a member's notifications (they are written by `storage.notifications`).

A notification is shown only while it still makes sense: its status (if any) is readable by the
member, and its sender is not suspended, blocked, or muted with notifications hidden.
"""

from __future__ import annotations

import asyncpg

from storage.db import Executor
from storage.pagination import Page
from storage.visibility import readable_by

NOTIFICATION_COLUMNS = "n.id, n.type, n.created_at, n.from_account_id, n.status_id, n.report_id"

# `$1` is the member's account id in every query below.
_SHOWN = f"""
    n.account_id = $1
    AND (n.status_id IS NULL OR EXISTS (
        SELECT 1 FROM statuses s WHERE s.id = n.status_id AND {readable_by("$1")}))
    AND NOT EXISTS (
        SELECT 1 FROM accounts sender
        WHERE sender.id = n.from_account_id AND sender.suspended_at IS NOT NULL)
    AND NOT EXISTS (
        SELECT 1 FROM blocks b WHERE b.account_id = $1 AND b.target_account_id = n.from_account_id)
    AND NOT EXISTS (
        SELECT 1 FROM mutes mu
        WHERE mu.account_id = $1 AND mu.target_account_id = n.from_account_id
          AND mu.hide_notifications AND (mu.expires_at IS NULL OR mu.expires_at > now()))
"""


async def list_notifications(
    db: Executor,
    account_id: int,
    page: Page,
    *,
    types: list[str] | None = None,
    exclude_types: list[str] | None = None,
    from_account_id: int | None = None,
) -> list[asyncpg.Record]:
    """One page of the member's notifications, newest first.

    `types` keeps only those types (None: all); `exclude_types` drops some; `from_account_id`
    keeps only that sender's.
    """
    conditions, page_args = page.where("n.id", 6)
    rows = await db.fetch(
        f"""
        SELECT {NOTIFICATION_COLUMNS} FROM notifications n
        WHERE {_SHOWN}
          AND ($3::text[] IS NULL OR n.type = ANY($3::text[]))
          AND NOT (n.type = ANY($4::text[]))
          AND ($5::bigint IS NULL OR n.from_account_id = $5::bigint)
          AND {conditions}
        ORDER BY {page.order("n.id")}
        LIMIT $2
        """,
        account_id,
        page.limit,
        types,
        exclude_types or [],
        from_account_id,
        *page_args,
    )
    return page.newest_first(rows)


async def get_notification(
    db: Executor, account_id: int, notification_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {NOTIFICATION_COLUMNS} FROM notifications n WHERE {_SHOWN} AND n.id = $2",
        account_id,
        notification_id,
    )


async def dismiss(db: Executor, account_id: int, notification_id: int) -> bool:
    """Delete one of the member's notifications; False when there is no such notification."""
    result = await db.execute(
        "DELETE FROM notifications WHERE account_id = $1 AND id = $2", account_id, notification_id
    )
    return result != "DELETE 0"


async def clear(db: Executor, account_id: int) -> None:
    await db.execute("DELETE FROM notifications WHERE account_id = $1", account_id)
