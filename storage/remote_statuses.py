"""Statuses, favourites and other rows that arrive from other servers through the inbox.

Remote rows are found by their ActivityPub ids (`uri`), which is how every later activity (Undo,
Delete, Update, Like) refers to them. Local statuses are written by `storage.statuses`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Executor
from storage.statuses import STATUS_COLUMNS


async def get_status_by_uri(db: Executor, uri: str) -> asyncpg.Record | None:
    """A status by ActivityPub id, deleted or not (a deleted one must not come back)."""
    return await db.fetchrow(f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.uri = $1", uri)


async def insert_remote_status(db: Executor, values: dict[str, Any]) -> asyncpg.Record | None:
    """Insert a remote status (columns named by `values`, from code); None when its uri exists.

    The id is a snowflake of its publication time (never in the future), as in Mastodon, so
    timelines keep the order in which posts were written.
    """
    published = values.pop("created_at", None)
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
    return await db.fetchrow(
        f"""
        INSERT INTO statuses AS s (id, local, created_at, {", ".join(columns)})
        VALUES (kith_status_id(least(coalesce($1::timestamptz, now()), now())), false,
                least(coalesce($1::timestamptz, now()), now()), {placeholders})
        ON CONFLICT (uri) DO NOTHING
        RETURNING {STATUS_COLUMNS}
        """,
        published,
        *values.values(),
    )


async def insert_media(
    db: Executor, account_id: int, status_id: int, attachments: list[dict[str, Any]]
) -> None:
    """Remote attachments, by URL (Kith does not copy remote media)."""
    await db.executemany(
        """
        INSERT INTO media_attachments (account_id, status_id, type, remote_url, description,
                                       blurhash, position)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        [
            (account_id, status_id, a["type"], a["url"], a["description"], a["blurhash"], i)
            for i, a in enumerate(attachments)
        ],
    )


async def count_media(db: Executor, status_id: int) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM media_attachments WHERE status_id = $1", status_id
    )


async def accounts_by_links(db: Executor, links: list[str]) -> list[asyncpg.Record]:
    """Known accounts whose actor id or profile URL is one of `links` (mention hrefs use
    either), not suspended."""
    if not links:
        return []
    return await db.fetch(
        """
        SELECT id, uri, url, domain FROM accounts
        WHERE (uri = ANY($1::text[]) OR url = ANY($1::text[])) AND suspended_at IS NULL
        """,
        links,
    )


async def has_local_followers(db: Executor, account_id: int) -> bool:
    return await db.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM follows f JOIN accounts a ON a.id = f.account_id
                       WHERE f.target_account_id = $1 AND a.domain IS NULL)
        """,
        account_id,
    )


async def live_status_ids_of(db: Executor, account_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM statuses WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id",
        account_id,
    )
    return [row["id"] for row in rows]


async def insert_silent_mentions(db: Executor, status_id: int, account_ids: list[int]) -> None:
    """Accounts a status is addressed to without being named in it (a direct message's `to`):
    they may read it, but are not listed as mentioned."""
    await db.execute(
        """
        INSERT INTO mentions (status_id, account_id, silent) SELECT $1, unnest($2::bigint[]), true
        ON CONFLICT DO NOTHING
        """,
        status_id,
        account_ids,
    )
