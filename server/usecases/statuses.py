"""Posting and deleting a status, by a member here or by a remote author: one function each.

`post_status` stores a `NewStatus` and does every side effect once, whoever wrote it: mentions,
tags, attachments, counters, home feeds, notifications and (for a local author) the Create sent
out. What differs by direction is only how the `NewStatus` is made, by a `Draft`: `Typed` here
composes what a member typed (`server.usecases.composition`); `remote_statuses.Delivered` takes
a post as its author's server delivered it, once the policy pipeline has screened it.

Counters follow Mastodon: direct statuses do not count towards an author's statuses, and only
public and unlisted replies count towards a status's replies (so a count never reveals a
private reply). Editing a status is `server.usecases.status_edits`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from federation import content, outbox
from federation.errors import KithError, invalid, not_found
from federation.parse.notes import Poll
from federation.urls import LocalUrls
from server.usecases import media
from server.usecases.actors import Actor
from server.usecases.composition import compose
from server.usecases.polls import POLL_WITH_MEDIA, PollDraft, attach_poll, check_draft
from storage import accounts as account_store
from storage import home_feed
from storage import notifications as notification_store
from storage import remote_statuses as remote_store
from storage import statuses as status_store
from storage import tags as tag_store
from storage.db import Conn

VISIBILITIES = ("public", "unlisted", "private", "direct")
# Visibilities whose statuses are listed publicly and count as replies.
DISTRIBUTABLE = ("public", "unlisted")
IDEMPOTENCY_HOURS = 24
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
NOT_THE_AUTHORS = "not the author's status"
# ISO 639 codes, optionally with a region or script (`en`, `pt-BR`, `sr-Latn`).
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,4})?$")


@dataclass(frozen=True)
class NewStatus:
    """A status about to be stored, whichever direction it came from.

    `parent` is the status replied to; `mentioned_ids` are the accounts named in it, in order,
    `silent_ids` those it is addressed to without naming them (a direct post's `to`).
    """

    content: str  # HTML
    visibility: str
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    parent: asyncpg.Record | None = None
    mentioned_ids: Sequence[int] = ()
    silent_ids: Sequence[int] = ()
    tags: Sequence[str] = ()
    # A local status: its source text and what the client asked for.
    text: str = ""
    local_only: bool = False
    application_id: int | None = None
    idempotency_key: str | None = None
    # A remote status: its ids and what only a peer can send yet.
    uri: str | None = None
    url: str | None = None
    in_reply_to_uri: str | None = None
    published: datetime | None = None
    attachments: Sequence[dict[str, Any]] = ()
    poll: Poll | None = None
    # A local status: the author's uploads to attach, in order (`media.attach` checks them).
    media_ids: Sequence[int] = ()


class Draft(Protocol):
    """A post as its author's side gives it, before it is a status."""

    async def earlier(self, conn: Conn, author: asyncpg.Record) -> asyncpg.Record | None:
        """The status this post already is (a repeated request, a redelivery), or None."""
        ...

    async def prepare(self, conn: Conn, urls: LocalUrls, author: asyncpg.Record) -> NewStatus:
        """The status to store; raises `KithError` when it may not be posted."""
        ...


@dataclass(frozen=True)
class Posted:
    """The status a post is, and whether this call stored it (False: it was stored before)."""

    status: asyncpg.Record
    created: bool


async def post_status(pool: asyncpg.Pool, urls: LocalUrls, actor: Actor, draft: Draft) -> Posted:
    """Store what `actor` posts, with everything that follows from it, in one transaction.

    Idempotent: a post stored before (same Idempotency-Key within a day, or same uri) is
    returned as it is, deleted or not, with `created` False.
    """
    async with pool.acquire() as conn, conn.transaction():
        author = await account_store.get_account(conn, actor.require_account())
        if author is None or (author["domain"] is None) != actor.is_local:
            raise not_found("Account not found")
        earlier = await draft.earlier(conn, author)
        if earlier is not None:
            return Posted(earlier, created=False)
        new = await draft.prepare(conn, urls, author)
        status = await _insert(conn, urls, author, new)
        if status is None:  # a concurrent delivery of the same post stored it first
            earlier = await draft.earlier(conn, author)
            if earlier is None:
                raise not_found()
            return Posted(earlier, created=False)
        await _attach(conn, status, new)
        parent = new.parent
        if parent is not None and new.visibility in DISTRIBUTABLE:
            await status_store.adjust_counts(conn, parent["id"], replies=1)
        if new.visibility != "direct":
            await status_store.adjust_statuses_count(conn, [author["id"]], 1)
        if new.idempotency_key:
            await status_store.remember_idempotency_key(
                conn, author["id"], new.idempotency_key, status["id"]
            )
        await home_feed.fan_out(conn, status, [*new.mentioned_ids, *new.silent_ids])
        for reader_id in await status_store.mentioned_readers(conn, status["id"]):
            await notification_store.notify(
                conn,
                account_id=reader_id,
                from_account_id=author["id"],
                type="mention",
                status_id=status["id"],
            )
        await outbox.status_created(conn, urls, status)  # nothing for a remote author
        return Posted(status, created=True)


@dataclass(frozen=True)
class Typed:
    """What a member typed in a client, as a `Draft`. None takes the member's preference
    (default visibility, language, sensitivity, local-only); visibility `local` is Kith's
    shorthand for public and local-only, as in glitch-soc."""

    text: str
    visibility: str | None = None
    spoiler_text: str = ""
    sensitive: bool | None = None
    in_reply_to_id: int | None = None
    language: str | None = None
    local_only: bool | None = None
    application_id: int | None = None
    idempotency_key: str | None = None
    media_ids: Sequence[int] = ()
    poll: PollDraft | None = None

    async def earlier(self, conn: Conn, author: asyncpg.Record) -> asyncpg.Record | None:
        if not self.idempotency_key:
            return None
        return await status_store.idempotent_status(
            conn, author["id"], self.idempotency_key, IDEMPOTENCY_HOURS
        )

    async def prepare(self, conn: Conn, urls: LocalUrls, author: asyncpg.Record) -> NewStatus:
        """A reply must be to a status the author may read (else 404), and a reply to a
        local-only status is local-only too. A content warning marks the status sensitive."""
        preferences = await account_store.get_user_by_account(conn, author["id"])
        if preferences is None:
            raise not_found("Account not found")
        visibility = self.visibility or preferences["default_visibility"]
        local_only = (
            preferences["default_local_only"] if self.local_only is None else self.local_only
        )
        if visibility == "local":
            visibility, local_only = "public", True
        text, spoiler_text = self.text.strip(), self.spoiler_text.strip()
        check_text(text, spoiler_text, visibility, media=bool(self.media_ids))
        if self.poll is not None and self.media_ids:
            raise invalid(POLL_WITH_MEDIA)
        sensitive = preferences["default_sensitive"] if self.sensitive is None else self.sensitive
        parent = await _reply_target(conn, self.in_reply_to_id, author["id"])
        poll = await check_draft(conn, self.poll) if self.poll is not None else None
        composed = await compose(conn, urls, text)
        return NewStatus(
            content=composed.html,
            visibility=visibility,
            spoiler_text=spoiler_text,
            sensitive=sensitive or bool(spoiler_text),
            language=valid_language(self.language or preferences["default_language"]),
            parent=parent,
            mentioned_ids=composed.mentioned_ids,
            tags=composed.tags,
            text=text,
            local_only=local_only or (parent is not None and parent["local_only"]),
            application_id=self.application_id,
            idempotency_key=self.idempotency_key,
            media_ids=self.media_ids,
            poll=poll,
        )


async def create_status(
    pool: asyncpg.Pool, urls: LocalUrls, *, author_id: int, text: str, **options: Any
) -> asyncpg.Record:
    """The member `author_id` posts `text` (`options` as `Typed`'s fields); the status."""
    posted = await post_status(pool, urls, Actor.member(author_id), Typed(text, **options))
    return posted.status


async def delete_status(pool: asyncpg.Pool, actor: Actor, status_id: int) -> asyncpg.Record:
    """`actor` deletes one of their statuses (or boosts); it is returned as it was, for
    redrafting, and (for a local author) the Delete is sent out."""
    async with pool.acquire() as conn, conn.transaction():
        status = await status_store.get_status(conn, status_id)
        if status is None:
            raise not_found()
        if status["account_id"] != actor.account_id:
            raise not_the_authors(actor)
        deleted = await discard_status(conn, status_id)
        if deleted is None:
            raise not_found()
        if actor.is_local:  # a remote author's server told everyone already
            await outbox.status_deleted(conn, deleted)
        return deleted


def not_the_authors(actor: Actor) -> KithError:
    """Someone else's status: "not found" to a member, as in Mastodon (its existence is not
    confirmed); to a peer, which should not have asked, said plainly."""
    return not_found() if actor.is_local else not_found(NOT_THE_AUTHORS)


async def discard_status(conn: Conn, status_id: int) -> asyncpg.Record | None:
    """Soft-delete a status and its reblogs and undo what they added to counters, home feeds and
    notifications; None when it was already deleted. Callers check who may do this."""
    status = await status_store.mark_deleted(conn, status_id)
    if status is None:
        return None
    reblogs = await status_store.mark_reblogs_deleted(conn, status_id)
    if status["visibility"] != "direct":
        await status_store.adjust_statuses_count(conn, [status["account_id"]], -1)
    await status_store.adjust_statuses_count(conn, [r["account_id"] for r in reblogs], -1)
    if status["in_reply_to_id"] is not None and status["visibility"] in DISTRIBUTABLE:
        await status_store.adjust_counts(conn, status["in_reply_to_id"], replies=-1)
    if status["reblog_of_id"] is not None:
        original = await status_store.adjust_counts(conn, status["reblog_of_id"], reblogs=-1)
        if original is not None:
            await notification_store.withdraw(
                conn,
                account_id=original["account_id"],
                from_account_id=status["account_id"],
                type="reblog",
                status_id=original["id"],
            )
    await status_store.forget_statuses(conn, [status_id, *(r["id"] for r in reblogs)])
    return status


def valid_language(language: str | None) -> str | None:
    """An ISO 639 language code, or None for anything else (Mastodon ignores bad codes)."""
    return language if language and _LANGUAGE.match(language) else None


def check_text(text: str, spoiler_text: str, visibility: str, *, media: bool = False) -> None:
    """Refuse an unknown visibility, blank text (unless the status has media), or text over
    the character limit."""
    if visibility not in VISIBILITIES:
        raise invalid(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if not text and not media:
        raise invalid("Text can't be blank")
    length = content.countable_length(text) + len(spoiler_text)
    if length > content.MAX_CHARACTERS:
        raise invalid(f"Text character limit of {content.MAX_CHARACTERS} exceeded")


async def _insert(
    conn: Conn, urls: LocalUrls, author: asyncpg.Record, new: NewStatus
) -> asyncpg.Record | None:
    """The status row; None when a remote post's uri is stored already. A local status's ids
    are made here, a remote one's id is a snowflake of its publication time."""
    parent = new.parent
    replying = {
        "in_reply_to_id": parent["id"] if parent else None,
        "in_reply_to_account_id": parent["account_id"] if parent else None,
        "thread_root_id": (parent["thread_root_id"] or parent["id"]) if parent else None,
    }
    common = {
        "account_id": author["id"],
        "visibility": new.visibility,
        "content": new.content,
        "spoiler_text": new.spoiler_text,
        "sensitive": new.sensitive,
        "language": new.language,
        **replying,
    }
    if author["domain"] is not None:
        return await remote_store.insert_remote_status(
            conn,
            {
                **common,
                "uri": new.uri,
                "url": new.url or new.uri,
                "in_reply_to_uri": new.in_reply_to_uri,
                "created_at": new.published,
            },
        )
    status_id = await status_store.next_id(conn)
    return await status_store.insert_local_status(
        conn,
        status_id=status_id,
        uri=urls.status(author["username"], status_id),
        url=urls.status_page(author["username"], status_id),
        text=new.text,
        local_only=new.local_only,
        application_id=new.application_id,
        **common,
    )


async def _attach(conn: Conn, status: asyncpg.Record, new: NewStatus) -> None:
    """A new status's mentions, tags, attachments and poll."""
    await status_store.insert_mentions(conn, status["id"], list(new.mentioned_ids))
    if new.silent_ids:
        await remote_store.insert_silent_mentions(conn, status["id"], list(new.silent_ids))
    tags = await tag_store.upsert_tags(conn, list(new.tags))
    await tag_store.attach_tags(conn, status["id"], [tag["id"] for tag in tags])
    if new.media_ids:
        await media.attach(conn, status["id"], status["account_id"], new.media_ids)
    if new.attachments:
        await remote_store.insert_media(
            conn, status["account_id"], status["id"], list(new.attachments)
        )
    if new.poll is not None:
        await attach_poll(conn, status["id"], new.poll)


async def _reply_target(conn: Conn, status_id: int | None, author_id: int) -> asyncpg.Record | None:
    """The status being replied to (a boost's original, when given a boost), or None."""
    if status_id is None:
        return None
    parent = await status_store.get_readable_status(conn, status_id, author_id)
    if parent is not None and parent["reblog_of_id"] is not None:
        parent = await status_store.get_readable_status(conn, parent["reblog_of_id"], author_id)
    if parent is None:
        raise not_found(REPLY_NOT_FOUND)
    return parent
