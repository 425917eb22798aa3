"""What happens when someone boosts (reblogs) a status, or takes the boost back.

One function per act, whoever acts (`server.usecases.actors.Actor`): a member through the client
API, or a remote account through its `Announce` and `Undo(Announce)` activities. Either way the
boost is a status of the booster's that reblogs the original; it counts on the original, notifies
its author and enters the home feeds of the booster's local followers who show boosts. A remote
boost's id is its Announce's id, so that an Undo naming only that id finds it; only a member's
boost is sent out (an Announce to the booster's followers and the original's author). Who may
act on what is `server.usecases.actionable`.

Only public and unlisted statuses can be boosted, as in Mastodon. Both acts are idempotent:
boosting again returns the existing boost, undoing what was never done changes nothing.
"""

from __future__ import annotations

import asyncpg

from federation import outbox
from federation.errors import forbidden, invalid, not_found
from federation.urls import LocalUrls
from server.usecases.actionable import actionable_original, original
from server.usecases.actors import Actor
from server.usecases.statuses import DISTRIBUTABLE, discard_status
from storage import accounts as account_store
from storage import home_feed
from storage import notifications as notification_store
from storage import remote_statuses as remote_store
from storage import statuses as status_store
from storage.db import Conn

# Who a boost is shown to; a member may also boost to its followers only.
REBLOG_VISIBILITIES = ("public", "unlisted", "private")
# Recorded as the refusal of a remote actor's Announce; a member gets the API's usual 403.
NOT_BOOSTABLE = "only public and unlisted statuses can be boosted"


async def reblog(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    actor: Actor,
    status_id: int,
    *,
    visibility: str = "public",
    application_id: int | None = None,
) -> asyncpg.Record:
    """`actor` boosts a public or unlisted status it may act on (or what it boosts); return the
    boost. A boost of a local-only status is local-only."""
    if visibility not in REBLOG_VISIBILITIES:
        raise invalid(f"visibility must be one of {', '.join(REBLOG_VISIBILITIES)}")
    account_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        found = await actionable_original(conn, actor, status_id)
        # Lock the original so that concurrent boosts by one account cannot both insert.
        target = await status_store.lock_status(conn, found["id"])
        if target is None:
            raise not_found()
        if target["visibility"] not in DISTRIBUTABLE:
            raise forbidden(NOT_BOOSTABLE) if actor.is_remote else forbidden()
        existing = await status_store.reblog_by(conn, account_id, target["id"])
        if existing is not None:
            return existing
        boost = await _insert_boost(conn, urls, actor, target, visibility, application_id)
        if boost is None:  # the same Announce again, after its Undo: it was done already
            return await _stored_before(conn, actor)
        await status_store.adjust_counts(conn, target["id"], reblogs=1)
        await status_store.adjust_statuses_count(conn, [account_id], 1)
        await home_feed.fan_out(conn, boost, [])
        await notification_store.notify(
            conn,
            account_id=target["account_id"],
            from_account_id=account_id,
            type="reblog",
            status_id=target["id"],
        )
        if actor.is_local:
            await outbox.reblogged(conn, boost, target)
        return boost


async def unreblog(
    pool: asyncpg.Pool, actor: Actor, status_id: int | None, *, announce_uri: str | None = None
) -> asyncpg.Record:
    """`actor` takes back its boost of a status (or of what it boosts), or the boost its
    Announce `announce_uri` made (an Undo may name only that); return the original status.

    An existing boost can be undone even when the original is no longer readable; when there is
    none, the status must be one the actor may act on.
    """
    account_id = actor.require_account()
    async with pool.acquire() as conn, conn.transaction():
        named = await original(conn, status_id)
        boost = await status_store.reblog_by(
            conn, account_id, named["id"] if named else None, uri=announce_uri
        )
        if boost is None:
            return await actionable_original(conn, actor, status_id)
        target = await status_store.get_status(conn, boost["reblog_of_id"])
        if target is None:  # deleted meanwhile, and its boosts with it
            raise not_found()
        await discard_status(conn, boost["id"])
        if actor.is_local:
            await outbox.unreblogged(conn, boost, target)
        return await status_store.get_status(conn, target["id"]) or target


async def _stored_before(conn: Conn, actor: Actor) -> asyncpg.Record:
    """The boost a remote actor's Announce made before (Kith never reuses a status's id)."""
    stored = await remote_store.get_status_by_uri(conn, actor.activity_uri or "")
    if stored is None:
        raise not_found()
    return stored


async def _insert_boost(
    conn: Conn,
    urls: LocalUrls,
    actor: Actor,
    target: asyncpg.Record,
    visibility: str,
    application_id: int | None,
) -> asyncpg.Record | None:
    """The boost's row: a member's gets a local id and uri, a remote actor's its Announce's id
    (None when that Announce was stored before)."""
    account_id = actor.require_account()
    if actor.is_remote:
        return await remote_store.insert_remote_status(
            conn,
            {
                "uri": actor.activity_uri,
                "url": actor.activity_uri,
                "account_id": account_id,
                "visibility": visibility,
                "reblog_of_id": target["id"],
            },
        )
    account = await account_store.get_account(conn, account_id)
    if account is None or account["domain"] is not None:
        raise not_found("Account not found")
    reblog_id = await status_store.next_id(conn)
    uri = f"{urls.status(account['username'], reblog_id)}/activity"
    return await status_store.insert_local_status(
        conn,
        status_id=reblog_id,
        uri=uri,
        url=uri,
        account_id=account_id,
        visibility=visibility,
        local_only=target["local_only"],
        application_id=application_id,
        reblog_of_id=target["id"],
    )
