"""Favourites and boosts made by remote accounts, as their Like and Announce activities say.

`server.usecases.interactions` does the same for local members (and sends activities about
them); here the row keeps the activity's id, so that a later Undo naming only that id finds it.
Both act on the original of a boost, and both are idempotent, as for local members. A remote
account acts only on what it could read itself (`storage.visibility.actionable_by_remote`): never
a local-only status, a followers-only one only when it follows the author, a direct one only when
it is addressed.
"""

from __future__ import annotations

import asyncpg

from federation.context import Federation
from server.usecases.statuses import DISTRIBUTABLE, discard_status
from storage import home_feed
from storage import notifications as notification_store
from storage import remote_statuses as store
from storage import statuses as status_store

UNREADABLE = "status not readable by the actor"


async def favourite(
    fed: Federation, account: asyncpg.Record, status_id: int, uri: str
) -> str | None:
    """`account` favourites a status it may read; returns why not, or None."""
    async with fed.pool.acquire() as conn, conn.transaction():
        status = await _actionable_original(conn, status_id, account["id"])
        if status is None:
            return UNREADABLE
        if await store.insert_favourite(conn, account["id"], status["id"], uri):
            await status_store.adjust_counts(conn, status["id"], favourites=1)
            await notification_store.notify(
                conn,
                account_id=status["account_id"],
                from_account_id=account["id"],
                type="favourite",
                status_id=status["id"],
            )
    return None


async def unfavourite(
    fed: Federation, account: asyncpg.Record, *, uri: str | None, status_id: int | None
) -> bool:
    """Undo a favourite named by its Like's id, or else by its status; False when none."""
    async with fed.pool.acquire() as conn, conn.transaction():
        removed = await store.delete_favourite(conn, account["id"], uri=uri, status_id=status_id)
        if removed is None and uri is not None and status_id is not None:
            removed = await store.delete_favourite(
                conn, account["id"], uri=None, status_id=status_id
            )
        if removed is None:
            return False
        status = await status_store.adjust_counts(conn, removed["status_id"], favourites=-1)
        await notification_store.withdraw(
            conn,
            account_id=status["account_id"],
            from_account_id=account["id"],
            type="favourite",
            status_id=status["id"],
        )
    return True


async def reblog(
    fed: Federation, account: asyncpg.Record, status_id: int, *, uri: str, visibility: str
) -> str | None:
    """`account` boosts a public or unlisted status; the boost reaches its local followers.
    Returns why not, or None."""
    async with fed.pool.acquire() as conn, conn.transaction():
        original = await _actionable_original(conn, status_id, account["id"])
        original = await status_store.lock_status(conn, original["id"]) if original else None
        if original is None:
            return UNREADABLE
        if original["visibility"] not in DISTRIBUTABLE:
            return "only public and unlisted statuses can be boosted"
        if await status_store.reblog_by(conn, account["id"], original["id"]) is not None:
            return None
        boost = await store.insert_remote_status(
            conn,
            {
                "uri": uri,
                "url": uri,
                "account_id": account["id"],
                "visibility": visibility if visibility in DISTRIBUTABLE else "public",
                "reblog_of_id": original["id"],
            },
        )
        if boost is None:  # the same Announce, stored before
            return None
        await status_store.adjust_counts(conn, original["id"], reblogs=1)
        await status_store.adjust_statuses_count(conn, [account["id"]], 1)
        await home_feed.fan_out(conn, boost, [])
        await notification_store.notify(
            conn,
            account_id=original["account_id"],
            from_account_id=account["id"],
            type="reblog",
            status_id=original["id"],
        )
    return None


async def unreblog(
    fed: Federation, account: asyncpg.Record, *, uri: str | None, status_id: int | None
) -> bool:
    """Undo a boost named by its Announce's id, or else by what it boosted; False when none."""
    async with fed.pool.acquire() as conn, conn.transaction():
        boost = await store.get_reblog_by_uri(conn, account["id"], uri) if uri else None
        if boost is None and status_id is not None:
            boost = await status_store.reblog_by(conn, account["id"], status_id)
        if boost is None:
            return False
        await discard_status(conn, boost["id"])
    return True


async def _actionable_original(
    conn: asyncpg.Connection, status_id: int, account_id: int
) -> asyncpg.Record | None:
    """The status, or what it boosts, when the remote account may act on both; else None."""
    status = await status_store.get_actionable_status(conn, status_id, account_id)
    if status is not None and status["reblog_of_id"] is not None:
        status = await status_store.get_actionable_status(conn, status["reblog_of_id"], account_id)
    return status
