"""Who receives an activity: the remote inboxes each kind of activity goes to.

Inboxes are resolved to a server's shared inbox whenever it has one, and de-duplicated, so a
server with a hundred followers of an author receives one delivery, not a hundred. Only remote
accounts are ever returned: local readers get everything through the database.
"""

from __future__ import annotations

from storage import deliveries as store
from storage.db import Conn, Row


async def for_status(conn: Conn, status: Row) -> list[str]:
    """Where a status (its Create, Update or Delete) goes, by visibility.

    Public, unlisted and followers-only statuses reach the author's remote followers and the
    remote accounts they mention; direct ones only those mentioned; local-only ones nobody.
    Never a domain the author blocks (`storage.deliveries`).
    """
    if status["local_only"]:
        return []
    mentioned = await store.mentioned_inboxes(conn, status["id"])
    if status["visibility"] == "direct":
        return mentioned
    return _merge(await store.follower_inboxes(conn, status["account_id"]), mentioned)


async def for_boost(conn: Conn, boost: Row, original: Row) -> list[str]:
    """An Announce (or its Undo): the booster's remote followers and the original's author
    (unless the booster blocks the author's domain)."""
    if boost["local_only"] or original["local_only"]:
        return []
    booster_id = boost["account_id"]
    return _merge(
        await store.follower_inboxes(conn, booster_id),
        await store.account_inboxes(conn, [original["account_id"]], unless_blocked_by=booster_id),
    )


async def followers(conn: Conn, account_id: int) -> list[str]:
    """An account's remote followers (a profile Update)."""
    return await store.follower_inboxes(conn, account_id)


async def account(conn: Conn, account_id: int) -> list[str]:
    """One account's inbox, when it is remote (a Follow, Accept, Like and their Undos)."""
    return await store.account_inboxes(conn, [account_id])


def _merge(*inbox_lists: list[str]) -> list[str]:
    return list(dict.fromkeys(inbox for inboxes in inbox_lists for inbox in inboxes))
