"""What happens when someone favourites a status, or takes the favourite back.

One function per act, whoever acts (`server.usecases.actors.Actor`): a member through the client
API, or a remote account through its `Like` and `Undo(Like)` activities. The row, the status's
counter and the author's notification are the same either way; a remote favourite keeps its
Like's id, so that an Undo naming only that id finds it; only a member's act is sent out (a Like
to the author of a remote status). Who may act on what is `server.usecases.actionable`.

Both are idempotent: favouriting twice, or undoing what was never done, changes nothing.
"""

from __future__ import annotations

import asyncpg

from federation import outbox
from federation.errors import not_found
from server.usecases.actionable import actionable_original, original
from server.usecases.actors import Actor
from storage import notifications as notification_store
from storage import statuses as status_store
from storage.db import Conn


async def favourite(pool: asyncpg.Pool, actor: Actor, status_id: int) -> asyncpg.Record:
    """`actor` favourites a status it may act on (or what it boosts); return that status."""
    account_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        status = await actionable_original(conn, actor, status_id)
        if await status_store.insert_favourite(
            conn, account_id, status["id"], uri=actor.activity_uri
        ):
            status = await _count(conn, status["id"], 1)
            await notification_store.notify(
                conn,
                account_id=status["account_id"],
                from_account_id=account_id,
                type="favourite",
                status_id=status["id"],
            )
            if actor.is_local:
                await outbox.favourited(conn, account_id, status)
        return status


async def unfavourite(
    pool: asyncpg.Pool, actor: Actor, status_id: int | None, *, like_uri: str | None = None
) -> asyncpg.Record:
    """`actor` takes back its favourite of a status (or of what it boosts), or the one its Like
    `like_uri` made (an Undo may name only that); return the status.

    An existing favourite can be undone even when the status is no longer readable (say, after
    an unfollow); when there is none, the status must be one the actor may act on.
    """
    account_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        named = await original(conn, status_id)
        removed = await status_store.delete_favourite(
            conn, account_id, status_id=named["id"] if named else None, uri=like_uri
        )
        if removed is None:
            return await actionable_original(conn, actor, status_id)
        status = await _count(conn, removed["status_id"], -1)
        await notification_store.withdraw(
            conn,
            account_id=status["account_id"],
            from_account_id=account_id,
            type="favourite",
            status_id=status["id"],
        )
        if actor.is_local:
            await outbox.unfavourited(conn, account_id, status)
        return status


async def _count(conn: Conn, status_id: int, delta: int) -> asyncpg.Record:
    """The status, its favourites counter moved by `delta`."""
    status = await status_store.adjust_counts(conn, status_id, favourites=delta)
    if status is None:  # deleted meanwhile: its favourites went with it
        raise not_found()
    return status
