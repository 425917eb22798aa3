"""A member's filters (Mastodon v2): the filters, their keywords and their statuses.

Every lookup by id also takes the owner's account id, so that another member's filter, keyword
or filtered status is simply not found.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.db import Executor, fetch_one

FILTER_COLUMNS = "f.id, f.account_id, f.title, f.context, f.filter_action, f.expires_at"


async def list_filters(db: Executor, account_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {FILTER_COLUMNS} FROM filters f WHERE f.account_id = $1 ORDER BY f.id",
        account_id,
    )


async def get_filter(db: Executor, account_id: int, filter_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {FILTER_COLUMNS} FROM filters f WHERE f.account_id = $1 AND f.id = $2",
        account_id,
        filter_id,
    )


async def active_filters(db: Executor, account_id: int, context: str) -> list[asyncpg.Record]:
    """The member's unexpired filters that apply in `context`."""
    return await db.fetch(
        f"""
        SELECT {FILTER_COLUMNS} FROM filters f
        WHERE f.account_id = $1 AND $2 = ANY(f.context)
          AND (f.expires_at IS NULL OR f.expires_at > now())
        ORDER BY f.id
        """,
        account_id,
        context,
    )


async def insert_filter(
    db: Executor,
    account_id: int,
    *,
    title: str,
    context: list[str],
    filter_action: str,
    expires_at: datetime | None,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        INSERT INTO filters AS f (account_id, title, context, filter_action, expires_at)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING f.id, f.account_id, f.title, f.context, f.filter_action, f.expires_at
        """,
        account_id,
        title,
        context,
        filter_action,
        expires_at,
    )


async def update_filter(
    db: Executor,
    filter_id: int,
    *,
    title: str,
    context: list[str],
    filter_action: str,
    expires_at: datetime | None,
) -> None:
    await db.execute(
        """
        UPDATE filters SET title = $2, context = $3, filter_action = $4, expires_at = $5
        WHERE id = $1
        """,
        filter_id,
        title,
        context,
        filter_action,
        expires_at,
    )


async def delete_filter(db: Executor, account_id: int, filter_id: int) -> bool:
    result = await db.execute(
        "DELETE FROM filters WHERE account_id = $1 AND id = $2", account_id, filter_id
    )
    return result != "DELETE 0"


# -- keywords -------------------------------------------------------------------------------------

KEYWORD_COLUMNS = "k.id, k.filter_id, k.keyword, k.whole_word"


async def keywords_of(db: Executor, filter_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {KEYWORD_COLUMNS} FROM filter_keywords k "
        "WHERE k.filter_id = ANY($1::bigint[]) ORDER BY k.id",
        filter_ids,
    )


async def get_keyword(db: Executor, account_id: int, keyword_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {KEYWORD_COLUMNS} FROM filter_keywords k JOIN filters f ON f.id = k.filter_id
        WHERE f.account_id = $1 AND k.id = $2
        """,
        account_id,
        keyword_id,
    )


async def insert_keyword(
    db: Executor, filter_id: int, keyword: str, whole_word: bool
) -> asyncpg.Record:
    return await fetch_one(
        db,
        f"""
        INSERT INTO filter_keywords AS k (filter_id, keyword, whole_word) VALUES ($1, $2, $3)
        RETURNING {KEYWORD_COLUMNS}
        """,
        filter_id,
        keyword,
        whole_word,
    )


async def update_keyword(
    db: Executor, filter_id: int, keyword_id: int, keyword: str, whole_word: bool
) -> asyncpg.Record | None:
    """Change a keyword of `filter_id`; None when the filter has no such keyword."""
    return await db.fetchrow(
        f"""
        UPDATE filter_keywords AS k SET keyword = $3, whole_word = $4
        WHERE k.filter_id = $1 AND k.id = $2
        RETURNING {KEYWORD_COLUMNS}
        """,
        filter_id,
        keyword_id,
        keyword,
        whole_word,
    )


async def delete_keyword(db: Executor, filter_id: int, keyword_id: int) -> None:
    await db.execute(
        "DELETE FROM filter_keywords WHERE filter_id = $1 AND id = $2", filter_id, keyword_id
    )


# -- statuses -------------------------------------------------------------------------------------

STATUS_COLUMNS = "fs.id, fs.filter_id, fs.status_id"


async def statuses_of(db: Executor, filter_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {STATUS_COLUMNS} FROM filter_statuses fs "
        "WHERE fs.filter_id = ANY($1::bigint[]) ORDER BY fs.id",
        filter_ids,
    )


async def get_filter_status(
    db: Executor, account_id: int, filter_status_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM filter_statuses fs JOIN filters f ON f.id = fs.filter_id
        WHERE f.account_id = $1 AND fs.id = $2
        """,
        account_id,
        filter_status_id,
    )


async def insert_filter_status(
    db: Executor, filter_id: int, status_id: int
) -> asyncpg.Record | None:
    """Add a status to a filter; None when the filter already has it."""
    return await db.fetchrow(
        f"""
        INSERT INTO filter_statuses AS fs (filter_id, status_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        RETURNING {STATUS_COLUMNS}
        """,
        filter_id,
        status_id,
    )


async def delete_filter_status(db: Executor, filter_status_id: int) -> None:
    await db.execute("DELETE FROM filter_statuses WHERE id = $1", filter_status_id)
