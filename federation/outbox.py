"""What local members do that other servers must hear about: the services' one entry point.

Each function runs inside the service's transaction, on its connection: it builds the activity
with `federation.render` and queues it with `federation.delivery.deliver`, so the activity is
sent exactly when the write that caused it commits. Each does nothing when nothing remote is
involved: the actor is remote (the inbox calls the same services for remote actors), or nobody
remote is in the audience.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from federation.delivery import audience, deliver
from federation.render import activities
from federation.render.actors import render_actor
from federation.render.objects import addressing, load_note_parts, render_announce, render_note
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage import statuses as status_store
from storage.db import Conn, Row


def new_follow_uri(follower_uri: str) -> str:
    """The id of a Follow a local member sends; stored on the request so the Accept matches."""
    return f"{follower_uri}#follows/{uuid.uuid4().hex}"


async def status_created(conn: Conn, urls: LocalUrls, status: Row) -> None:
    """Create(Note) to the status's audience."""
    await _note_to_audience(conn, urls, status, activities.create)


async def status_reach(conn: Conn, status: Row) -> list[str]:
    """The inboxes the status's activities go to now: taken before an edit, for
    `status_edited`."""
    return await audience.for_status(conn, status)


async def status_edited(
    conn: Conn,
    urls: LocalUrls,
    status: Row,
    *,
    reached_before: Sequence[str] = (),
) -> None:
    """Update(Note) with the new version, to the status's audience as it is now.

    The inboxes of `reached_before` that an edit took out of the audience (a mention removed)
    still get the Update when the status is public or unlisted, which they may go on reading;
    from a followers-only or direct status they have lost, they get a Delete instead, so their
    servers stop showing it.
    """
    author = await _local_actor(conn, status["account_id"])
    if author is None:
        return
    reached = await audience.for_status(conn, status)
    dropped = [inbox for inbox in reached_before if inbox not in reached]
    if status["visibility"] in ("public", "unlisted"):
        reached, dropped = [*reached, *dropped], []
    await _send_note(conn, urls, author, status, activities.update, reached)
    if dropped:
        to, cc = addressing(status["visibility"], author["followers_url"], [])
        delete = activities.delete(status["uri"], author["uri"], to, cc)
        await _send(conn, author, delete, dropped)


async def status_deleted(conn: Conn, status: Row) -> None:
    """Delete(Tombstone) to the audience the status had; a deleted boost is an Undo Announce."""
    if status["reblog_of_id"] is not None:
        original = await status_store.get_statuses(conn, [status["reblog_of_id"]])
        if status["reblog_of_id"] in original:
            await unreblogged(conn, status, original[status["reblog_of_id"]])
        return
    author = await _local_actor(conn, status["account_id"])
    inboxes = await audience.for_status(conn, status)
    if author is None or not inboxes:
        return
    mentioned = [m["uri"] for m in await status_store.mentions_of(conn, [status["id"]])]
    to, cc = addressing(status["visibility"], author["followers_url"], mentioned)
    await _send(conn, author, activities.delete(status["uri"], author["uri"], to, cc), inboxes)


async def favourited(conn: Conn, account_id: int, status: Row) -> None:
    """Like to the status's author, when remote."""
    activity = await _like(conn, account_id, status)
    if activity is not None:
        actor, like = activity
        await _send(conn, actor, like, await audience.account(conn, status["account_id"]))


async def unfavourited(conn: Conn, account_id: int, status: Row) -> None:
    """Undo(Like) to the status's author, when remote."""
    activity = await _like(conn, account_id, status)
    if activity is not None:
        actor, like = activity
        undo = activities.undo(actor["uri"], like)
        await _send(conn, actor, undo, await audience.account(conn, status["account_id"]))


async def reblogged(conn: Conn, boost: Row, original: Row) -> None:
    """Announce to the booster's remote followers and the original's author."""
    announce = await _announce(conn, boost, original)
    if announce is not None:
        actor, activity, inboxes = announce
        await _send(conn, actor, activity, inboxes)


async def unreblogged(conn: Conn, boost: Row, original: Row) -> None:
    """Undo(Announce) to the audience the Announce had."""
    announce = await _announce(conn, boost, original)
    if announce is not None:
        actor, activity, inboxes = announce
        await _send(conn, actor, activities.undo(actor["uri"], activity), inboxes)


async def follow_requested(
    conn: Conn, follower_id: int, target_id: int, follow_uri: str | None
) -> None:
    """Follow from a local member to a remote account."""
    pair = await _follow(conn, follower_id, target_id, follow_uri, sender="follower")
    if pair is not None:
        actor, follow = pair
        await _send(conn, actor, follow, await audience.account(conn, target_id))


async def unfollowed(conn: Conn, follower_id: int, target_id: int, follow_uri: str | None) -> None:
    """Undo(Follow) from a local member to a remote account (a follow or a pending request)."""
    pair = await _follow(conn, follower_id, target_id, follow_uri, sender="follower")
    if pair is not None:
        actor, follow = pair
        undo = activities.undo(actor["uri"], follow)
        await _send(conn, actor, undo, await audience.account(conn, target_id))


async def follow_accepted(
    conn: Conn, follower_id: int, target_id: int, follow_uri: str | None
) -> None:
    """Accept(Follow) from a local member to a remote follower, embedding the Follow."""
    pair = await _follow(conn, follower_id, target_id, follow_uri, sender="target")
    if pair is not None:
        actor, follow = pair
        accept = activities.accept(actor["uri"], follow)
        await _send(conn, actor, accept, await audience.account(conn, follower_id))


async def follow_rejected(
    conn: Conn, follower_id: int, target_id: int, follow_uri: str | None
) -> None:
    """Reject(Follow) from a local member to a remote requester, embedding the Follow."""
    pair = await _follow(conn, follower_id, target_id, follow_uri, sender="target")
    if pair is not None:
        actor, follow = pair
        reject = activities.reject(actor["uri"], follow)
        await _send(conn, actor, reject, await audience.account(conn, follower_id))


async def blocked(conn: Conn, account_id: int, target_id: int) -> None:
    """Block from a local member to the remote account it blocks (Mastodon drops the follows
    both ways on receipt, as Kith does locally)."""
    pair = await _local_and_remote(conn, account_id, target_id)
    if pair is not None:
        actor, target = pair
        block = activities.block(_event_id(actor["uri"], "blocks"), actor["uri"], target["uri"])
        await _send(conn, actor, block, await audience.account(conn, target_id))


async def unblocked(conn: Conn, account_id: int, target_id: int) -> None:
    """Undo(Block) from a local member to the remote account it unblocks."""
    pair = await _local_and_remote(conn, account_id, target_id)
    if pair is not None:
        actor, target = pair
        block = activities.block(_event_id(actor["uri"], "blocks"), actor["uri"], target["uri"])
        undo = activities.undo(actor["uri"], block)
        await _send(conn, actor, undo, await audience.account(conn, target_id))


async def profile_updated(conn: Conn, urls: LocalUrls, account_id: int) -> None:
    """Update(actor) to the member's remote followers."""
    actor = await _local_actor(conn, account_id)
    inboxes = await audience.followers(conn, account_id)
    if actor is None or not inboxes:
        return
    await _send(conn, actor, activities.update_actor(render_actor(actor, urls)), inboxes)


# --- Building blocks -----------------------------------------------------------------------------


async def _send(conn: Conn, actor: Row, activity: dict[str, Any], inboxes: list[str]) -> None:
    if inboxes:
        await deliver(conn, actor_id=actor["id"], activity=activity, inboxes=inboxes)


async def _local_actor(conn: Conn, account_id: int) -> asyncpg.Record | None:
    """A local account with every column (collections, keys); None for a remote one."""
    return await account_store.get_local_account_with_keys(conn, account_id)


async def _note_to_audience(
    conn: Conn,
    urls: LocalUrls,
    status: Row,
    wrap: Callable[[dict[str, Any], str], dict[str, Any]],
) -> None:
    author = await _local_actor(conn, status["account_id"])
    if author is not None:
        inboxes = await audience.for_status(conn, status)
        await _send_note(conn, urls, author, status, wrap, inboxes)


async def _send_note(
    conn: Conn,
    urls: LocalUrls,
    author: Row,
    status: Row,
    wrap: Callable[[dict[str, Any], str], dict[str, Any]],
    inboxes: list[str],
) -> None:
    """The status rendered as a Note, wrapped (Create, Update) and sent to `inboxes`."""
    if not inboxes:
        return
    parts = await load_note_parts(conn, [status["id"]])
    note = render_note(status, author, parts[status["id"]], urls)
    await _send(conn, author, wrap(note, author["uri"]), inboxes)


def _event_id(actor_uri: str, kind: str) -> str:
    """A fresh id for a Like or Block, which Kith does not store. Fresh each time, so liking
    again after an Undo is not taken for a redelivery; receivers match an Undo of these by actor
    and object, as Mastodon does, so the Undo need not repeat the original id."""
    return f"{actor_uri}#{kind}/{uuid.uuid4().hex}"


async def _local_and_remote(
    conn: Conn, local_id: int, remote_id: int
) -> tuple[asyncpg.Record, asyncpg.Record] | None:
    """(the local actor with its keys, the remote account); None unless they are so."""
    remote = await account_store.get_account(conn, remote_id)
    if remote is None or remote["domain"] is None:
        return None
    actor = await _local_actor(conn, local_id)
    return (actor, remote) if actor is not None else None


async def _like(
    conn: Conn, account_id: int, status: Row
) -> tuple[asyncpg.Record, dict[str, Any]] | None:
    """A local member's Like of a remote status; None when either side is not so."""
    if status["local"]:
        return None
    actor = await _local_actor(conn, account_id)
    if actor is None:
        return None
    return actor, activities.like(_event_id(actor["uri"], "likes"), actor["uri"], status["uri"])


async def _announce(
    conn: Conn, boost: Row, original: Row
) -> tuple[asyncpg.Record, dict[str, Any], list[str]] | None:
    actor = await _local_actor(conn, boost["account_id"])
    inboxes = await audience.for_boost(conn, boost, original)
    if actor is None or not inboxes:
        return None
    original_author = await account_store.get_account(conn, original["account_id"])
    author_uri = original_author["uri"] if original_author is not None else None
    return actor, render_announce(boost, actor, original["uri"], author_uri), inboxes


async def _follow(
    conn: Conn,
    follower_id: int,
    target_id: int,
    follow_uri: str | None,
    *,
    sender: str,
) -> tuple[asyncpg.Record, dict[str, Any]] | None:
    """The Follow between the two accounts, with the local `sender` ("follower" or "target");
    None unless the sender is local and the other side remote."""
    by_follower = sender == "follower"
    local_id, remote_id = (follower_id, target_id) if by_follower else (target_id, follower_id)
    pair = await _local_and_remote(conn, local_id, remote_id)
    if pair is None:
        return None
    actor, remote = pair
    follower, target = (actor, remote) if by_follower else (remote, actor)
    # A follow made before Kith federated has no id; Mastodon matches such answers by actors.
    uri = follow_uri or f"{follower['uri']}#follows/{target['id']}"
    return actor, activities.follow(uri, follower["uri"], target["uri"])
