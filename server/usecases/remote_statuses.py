"""Statuses written on other servers: stored, edited and deleted as their authors' servers say.

Like `server.usecases.statuses` for local posts, each operation is one transaction that keeps
the derived rows in step: mentions, tags, attachments, counters, home feeds and notifications.
Every entry point is idempotent by the post's `uri`, because peers redeliver and because the same
post arrives by more than one path (its Create, a boost, a search).

Nothing is stored that the policy pipeline has not screened: `store_note` and `update_note` call
`pipeline.require_screened` (the inbox's dispatch screens deliveries), and `store_fetched_note`
screens the fetched post itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from federation import remote_accounts
from federation.context import Federation
from federation.fetch import FetchError
from federation.parse.actors import authority
from federation.parse.notes import ParsedNote, parse_note
from federation.policies import pipeline
from server.usecases import status_edits
from server.usecases.statuses import DISTRIBUTABLE, discard_status
from storage import follows as follow_store
from storage import home_feed
from storage import notifications as notification_store
from storage import remote_relations as relation_store
from storage import remote_statuses as store
from storage import status_edits as edit_store
from storage import statuses as status_store
from storage import tags as tag_store

NOBODY_FOLLOWS = "nobody here follows its author, is addressed or is replied to"


UNREADABLE_PARENT = "replies to a status its author may not read"


@dataclass(frozen=True)
class Stored:
    """A stored status (`created` when this call made it), or why there is none: `skipped`
    (nothing to do here) or `refused` (the post is not allowed)."""

    status: asyncpg.Record | None
    created: bool = False
    skipped: str | None = None
    refused: str | None = None


async def store_note(
    fed: Federation, note: ParsedNote, author: asyncpg.Record, *, only_if_relevant: bool = True
) -> Stored:
    """Store `note` by `author` (the verified actor).

    With `only_if_relevant` (the inbox), a post is kept only when someone here has reason to see
    it, as Mastodon decides: the author has local followers, it mentions or is addressed to a
    local account, or it replies to a status Kith knows.

    A reply to a local status its author may not read (local-only, followers-only without
    following, direct without being addressed) is refused: a remote account cannot have been
    sent that status, so it cannot thread under it or notify about it. A reply to a remote
    status is kept: who may read it is its own server's business.
    """
    pipeline.require_screened(note.uri)
    if note.author_uri != author["uri"]:
        return Stored(None, skipped=f"attributed to {note.author_uri}, not to its actor")
    async with fed.pool.acquire() as conn, conn.transaction():
        existing = await store.get_status_by_uri(conn, note.uri)
        if existing is not None:
            deleted = existing["deleted_at"] is not None
            return Stored(existing, skipped="deleted earlier" if deleted else "already stored")
        parent = None
        if note.in_reply_to:
            parent = await store.get_status_by_uri(conn, note.in_reply_to)
            parent = parent if parent is not None and parent["deleted_at"] is None else None
        if parent is not None and not await _may_reply(conn, parent, author["id"]):
            return Stored(None, refused=UNREADABLE_PARENT)
        named = await store.accounts_by_links(conn, note.mentions)
        addressed = [
            a
            for a in await store.accounts_by_links(conn, [*note.to, *note.cc])
            if a["domain"] is None
        ]
        if only_if_relevant and not (
            parent is not None
            or addressed
            or any(a["domain"] is None for a in named)
            or await store.has_local_followers(conn, author["id"])
        ):
            return Stored(None, skipped=NOBODY_FOLLOWS)
        visibility = note.visibility(author["followers_url"])
        status = await store.insert_remote_status(conn, _columns(note, author, parent, visibility))
        if status is None:  # a concurrent delivery stored it first
            return Stored(await store.get_status_by_uri(conn, note.uri))
        await _attach(conn, status, note, author["id"])
        mentioned_ids = list(dict.fromkeys(a["id"] for a in named))
        await status_store.insert_mentions(conn, status["id"], mentioned_ids)
        silent_ids = [a["id"] for a in addressed if a["id"] not in mentioned_ids]
        await store.insert_silent_mentions(conn, status["id"], silent_ids)
        if parent is not None and visibility in DISTRIBUTABLE:
            await status_store.adjust_counts(conn, parent["id"], replies=1)
        if visibility != "direct":
            await status_store.adjust_statuses_count(conn, [author["id"]], 1)
        await home_feed.fan_out(conn, status, [*mentioned_ids, *silent_ids])
        for reader_id in await status_store.mentioned_readers(conn, status["id"]):
            await notification_store.notify(
                conn,
                account_id=reader_id,
                from_account_id=author["id"],
                type="mention",
                status_id=status["id"],
            )
        return Stored(status, created=True)


async def store_fetched_note(fed: Federation, doc: dict[str, Any]) -> asyncpg.Record:
    """Store a post fetched from its origin (a search, a boost of an unknown post); return it.

    The author must be on the host of the post's id, and is resolved (fetched when unknown).
    The post is screened by the policy pipeline first, as the Create its author would have
    delivered. Raises `ValueError` (`NoteError`) for what is not a post, `FetchError` for an
    unreachable author or a post a policy rejects.
    """
    note = parse_note(doc)
    if authority(note.author_uri) != authority(note.uri):
        raise FetchError(f"{note.uri} is attributed to another host's actor")
    create = {
        "id": note.uri,
        "type": "Create",
        "actor": note.author_uri,
        "object": doc,
        **{key: doc[key] for key in ("to", "cc") if key in doc},
    }
    verdict = await pipeline.screen(fed, create, authority(note.uri), source="fetch")
    if not verdict.accepted:
        raise FetchError(f"{note.uri} was rejected by policy {verdict.policy}: {verdict.reason}")
    note = parse_note(verdict.activity["object"])
    author = await remote_accounts.resolve_actor(fed, note.author_uri)
    with pipeline.screened(verdict.activity):
        stored = await store_note(fed, note, author, only_if_relevant=False)
    if stored.status is None or stored.status["deleted_at"] is not None:
        raise FetchError(f"{note.uri} could not be stored: {stored.skipped or stored.refused}")
    return stored.status


async def update_note(fed: Federation, note: ParsedNote, author: asyncpg.Record) -> str | None:
    """Apply an edit of one of `author`'s posts, keeping the previous version; returns why
    nothing was changed, or None."""
    pipeline.require_screened(note.uri)
    async with fed.pool.acquire() as conn, conn.transaction():
        status = await store.get_status_by_uri(conn, note.uri)
        if status is None or status["deleted_at"] is not None:
            return "unknown status"
        if status["account_id"] != author["id"] or status["local"]:
            return "not the author's status"
        status = await status_store.lock_status(conn, status["id"])
        await edit_store.keep_version(
            conn,
            status_id=status["id"],
            content=status["content"],
            spoiler_text=status["spoiler_text"],
            sensitive=status["sensitive"],
            created_at=status["edited_at"] or status["created_at"],
        )
        await store.rewrite_remote_status(
            conn,
            status["id"],
            content=note.content,
            spoiler_text=note.spoiler_text,
            sensitive=note.sensitive,
            language=note.language,
        )
        await edit_store.detach_tags(conn, status["id"])
        tags = await tag_store.upsert_tags(conn, note.hashtags)
        await tag_store.attach_tags(conn, status["id"], [tag["id"] for tag in tags])
        # The new version's mentions replace the old: whoever it no longer names or addresses
        # loses what the mention gave them (a direct post, its notification).
        named = [a["id"] for a in await store.accounts_by_links(conn, note.mentions)]
        addressed = await store.accounts_by_links(conn, [*note.to, *note.cc])
        silent = [a["id"] for a in addressed if a["domain"] is None and a["id"] not in named]
        await status_edits.update_mentions(conn, status, list(dict.fromkeys(named)), silent)
        for reader_id in await edit_store.local_reblogger_ids(conn, status["id"]):
            await notification_store.notify(
                conn,
                account_id=reader_id,
                from_account_id=author["id"],
                type="update",
                status_id=status["id"],
            )
    return None


async def delete_note(fed: Federation, uri: str, author: asyncpg.Record) -> str | None:
    """Delete one of `author`'s posts (or boosts) by its uri; returns why nothing was deleted,
    or None."""
    async with fed.pool.acquire() as conn, conn.transaction():
        status = await store.get_status_by_uri(conn, uri)
        if status is None or status["deleted_at"] is not None:
            return "unknown status"
        if status["account_id"] != author["id"] or status["local"]:
            return "not the author's status"
        await discard_status(conn, status["id"])
    return None


async def delete_account_content(fed: Federation, account: asyncpg.Record) -> int:
    """A deleted remote actor: its statuses go, and its follows and requests both ways.
    Returns how many statuses were deleted."""
    async with fed.pool.acquire() as conn, conn.transaction():
        status_ids = await store.live_status_ids_of(conn, account["id"])
        for status_id in status_ids:
            await discard_status(conn, status_id)
        for follower_id, followed_id in await relation_store.follow_pairs_of(conn, account["id"]):
            await follow_store.delete_follow(conn, follower_id, followed_id)
            await follow_store.delete_follow_request(conn, follower_id, followed_id)
            await home_feed.remove_author(conn, follower_id, followed_id)
    return len(status_ids)


async def _may_reply(conn: asyncpg.Connection, parent: asyncpg.Record, author_id: int) -> bool:
    if not parent["local"]:
        return True
    return await status_store.get_actionable_status(conn, parent["id"], author_id) is not None


def _columns(
    note: ParsedNote, author: asyncpg.Record, parent: asyncpg.Record | None, visibility: str
) -> dict[str, Any]:
    return {
        "uri": note.uri,
        "url": note.url or note.uri,
        "account_id": author["id"],
        "content": note.content,
        "spoiler_text": note.spoiler_text,
        "sensitive": note.sensitive,
        "visibility": visibility,
        "language": note.language,
        "in_reply_to_uri": note.in_reply_to,
        "in_reply_to_id": parent["id"] if parent else None,
        "in_reply_to_account_id": parent["account_id"] if parent else None,
        "thread_root_id": (parent["thread_root_id"] or parent["id"]) if parent else None,
        "created_at": note.published,
    }


async def _attach(
    conn: asyncpg.Connection, status: asyncpg.Record, note: ParsedNote, author_id: int
) -> None:
    """Tags, attachments and the poll of a new status."""
    tags = await tag_store.upsert_tags(conn, note.hashtags)
    await tag_store.attach_tags(conn, status["id"], [tag["id"] for tag in tags])
    await store.insert_media(
        conn,
        author_id,
        status["id"],
        [
            {"type": a.type, "url": a.url, "description": a.description, "blurhash": a.blurhash}
            for a in note.attachments
        ],
    )
    if note.poll is not None:
        await store.insert_poll(
            conn,
            status["id"],
            options=[
                {"title": title, "votes_count": votes}
                for title, votes in zip(note.poll.options, note.poll.votes, strict=True)
            ],
            multiple=note.poll.multiple,
            expires_at=note.poll.expires_at,
        )
