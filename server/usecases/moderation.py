"""Staff actions on accounts, each recorded in the audit log in the same transaction.

Suspending a local member leaves their tokens alone, as Mastodon does: while the suspension
lasts every request with them is answered 403 "Your login is currently disabled"
(`server/auth.py`), and lifting it makes them work again. Moderators may not act on staff:
only an admin can discipline another staff member, and nobody can act on themselves.
"""

from __future__ import annotations

import asyncpg

from federation.errors import KithError, invalid, not_found
from server.usecases import reports
from storage import admin_accounts as store
from storage import audit
from storage.db import Conn

# What `POST /api/v1/admin/accounts/:id/action` accepts as `type`.
ACTION_TYPES = ("none", "sensitive", "disable", "silence", "suspend")
STAFF = ("admin", "moderator")

_FLAGS = {
    "silence": ("silenced", True),
    "unsilence": ("silenced", False),
    "suspend": ("suspended", True),
    "unsuspend": ("suspended", False),
    "sensitive": ("sensitized", True),
    "unsensitive": ("sensitized", False),
}
_USER_ONLY = ("approve", "reject", "disable", "enable")
ACTIONS = (*_FLAGS, *_USER_ONLY, "none")


async def moderate(
    pool: asyncpg.Pool,
    *,
    actor_id: int,
    actor_role: str,
    account_id: int,
    action: str,
    reason: str = "",
    report_id: int | None = None,
) -> None:
    """Apply `action` to an account (and resolve `report_id`, when given) in one transaction.

    `none` changes nothing; with a `reason` it is recorded as a warning.
    """
    if action not in ACTIONS:
        raise invalid(f"type must be one of {', '.join(ACTION_TYPES)}")
    async with pool.acquire() as conn, conn.transaction():
        account = await store.get_admin_account(conn, account_id)
        if account is None:
            raise not_found()
        if account_id == actor_id or (account["role"] in STAFF and actor_role != "admin"):
            raise KithError(403, "This action is not allowed")
        await _apply(conn, account, action)
        if action != "none" or reason:
            await audit.record(
                conn,
                actor_id=actor_id,
                action=f"account.{'warn' if action == 'none' else action}",
                target_type="account",
                target_id=account_id,
                detail={"username": account["username"], "domain": account["domain"]},
                reason=reason,
            )
        if report_id is not None:
            await reports.set_resolved(conn, actor_id=actor_id, report_id=report_id, resolved=True)


async def _apply(conn: Conn, account: asyncpg.Record, action: str) -> None:
    if action in _USER_ONLY and account["user_id"] is None:
        raise invalid("only local accounts can be approved, rejected, disabled or enabled")
    if action in ("approve", "reject") and account["approved"]:
        raise invalid("the account is not pending approval")
    if action in _FLAGS:
        flag, on = _FLAGS[action]
        await store.set_flag(conn, account["id"], flag, on)
    if action == "approve":
        await store.set_user_state(conn, account["id"], approved=True)
    elif action == "reject":
        await store.delete_account(conn, account["id"])
    elif action in ("disable", "enable"):
        await store.set_user_state(conn, account["id"], disabled=action == "disable")
