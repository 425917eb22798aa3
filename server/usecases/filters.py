"""A member's filters (Mastodon v2): the filters, their keywords and their filtered statuses.

A filter changes with its keywords in one transaction. Another member's filter (or keyword, or
filtered status) is "not found", never "forbidden", so ids reveal nothing. Every failure is a
`KithError`: 404 for what the member does not own, 422 for an unusable value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from federation.errors import invalid, not_found
from federation.excerpt import excerpt
from server.filtering import ACTIONS, CONTEXTS
from storage import filters as store
from storage import statuses as status_store
from storage.db import Conn, Executor

MAX_TITLE = 256
MAX_KEYWORD = 512


@dataclass(frozen=True)
class KeywordChange:
    """One of `keywords_attributes`: a new keyword (no `id`), a changed one, or one to remove
    (`id` and `destroy`)."""

    keyword: str | None
    whole_word: bool = True
    id: int | None = None
    destroy: bool = False


@dataclass(frozen=True)
class FilterChanges:
    """A filter's fields as given; None is "not given", which an update keeps as stored.

    `expires_in` None with `sets_expiry` means "never expires" (a client removes an expiry by
    sending `expires_in` empty); a new filter never expires unless given one."""

    title: str | None = None
    context: list[str] | None = None
    filter_action: str | None = None
    expires_in: timedelta | None = None
    sets_expiry: bool = False
    keywords: list[KeywordChange] = field(default_factory=list)


# -- filters --------------------------------------------------------------------------------------


async def list_filters(pool: asyncpg.Pool, account_id: int) -> list[asyncpg.Record]:
    return await store.list_filters(pool, account_id)


async def get_filter(db: Executor, account_id: int, filter_id: int) -> asyncpg.Record:
    """The member's filter `filter_id`, or 404."""
    row = await store.get_filter(db, account_id, filter_id)
    if row is None:
        raise not_found()
    return row


async def create_filter(
    pool: asyncpg.Pool, account_id: int, changes: FilterChanges
) -> asyncpg.Record:
    """A new filter with its keywords; `title` and `context` are required, the action defaults
    to `warn`."""
    if changes.title is None:
        raise invalid("title can't be blank")
    title = _title(changes.title)
    context = _context(changes.context or [])
    action = _action(changes.filter_action if changes.filter_action is not None else "warn")
    async with pool.acquire() as conn, conn.transaction():
        row = await store.insert_filter(
            conn,
            account_id,
            title=title,
            context=context,
            filter_action=action,
            expires_at=_expires_at(changes.expires_in),
        )
        await _apply_keywords(conn, row["id"], changes.keywords)
    return row


async def update_filter(
    pool: asyncpg.Pool, account_id: int, filter_id: int, changes: FilterChanges
) -> asyncpg.Record:
    """Change what `changes` gives, and the keywords it names; return the filter as it is now."""
    async with pool.acquire() as conn, conn.transaction():
        row = await get_filter(conn, account_id, filter_id)
        await store.update_filter(
            conn,
            row["id"],
            title=_title(changes.title) if changes.title is not None else row["title"],
            context=_context(changes.context) if changes.context is not None else row["context"],
            filter_action=_action(
                changes.filter_action if changes.filter_action is not None else row["filter_action"]
            ),
            expires_at=(
                _expires_at(changes.expires_in) if changes.sets_expiry else row["expires_at"]
            ),
        )
        await _apply_keywords(conn, row["id"], changes.keywords)
        return await get_filter(conn, account_id, filter_id)


async def delete_filter(pool: asyncpg.Pool, account_id: int, filter_id: int) -> None:
    if not await store.delete_filter(pool, account_id, filter_id):
        raise not_found()


def _title(title: str) -> str:
    if not title:
        raise invalid("title can't be blank")
    if len(title) > MAX_TITLE:
        raise invalid(f"title is too long (max {MAX_TITLE})")
    return title


def _context(values: list[str]) -> list[str]:
    if not values:
        raise invalid("context can't be blank")
    unknown = [value for value in values if value not in CONTEXTS]
    if unknown:
        raise invalid(f"context contains unknown values {excerpt(unknown)}")
    return list(dict.fromkeys(values))


def _action(action: str) -> str:
    if action not in ACTIONS:
        raise invalid(f"filter_action must be one of {', '.join(ACTIONS)}")
    return action


def _expires_at(expires_in: timedelta | None) -> datetime | None:
    return datetime.now(UTC) + expires_in if expires_in else None


# -- keywords -------------------------------------------------------------------------------------


def _keyword(keyword: str | None) -> str:
    if not keyword:
        raise invalid("keyword can't be blank")
    if len(keyword) > MAX_KEYWORD:
        raise invalid(f"keyword is too long (max {MAX_KEYWORD})")
    return keyword


async def _apply_keywords(conn: Conn, filter_id: int, changes: list[KeywordChange]) -> None:
    """Create, update or delete the filter's keywords; 404 for a keyword it does not have."""
    for change in changes:
        if change.id is None:
            await store.insert_keyword(conn, filter_id, _keyword(change.keyword), change.whole_word)
        elif change.destroy:
            await store.delete_keyword(conn, filter_id, change.id)
        else:
            keyword = _keyword(change.keyword)
            updated = await store.update_keyword(
                conn, filter_id, change.id, keyword, change.whole_word
            )
            if updated is None:
                raise not_found()


async def keywords_of(pool: asyncpg.Pool, account_id: int, filter_id: int) -> list[asyncpg.Record]:
    row = await get_filter(pool, account_id, filter_id)
    return await store.keywords_of(pool, [row["id"]])


async def get_keyword(db: Executor, account_id: int, keyword_id: int) -> asyncpg.Record:
    """The keyword `keyword_id` of one of the member's filters, or 404."""
    row = await store.get_keyword(db, account_id, keyword_id)
    if row is None:
        raise not_found()
    return row


async def add_keyword(
    pool: asyncpg.Pool, account_id: int, filter_id: int, keyword: str | None, whole_word: bool
) -> asyncpg.Record:
    keyword = _keyword(keyword)
    row = await get_filter(pool, account_id, filter_id)
    return await store.insert_keyword(pool, row["id"], keyword, whole_word)


async def update_keyword(
    pool: asyncpg.Pool,
    account_id: int,
    keyword_id: int,
    keyword: str | None,
    whole_word: bool | None,
) -> asyncpg.Record:
    """Change the keyword's text and/or `whole_word`; None keeps what is stored."""
    async with pool.acquire() as conn, conn.transaction():
        row = await get_keyword(conn, account_id, keyword_id)
        updated = await store.update_keyword(
            conn,
            row["filter_id"],
            row["id"],
            _keyword(keyword if keyword is not None else row["keyword"]),
            whole_word if whole_word is not None else row["whole_word"],
        )
    if updated is None:
        raise not_found()
    return updated


async def delete_keyword(pool: asyncpg.Pool, account_id: int, keyword_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await get_keyword(conn, account_id, keyword_id)
        await store.delete_keyword(conn, row["filter_id"], row["id"])


# -- statuses -------------------------------------------------------------------------------------


async def statuses_of(pool: asyncpg.Pool, account_id: int, filter_id: int) -> list[asyncpg.Record]:
    row = await get_filter(pool, account_id, filter_id)
    return await store.statuses_of(pool, [row["id"]])


async def get_filter_status(db: Executor, account_id: int, filter_status_id: int) -> asyncpg.Record:
    """The filtered status `filter_status_id` of one of the member's filters, or 404."""
    row = await store.get_filter_status(db, account_id, filter_status_id)
    if row is None:
        raise not_found()
    return row


async def add_status(
    pool: asyncpg.Pool, account_id: int, filter_id: int, status_id: int | None
) -> asyncpg.Record:
    """Filter one status the member can read (None names none: 404); twice is a 422."""
    row = await get_filter(pool, account_id, filter_id)
    status = (
        await status_store.get_readable_status(pool, status_id, account_id)
        if status_id is not None
        else None
    )
    if status is None:
        raise not_found()
    created = await store.insert_filter_status(pool, row["id"], status["id"])
    if created is None:
        raise invalid("status_id has already been taken")
    return created


async def delete_status(pool: asyncpg.Pool, account_id: int, filter_status_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await get_filter_status(conn, account_id, filter_status_id)
        await store.delete_filter_status(conn, row["id"])
