"""Following: the one place that makes, updates, undoes, accepts and rejects follows.

The client API calls these for local members; the ActivityPub inbox will call the same functions
for remote actors (a `Follow` becomes `follow`, an `Accept` becomes `authorize_follow_request`
with the remote account as target), so nothing here knows about HTTP. Each operation runs in one
transaction: the follow row, both counters, the home feed and the notification change together.

Follow, Undo, Accept and Reject activities for remote accounts are queued by `federation.outbox`
in the same transaction (it does nothing when both accounts are local).
"""

from __future__ import annotations

from typing import Literal

import asyncpg

from federation import outbox
from federation.errors import forbidden, not_found
from storage import account_domain_blocks as domain_block_store
from storage import accounts as account_store
from storage import follows as follow_store
from storage import home_feed, notifications
from storage.db import Conn

FollowState = Literal["following", "requested"]

SELF_FOLLOW = "Following your own account is not allowed"
REFUSED = "The account does not accept follows from this account or its domain"


async def follow(
    pool: asyncpg.Pool,
    follower_id: int,
    target_id: int,
    *,
    reblogs: bool | None = None,
    notify: bool | None = None,
    languages: list[str] | None = None,
    uri: str | None = None,
) -> FollowState:
    """Follow `target_id`, or ask to; following again updates the options that are given.

    Options left as None keep their current value (defaults for a new follow: boosts shown,
    no notifications, all languages; an empty `languages` means all). A locked or remote target,
    or a silenced follower, gets a follow request instead (a remote target accepts over
    ActivityPub). Raises `KithError`: 403 for oneself, a block either way, a domain block
    either way (a member's own, as Mastodon refuses it) or a moved target; 404 for a missing or
    suspended account.

    A remote follower that the local target blocks, or whose domain it blocks, is answered with
    a Reject (as Mastodon does), committed before the 403 is raised; any follow or request it
    still had is dropped, so nothing of the target's reaches it.
    """
    if follower_id == target_id:
        raise forbidden(SELF_FOLLOW)
    async with pool.acquire() as conn, conn.transaction():
        found = await account_store.get_accounts(conn, [follower_id, target_id])
        follower, target = found.get(follower_id), found.get(target_id)
        if follower is None or target is None or target["suspended_at"] is not None:
            raise not_found()
        rejected = await _reject_refused_remote(conn, follower, target, uri)
        if not rejected:
            return await _follow(
                conn,
                follower,
                target,
                reblogs=reblogs,
                notify=notify,
                languages=languages,
                uri=uri,
            )
    raise forbidden(REFUSED)


async def _reject_refused_remote(
    conn: Conn, follower: asyncpg.Record, target: asyncpg.Record, uri: str | None
) -> bool:
    """When a remote follower is one the local target refuses (it blocks the follower or its
    domain), drop what it had and queue a Reject of its Follow; returns whether it did."""
    if follower["domain"] is None or target["domain"] is not None:
        return False
    if not (
        await follow_store.is_blocking(conn, target["id"], follower["id"])
        or await domain_block_store.blocks_domain_of(conn, target["id"], follower["id"])
    ):
        return False
    removed = await follow_store.delete_follow(conn, follower["id"], target["id"])
    withdrawn = await follow_store.delete_follow_request(conn, follower["id"], target["id"])
    known = removed or withdrawn
    await outbox.follow_rejected(
        conn, follower["id"], target["id"], uri or (known["uri"] if known else None)
    )
    return True


async def _follow(
    conn: Conn,
    follower: asyncpg.Record,
    target: asyncpg.Record,
    *,
    reblogs: bool | None,
    notify: bool | None,
    languages: list[str] | None,
    uri: str | None,
) -> FollowState:
    follower_id, target_id = follower["id"], target["id"]
    if (
        target["moved_to_account_id"] is not None
        or await follow_store.is_blocking(conn, target_id, follower_id)
        or await follow_store.is_blocking(conn, follower_id, target_id)
        or await domain_block_store.blocks_domain_of(conn, follower_id, target_id)
    ):
        raise forbidden()

    existing = await follow_store.get_follow(conn, follower_id, target_id)
    if existing is not None:
        await follow_store.set_follow_options(
            conn,
            existing["id"],
            show_reblogs=existing["show_reblogs"] if reblogs is None else reblogs,
            notify=existing["notify"] if notify is None else notify,
            languages=existing["languages"] if languages is None else (languages or None),
        )
        # A remote follower asking again has lost our Accept: send another.
        await outbox.follow_accepted(conn, follower_id, target_id, uri or existing["uri"])
        return "following"
    pending = await follow_store.get_follow_request(conn, follower_id, target_id)
    if pending is not None:
        await follow_store.set_follow_request_options(
            conn,
            pending["id"],
            show_reblogs=pending["show_reblogs"] if reblogs is None else reblogs,
            notify=pending["notify"] if notify is None else notify,
        )
        return "requested"

    show_reblogs = True if reblogs is None else reblogs
    notify_posts = bool(notify)
    if target["locked"] or target["domain"] is not None or follower["silenced_at"]:
        if target["domain"] is not None and follower["domain"] is None:
            uri = uri or outbox.new_follow_uri(follower["uri"])
        created = await follow_store.insert_follow_request(
            conn,
            follower_id,
            target_id,
            show_reblogs=show_reblogs,
            notify=notify_posts,
            uri=uri,
        )
        if created is not None:
            await notifications.notify(
                conn, account_id=target_id, from_account_id=follower_id, type="follow_request"
            )
            await outbox.follow_requested(conn, follower_id, target_id, created["uri"])
        return "requested"
    await _establish(
        conn,
        follower,
        target_id,
        show_reblogs=show_reblogs,
        notify=notify_posts,
        languages=languages or None,
        uri=uri,
    )
    return "following"


async def unfollow(pool: asyncpg.Pool, follower_id: int, target_id: int) -> None:
    """Stop following `target_id` (or withdraw a pending request); a no-op when neither exists.

    The target's statuses leave the follower's home feed and the notification is withdrawn.
    """
    async with pool.acquire() as conn, conn.transaction():
        removed = await follow_store.delete_follow(conn, follower_id, target_id)
        if removed is not None:
            await home_feed.remove_author(conn, follower_id, target_id)
            await notifications.withdraw(
                conn,
                account_id=target_id,
                from_account_id=follower_id,
                type="follow",
                status_id=None,
            )
        withdrawn = await follow_store.delete_follow_request(conn, follower_id, target_id)
        if withdrawn is not None:
            await notifications.withdraw(
                conn,
                account_id=target_id,
                from_account_id=follower_id,
                type="follow_request",
                status_id=None,
            )
        undone = removed or withdrawn
        if undone is not None:
            await outbox.unfollowed(conn, follower_id, target_id, undone["uri"])


async def authorize_follow_request(pool: asyncpg.Pool, target_id: int, requester_id: int) -> None:
    """Turn `requester_id`'s pending request to follow `target_id` into a follow.

    The `follow_request` notification is replaced by a `follow` one. Raises 404 when there is
    no such request.
    """
    async with pool.acquire() as conn, conn.transaction():
        await _authorize(conn, target_id, requester_id)


async def authorize_all_follow_requests(pool: asyncpg.Pool, target_id: int) -> None:
    """Accept every pending request (an account that stops being locked, as in Mastodon)."""
    async with pool.acquire() as conn, conn.transaction():
        for requester_id in await follow_store.pending_requester_ids(conn, target_id):
            await _authorize(conn, target_id, requester_id)


async def reject_follow_request(pool: asyncpg.Pool, target_id: int, requester_id: int) -> None:
    """Drop `requester_id`'s pending request to follow `target_id`; 404 when there is none."""
    async with pool.acquire() as conn, conn.transaction():
        request = await follow_store.delete_follow_request(conn, requester_id, target_id)
        if request is None:
            raise not_found()
        await notifications.withdraw(
            conn,
            account_id=target_id,
            from_account_id=requester_id,
            type="follow_request",
            status_id=None,
        )
        await outbox.follow_rejected(conn, requester_id, target_id, request["uri"])


async def _authorize(conn: Conn, target_id: int, requester_id: int) -> None:
    request = await follow_store.delete_follow_request(conn, requester_id, target_id)
    if request is None:
        raise not_found()
    requester = await account_store.get_account(conn, requester_id)
    if requester is None:
        raise not_found()
    await notifications.withdraw(
        conn,
        account_id=target_id,
        from_account_id=requester_id,
        type="follow_request",
        status_id=None,
    )
    await _establish(
        conn,
        requester,
        target_id,
        show_reblogs=request["show_reblogs"],
        notify=request["notify"],
        languages=None,
        uri=request["uri"],
    )


async def _establish(
    conn: Conn,
    follower: asyncpg.Record,
    target_id: int,
    *,
    show_reblogs: bool,
    notify: bool,
    languages: list[str] | None,
    uri: str | None,
) -> None:
    """Create the follow, fill a local follower's home feed, answer a remote follower with an
    Accept and notify the target."""
    created = await follow_store.insert_follow(
        conn,
        follower["id"],
        target_id,
        show_reblogs=show_reblogs,
        notify=notify,
        languages=languages,
        uri=uri,
    )
    if created is None:  # a concurrent request made it first
        return
    if follower["domain"] is None:
        await home_feed.backfill(conn, follower["id"], target_id)
    await outbox.follow_accepted(conn, follower["id"], target_id, uri)
    await notifications.notify(
        conn, account_id=target_id, from_account_id=follower["id"], type="follow"
    )


async def remove_follower(pool: asyncpg.Pool, account_id: int, follower_id: int) -> None:
    """Make `follower_id` stop following `account_id` (Mastodon's "remove from followers").

    The follower's home feed loses the account's statuses; a remote follower's server is told
    with a Reject of its Follow, which Mastodon and Kith take as the end of an accepted follow.
    A no-op when there is no such follow.
    """
    async with pool.acquire() as conn, conn.transaction():
        removed = await follow_store.delete_follow(conn, follower_id, account_id)
        if removed is None:
            return
        await home_feed.remove_author(conn, follower_id, account_id)
        await outbox.follow_rejected(conn, follower_id, account_id, removed["uri"])
