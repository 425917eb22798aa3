"""Instance settings an admin changes at run time, stored as jsonb in `instance_settings`."""

from __future__ import annotations

from typing import Any

import asyncpg

Executor = asyncpg.Pool | asyncpg.Connection


async def get_setting(db: Executor, key: str) -> Any:
    """The decoded value of `key`, or None when it was never set."""
    return await db.fetchval("SELECT value FROM instance_settings WHERE key = $1", key)
