"""Invites and the sign-up settings around them: who may create and expire invites, and how
admins set the registration mode and whether members may invite.

Staff may always invite; members only while the instance setting `members_may_invite` is on.
A code is used by `server.usecases.sign_up`, which claims it (`storage.invites.claim`) in the
transaction that creates the account.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from federation.errors import forbidden, invalid, not_found
from server.usecases.instance_settings import write_changes
from storage import invites as store
from storage import settings
from storage.db import Executor

CODE_LENGTH = 12
MAX_USES = 1000
MAX_EXPIRES_IN = 366 * 24 * 3600
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    """A random code without look-alike characters (l, 1, o, 0, I, O), as people copy them."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


async def create_invite(
    pool: asyncpg.Pool,
    *,
    account_id: int,
    is_staff: bool,
    max_uses: int | None,
    expires_in: int | None,
) -> asyncpg.Record:
    """A new invite by `account_id`; None for `max_uses`/`expires_in` means no limit.

    `KithError` 403 for a member while members may not invite, 422 for a limit out of range.
    """
    if not is_staff and not await settings.members_may_invite(pool):
        raise forbidden()
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise invalid(f"max_uses must be between 1 and {MAX_USES}")
    if expires_in is not None and not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise invalid(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None
    while True:
        invite = await store.insert_invite(
            pool,
            code=new_code(),
            created_by=account_id,
            max_uses=max_uses,
            expires_at=expires_at,
        )
        if invite is not None:
            return invite


async def expire_invite(
    pool: asyncpg.Pool, *, account_id: int, is_staff: bool, invite_id: int
) -> asyncpg.Record:
    """Stop `invite_id` working; its creator or staff may. 404 for anyone else."""
    invite = await store.get_invite(pool, invite_id)
    if invite is None or (invite["created_by"] != account_id and not is_staff):
        raise not_found()
    expired = await store.expire(pool, invite_id)
    if expired is None:  # deleted meanwhile
        raise not_found()
    return expired


async def registration_settings(db: Executor) -> dict[str, Any]:
    return {
        "mode": await settings.registrations_mode(db),
        "members_may_invite": await settings.members_may_invite(db),
    }


async def change_registrations(
    pool: asyncpg.Pool,
    *,
    mode: str | None = None,
    members_may_invite: bool | None = None,
    actor_id: int | None,
    reason: str = "",
) -> dict[str, Any]:
    """Set the registration mode and/or whether members may invite; each change is audited
    (`instance_setting.<key>`) in the transaction that makes it."""
    if mode is not None and mode not in settings.REGISTRATION_MODES:
        raise invalid(f"Mode must be one of {', '.join(settings.REGISTRATION_MODES)}")
    async with pool.acquire() as conn, conn.transaction():
        before = await registration_settings(conn)
        changes = {
            "registrations_mode": (before["mode"], mode),
            "members_may_invite": (before["members_may_invite"], members_may_invite),
        }
        await write_changes(conn, changes, actor_id=actor_id, reason=reason)
        return await registration_settings(conn)
