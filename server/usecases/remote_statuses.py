"""Posts from other servers: how a delivered post becomes a status, and what only a peer does.

`Delivered` is the remote side of posting and editing (`statuses.post_status`,
`status_edits.edit_status`): it takes a post as its author's server sent it, once the policy
pipeline has screened it. Remote-only operations live here too: storing a post fetched on its
own (`store_fetched_note`) and removing what a deleted remote account left
(`delete_account_content`).

Nothing is stored that the policy pipeline has not screened: a `Delivered` can only be made of a
screened post (the inbox's dispatch screens deliveries), and `store_fetched_note` screens the
fetched post itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from federation import remote_accounts
from federation.context import Federation
from federation.errors import KithError, forbidden
from federation.fetch import FetchError
from federation.parse.actors import authority
from federation.parse.notes import ParsedNote, parse_note
from federation.policies import pipeline
from federation.urls import LocalUrls
from server.usecases import remote_media
from server.usecases.actors import Actor
from server.usecases.status_edits import Revision
from server.usecases.statuses import NewStatus, discard_status, post_status
from storage import follows as follow_store
from storage import home_feed
from storage import remote_relations as relation_store
from storage import remote_statuses as store
from storage import statuses as status_store
from storage.db import Conn

# Not found rather than refused: the inbox records it as ignored, as Mastodon drops such posts.
NOBODY_FOLLOWS = "nobody here follows its author, is addressed or is replied to"
UNREADABLE_PARENT = "replies to a status its author may not read"


@dataclass(frozen=True)
class Delivered:
    """A post as its author's server sent it, as a `Draft` (a new post) or a `Reviser` (an
    edit of one). Raises `pipeline.Unscreened` unless the post passed the policy pipeline.

    With `only_if_relevant` (the inbox), a new post is kept only when someone here has reason
    to see it, as Mastodon decides: the author has local followers, it mentions or is addressed
    to a local account, or it replies to a status Kith knows.
    """

    note: ParsedNote
    only_if_relevant: bool = True

    def __post_init__(self) -> None:
        pipeline.require_screened(self.note.uri)

    async def earlier(self, conn: Conn, author: asyncpg.Record) -> asyncpg.Record | None:
        return await store.get_status_by_uri(conn, self.note.uri)

    async def prepare(self, conn: Conn, urls: LocalUrls, author: asyncpg.Record) -> NewStatus:
        """A reply to a local status its author may not read (local-only, followers-only without
        following, direct without being addressed) is refused: a remote account cannot have been
        sent that status, so it cannot thread under it or notify about it. A reply to a remote
        status is kept: who may read it is its own server's business."""
        note = self.note
        if note.author_uri != author["uri"]:
            raise forbidden(f"attributed to {note.author_uri}, not to its actor")
        parent = None
        if note.in_reply_to:
            parent = await store.get_status_by_uri(conn, note.in_reply_to)
            parent = parent if parent is not None and parent["deleted_at"] is None else None
        if parent is not None and not await _may_reply(conn, parent, author["id"]):
            raise forbidden(UNREADABLE_PARENT)
        named, silent = await self._mentions(conn)
        if (
            self.only_if_relevant
            and parent is None
            and not silent
            and all(account["domain"] is not None for account in named)
            and not await store.has_local_followers(conn, author["id"])
        ):
            raise KithError(404, NOBODY_FOLLOWS)
        return NewStatus(
            content=note.content,
            visibility=note.visibility(author["followers_url"]),
            spoiler_text=note.spoiler_text,
            sensitive=note.sensitive,
            language=note.language,
            parent=parent,
            mentioned_ids=[account["id"] for account in named],
            silent_ids=silent,
            tags=note.hashtags,
            uri=note.uri,
            url=note.url,
            in_reply_to_uri=note.in_reply_to,
            published=note.published,
            attachments=await remote_media.kept_attachments(conn, note.attachments),
            poll=note.poll,
        )

    async def revise(self, conn: Conn, urls: LocalUrls, status: asyncpg.Record) -> Revision:
        """The edited post; without a language, the status keeps its own. Its attachments
        replace the status's (the same files keep their rows, see `status_edits`)."""
        note = self.note
        named, silent = await self._mentions(conn)
        return Revision(
            content=note.content,
            text=status["text"],
            spoiler_text=note.spoiler_text,
            sensitive=note.sensitive,
            language=note.language or status["language"],
            mentioned_ids=[account["id"] for account in named],
            silent_ids=silent,
            tags=note.hashtags,
            attachments=await remote_media.kept_attachments(conn, note.attachments),
        )

    async def _mentions(self, conn: Conn) -> tuple[list[asyncpg.Record], list[int]]:
        """The known accounts the post names, in order, and the ids of the local accounts it is
        addressed to without naming them."""
        note = self.note
        named: dict[int, asyncpg.Record] = {
            a["id"]: a for a in await store.accounts_by_links(conn, note.mentions)
        }
        addressed = await store.accounts_by_links(conn, [*note.to, *note.cc])
        silent = [a["id"] for a in addressed if a["domain"] is None and a["id"] not in named]
        return list(named.values()), list(dict.fromkeys(silent))


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
    create: dict[str, Any] = {
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
    try:
        with pipeline.screened(verdict.activity):
            draft = Delivered(note, only_if_relevant=False)
        posted = await post_status(fed.pool, fed.urls, Actor.remote(author["id"], None), draft)
    except KithError as exc:
        raise FetchError(f"{note.uri} could not be stored: {exc.message}") from exc
    if posted.status["deleted_at"] is not None:
        raise FetchError(f"{note.uri} could not be stored: deleted earlier")
    return posted.status


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


async def _may_reply(conn: Conn, parent: asyncpg.Record, author_id: int) -> bool:
    if not parent["local"]:
        return True
    return await status_store.get_actionable_status(conn, parent["id"], author_id) is not None
