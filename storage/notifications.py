"""Notifications: written by the operations that cause them, read by the notifications API."""

from __future__ import annotations

from storage.db import Executor
from storage.visibility import member_blocks_domain

_SENDER_DOMAIN = "(SELECT sender.domain FROM accounts sender WHERE sender.id = $2)"

TYPES = (
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "admin.sign_up",
    "admin.report",
)


async def notify(
    conn: Executor,
    *,
    account_id: int,
    from_account_id: int,
    type: str,
    status_id: int | None = None,
    report_id: int | None = None,
) -> None:
    """Notify a local account, once per (sender, type, status); never of its own actions.

    Nothing is written when the recipient blocked the sender's domain, except for staff
    notifications (`admin.*`), which moderation needs whoever sent them.
    """
    if account_id == from_account_id:
        return
    await conn.execute(
        f"""
        INSERT INTO notifications (account_id, from_account_id, type, status_id, report_id)
        SELECT $1, $2, $3, $4, $5
        WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND domain IS NULL)
          AND ($3 LIKE 'admin.%' OR NOT {member_blocks_domain("$1", _SENDER_DOMAIN)})
        ON CONFLICT DO NOTHING
        """,
        account_id,
        from_account_id,
        type,
        status_id,
        report_id,
    )


async def withdraw(
    conn: Executor, *, account_id: int, from_account_id: int, type: str, status_id: int | None
) -> None:
    """Remove a notification whose cause was undone (unfavourite, unfollow, ...)."""
    await conn.execute(
        """
        DELETE FROM notifications
        WHERE account_id = $1 AND from_account_id = $2 AND type = $3
          AND coalesce(status_id, 0) = coalesce($4::bigint, 0)
        """,
        account_id,
        from_account_id,
        type,
        status_id,
    )
