"""Posting and deleting statuses: the one place that does either, for the client API and the inbox.

Each operation is one transaction that keeps every derived row in step with the status: mentions,
tags, counters, home feeds and notifications. Counters follow Mastodon: direct statuses do not
count towards an author's statuses, and only public and unlisted replies count towards a status's
replies (so a count never reveals a private reply).
"""

from __future__ import annotations

import re

import asyncpg

from federation import content, outbox
from federation.errors import invalid, not_found
from federation.urls import LocalUrls
from server.usecases.composition import compose
from storage import accounts as account_store
from storage import home_feed
from storage import notifications as notification_store
from storage import statuses as status_store
from storage import tags as tag_store

VISIBILITIES = ("public", "unlisted", "private", "direct")
# Visibilities whose statuses are listed publicly and count as replies.
DISTRIBUTABLE = ("public", "unlisted")
IDEMPOTENCY_HOURS = 24
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
# ISO 639 codes, optionally with a region or script (`en`, `pt-BR`, `sr-Latn`).
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,4})?$")


async def create_status(
    pool: asyncpg.Pool,
    urls: LocalUrls,
    *,
    author_id: int,
    text: str,
    visibility: str = "public",
    spoiler_text: str = "",
    sensitive: bool = False,
    in_reply_to_id: int | None = None,
    language: str | None = None,
    local_only: bool = False,
    application_id: int | None = None,
    idempotency_key: str | None = None,
) -> asyncpg.Record:
    """Post a status as the local account `author_id`; return it.

    With `idempotency_key`, a repeat of a request made within a day returns the status the first
    one created. A reply must be to a status the author may read (else 404), and a reply to a
    local-only status is local-only too. A content warning always marks the status sensitive.
    """
    text = text.strip()
    spoiler_text = spoiler_text.strip()
    check_text(text, spoiler_text, visibility)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key:
            earlier = await status_store.idempotent_status(
                conn, author_id, idempotency_key, IDEMPOTENCY_HOURS
            )
            if earlier is not None:
                return earlier
        author = await account_store.get_account(conn, author_id)
        if author is None or author["domain"] is not None:
            raise not_found("Account not found")
        parent = await _reply_target(conn, in_reply_to_id, author_id)
        composed = await compose(conn, urls, text)
        status_id = await status_store.next_id(conn)
        status = await status_store.insert_local_status(
            conn,
            status_id=status_id,
            uri=urls.status(author["username"], status_id),
            url=urls.status_page(author["username"], status_id),
            account_id=author_id,
            visibility=visibility,
            content=composed.html,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=sensitive or bool(spoiler_text),
            local_only=local_only or (parent is not None and parent["local_only"]),
            language=valid_language(language),
            application_id=application_id,
            in_reply_to_id=parent["id"] if parent else None,
            in_reply_to_account_id=parent["account_id"] if parent else None,
            thread_root_id=(parent["thread_root_id"] or parent["id"]) if parent else None,
        )
        mentioned_ids = composed.mentioned_ids
        await status_store.insert_mentions(conn, status_id, mentioned_ids)
        tags = await tag_store.upsert_tags(conn, composed.tags)
        await tag_store.attach_tags(conn, status_id, [tag["id"] for tag in tags])
        if parent is not None and visibility in DISTRIBUTABLE:
            await status_store.adjust_counts(conn, parent["id"], replies=1)
        if visibility != "direct":
            await status_store.adjust_statuses_count(conn, [author_id], 1)
        if idempotency_key:
            await status_store.remember_idempotency_key(conn, author_id, idempotency_key, status_id)
        await home_feed.fan_out(conn, status, mentioned_ids)
        for reader_id in await status_store.mentioned_readers(conn, status_id):
            await notification_store.notify(
                conn,
                account_id=reader_id,
                from_account_id=author_id,
                type="mention",
                status_id=status_id,
            )
        await outbox.status_created(conn, urls, status)
        return status


async def delete_status(pool: asyncpg.Pool, *, account_id: int, status_id: int) -> asyncpg.Record:
    """Delete one of `account_id`'s statuses (or reblogs); return it as it was, for redrafting.

    Someone else's status is "not found", as in Mastodon: its existence is not confirmed.
    """
    async with pool.acquire() as conn, conn.transaction():
        status = await status_store.get_status(conn, status_id)
        if status is None or status["account_id"] != account_id:
            raise not_found()
        deleted = await discard_status(conn, status_id)
        if deleted is None:
            raise not_found()
        await outbox.status_deleted(conn, deleted)
        return deleted


async def discard_status(conn: asyncpg.Connection, status_id: int) -> asyncpg.Record | None:
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


def check_text(text: str, spoiler_text: str, visibility: str) -> None:
    """Refuse an unknown visibility, blank text, or text over the character limit."""
    if visibility not in VISIBILITIES:
        raise invalid(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if not text:
        raise invalid("Text can't be blank")
    length = content.countable_length(text) + len(spoiler_text)
    if length > content.MAX_CHARACTERS:
        raise invalid(f"Text character limit of {content.MAX_CHARACTERS} exceeded")


async def _reply_target(
    conn: asyncpg.Connection, status_id: int | None, author_id: int
) -> asyncpg.Record | None:
    """The status being replied to (a boost's original, when given a boost), or None."""
    if status_id is None:
        return None
    parent = await status_store.get_readable_status(conn, status_id, author_id)
    if parent is not None and parent["reblog_of_id"] is not None:
        parent = await status_store.get_readable_status(conn, parent["reblog_of_id"], author_id)
    if parent is None:
        raise not_found(REPLY_NOT_FOUND)
    return parent
