"""Statuses, favourites and other rows that arrive from other servers through the inbox.

Remote rows are found by their ActivityPub ids (`uri`), which is how every later activity (Undo,
Delete, Update, Like) refers to them. Local statuses are written by `storage.statuses`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from storage import jobs
from storage.db import Executor
from storage.statuses import STATUS_COLUMNS

# The job queue that copies remote media here (`server/usecases/remote_media.py` runs it).
CACHE_QUEUE = "remote_media"


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
) -> list[int]:
    """Remote attachments, linked by URL; return their ids in order. Each one marked `cache`
    also gets a job (queue `CACHE_QUEUE`) that copies its file here."""
    ids = []
    for position, a in enumerate(attachments):
        focus = a.get("focus") or (None, None)
        ids.append(
            await db.fetchval(
                """
                INSERT INTO media_attachments (account_id, status_id, type, remote_url,
                    remote_preview_url, content_type, description, blurhash, meta, focus_x,
                    focus_y, position)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                RETURNING id
                """,
                account_id,
                status_id,
                a["type"],
                a["url"],
                a.get("preview_url"),
                a.get("content_type"),
                a["description"],
                a["blurhash"],
                a.get("meta") or {},
                focus[0],
                focus[1],
                position,
            )
        )
    cached = [{"media_id": i} for i, a in zip(ids, attachments, strict=True) if a.get("cache")]
    if cached:
        await jobs.enqueue_many(db, CACHE_QUEUE, cached)
    return ids


async def media_to_cache(db: Executor, media_id: int) -> asyncpg.Record | None:
    """A remote attachment still only linked, of a status not deleted; None otherwise."""
    return await db.fetchrow(
        """
        SELECT m.id, m.type, m.remote_url, m.content_type
        FROM media_attachments m JOIN statuses s ON s.id = m.status_id
        WHERE m.id = $1 AND m.file_path IS NULL AND m.remote_url IS NOT NULL
          AND s.deleted_at IS NULL
        """,
        media_id,
    )


async def set_cached(
    db: Executor,
    media_id: int,
    *,
    type: str,
    file_path: str,
    preview_path: str | None,
    content_type: str,
    meta: dict[str, Any],
    blurhash: str | None,
) -> bool:
    """Point a linked remote attachment at its local copy (the origin's blurhash kept when the
    copy has none); False when it is gone or was cached meanwhile (the caller then deletes the
    files it made)."""
    return (
        await db.fetchval(
            """
            UPDATE media_attachments
            SET type = $2, file_path = $3, preview_path = $4, content_type = $5, meta = $6,
                blurhash = coalesce($7, blurhash)
            WHERE id = $1 AND file_path IS NULL AND status_id IS NOT NULL
            RETURNING id
            """,
            media_id,
            type,
            file_path,
            preview_path,
            content_type,
            meta,
            blurhash,
        )
        is not None
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
