"""Look-ups every handler family needs: references, local accounts, known accounts, statuses."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.context import Federation
from federation.parse.notes import reference
from storage import accounts as account_store
from storage import remote_accounts as remote_account_store
from storage import remote_statuses as status_store

__all__ = ["known_account", "live_status", "local_account", "reference", "type_of"]


def type_of(value: Any) -> str | None:
    """The `type` of an embedded object, or None for a bare reference."""
    return value.get("type") if isinstance(value, dict) else None


async def local_account(fed: Federation, uri: str | None) -> asyncpg.Record | None:
    """The local account with actor id `uri` (the instance actor included), or None."""
    if uri is None:
        return None
    return await account_store.get_local_account_by_uri(fed.pool, uri)


async def known_account(fed: Federation, uri: str | None) -> asyncpg.Record | None:
    """An account already stored (never fetched: for activities that only make sense about
    accounts Kith knows, such as Undo, Accept or Delete)."""
    if uri is None:
        return None
    return await remote_account_store.get_account_by_uri(fed.pool, uri)


async def live_status(fed: Federation, uri: str | None) -> asyncpg.Record | None:
    if uri is None:
        return None
    status = await status_store.get_status_by_uri(fed.pool, uri)
    return status if status is not None and status["deleted_at"] is None else None
