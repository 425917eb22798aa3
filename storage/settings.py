"""Instance settings an admin changes at run time, stored as jsonb in `instance_settings`."""

from __future__ import annotations

from typing import Any

import asyncpg

Executor = asyncpg.Pool | asyncpg.Connection


async def get_setting(db: Executor, key: str) -> Any:
    """The decoded value of `key`, or None when it was never set."""
    return await db.fetchval("SELECT value FROM instance_settings WHERE key = $1", key)


REGISTRATION_MODES = ("open", "approval", "closed")


async def registrations_mode(db: Executor) -> str:
    """How sign-ups work: unset means `open`; a value Kith does not know means `closed`, so a
    typo never opens an instance."""
    value = await get_setting(db, "registrations_mode")
    if value is None:
        return "open"
    return value if value in REGISTRATION_MODES else "closed"
