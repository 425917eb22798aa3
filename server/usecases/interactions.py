"""Favourites and reblogs (boosts), for the client API and the inbox.

Both act on the original status: favouriting or boosting a boost acts on what it boosted, as in
Mastodon. Each is idempotent: doing it twice, or undoing what was never done, changes nothing.
"""

from __future__ import annotations

import asyncpg

from federation import outbox
from federation.errors import forbidden, invalid, not_found
from federation.urls import LocalUrls
from server.usecases.statuses import DISTRIBUTABLE, discard_status
from storage import accounts as account_store
from storage import home_feed
from storage import notifications as notification_store
from storage import statuses as status_store

REBLOG_VISIBILITIES = ("public", "unlisted", "private")


async def favourite(pool: asyncpg.Pool, *, account_id: int, status_id: int) -> asyncpg.Record:
    """Favourite a status the account may read; return the (original) status."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _readable_original(conn, status_id, account_id)
        if await status_store.insert_favourite(conn, account_id, status["id"]):
            status = await status_store.adjust_counts(conn, status["id"], favourites=1)
            await notification_store.notify(
                conn,
                account_id=status["account_id"],
                from_account_id=account_id,
                type="favourite",
                status_id=status["id"],
            )
            await outbox.favourited(conn, account_id, status)
        return status


async def unfavourite(pool: asyncpg.Pool, *, account_id: int, status_id: int) -> asyncpg.Record:
    """Undo a favourite; return the status. An existing favourite can be undone even when the
    status is no longer readable (say, after an unfollow)."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _original(conn, status_id)
        if status is not None and await status_store.delete_favourite(
            conn, account_id, status["id"]
        ):
            await notification_store.withdraw(
                conn,
                account_id=status["account_id"],
                from_account_id=account_id,
                type="favourite",
                status_id=status["id"],
            )
            await outbox.unfavourited(conn, account_id, status)
            return await status_store.adjust_counts(conn, status["id"], favourites=-1)
        return await _readable_original(conn, status_id, account_id)


async def reblog(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    account_id: int,
    status_id: int,
    visibility: str = "public",
    application_id: int | None = None,
) -> asyncpg.Record:
    """Boost a public or unlisted status as the local account `account_id`; return the boost.

    Followers-only and direct statuses cannot be boosted (403). A boost of a local-only status
    is local-only. Boosting again returns the existing boost.
    """
    if visibility not in REBLOG_VISIBILITIES:
        raise invalid(f"visibility must be one of {', '.join(REBLOG_VISIBILITIES)}")
    async with pool.acquire() as conn, conn.transaction():
        original = await _readable_original(conn, status_id, account_id)
        # Lock the original so that concurrent boosts by one account cannot both insert.
        original = await status_store.lock_status(conn, original["id"])
        if original is None:
            raise not_found()
        if original["visibility"] not in DISTRIBUTABLE:
            raise forbidden()
        existing = await status_store.reblog_by(conn, account_id, original["id"])
        if existing is not None:
            return existing
        account = await account_store.get_account(conn, account_id)
        if account is None or account["domain"] is not None:
            raise not_found("Account not found")
        reblog_id = await status_store.next_id(conn)
        activity_uri = f"{urls.status(account['username'], reblog_id)}/activity"
        boost = await status_store.insert_local_status(
            conn,
            status_id=reblog_id,
            uri=activity_uri,
            url=activity_uri,
            account_id=account_id,
            visibility=visibility,
            local_only=original["local_only"],
            application_id=application_id,
            reblog_of_id=original["id"],
        )
        await status_store.adjust_counts(conn, original["id"], reblogs=1)
        await status_store.adjust_statuses_count(conn, [account_id], 1)
        await home_feed.fan_out(conn, boost, [])
        await notification_store.notify(
            conn,
            account_id=original["account_id"],
            from_account_id=account_id,
            type="reblog",
            status_id=original["id"],
        )
        await outbox.reblogged(conn, boost, original)
        return boost


async def unreblog(pool: asyncpg.Pool, *, account_id: int, status_id: int) -> asyncpg.Record:
    """Undo the account's boost of a status; return the (original) status."""
    async with pool.acquire() as conn, conn.transaction():
        status = await _original(conn, status_id)
        boost = await status_store.reblog_by(conn, account_id, status["id"]) if status else None
        if boost is not None:
            await discard_status(conn, boost["id"])
            await outbox.unreblogged(conn, boost, status)
            return await status_store.get_status(conn, status["id"])
        return await _readable_original(conn, status_id, account_id)


async def _original(conn: asyncpg.Connection, status_id: int) -> asyncpg.Record | None:
    """A live status, or what it boosts when it is a boost."""
    status = await status_store.get_status(conn, status_id)
    if status is not None and status["reblog_of_id"] is not None:
        return await status_store.get_status(conn, status["reblog_of_id"])
    return status


async def _readable_original(
    conn: asyncpg.Connection, status_id: int, account_id: int
) -> asyncpg.Record:
    """Like `_original`, but only what the account may read; anything else is not found."""
    status = await status_store.get_readable_status(conn, status_id, account_id)
    if status is not None and status["reblog_of_id"] is not None:
        status = await status_store.get_readable_status(conn, status["reblog_of_id"], account_id)
    if status is None:
        raise not_found()
    return status
