"""Statuses and what a rendered status needs of its neighbours (mentions, tags, interactions)."""

from __future__ import annotations

import asyncpg

from storage.visibility import readable_by

Executor = asyncpg.Pool | asyncpg.Connection

STATUS_COLUMNS = """
    s.id, s.uri, s.url, s.account_id, s.local, s.in_reply_to_id, s.in_reply_to_account_id,
    s.thread_root_id, s.reblog_of_id, s.content, s.text, s.spoiler_text, s.sensitive,
    s.visibility, s.local_only, s.language, s.application_id, s.replies_count, s.reblogs_count,
    s.favourites_count, s.created_at, s.edited_at, s.deleted_at
"""


async def get_status(db: Executor, status_id: int) -> asyncpg.Record | None:
    """A status that is not deleted, whoever may read it."""
    return await db.fetchrow(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = $1 AND s.deleted_at IS NULL",
        status_id,
    )


async def get_readable_status(
    db: Executor, status_id: int, viewer_id: int | None
) -> asyncpg.Record | None:
    """A status if `viewer_id` (None: anonymous) may read it, else None."""
    return await db.fetchrow(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = $1 AND {readable_by('$2')}",
        status_id,
        viewer_id,
    )


async def get_statuses(db: Executor, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = ANY($1::bigint[])",
        list(set(status_ids)),
    )
    return {row["id"]: row for row in rows}


async def mentions_of(db: Executor, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT m.status_id, a.id AS account_id, a.username, a.domain, a.url, a.uri
        FROM mentions m JOIN accounts a ON a.id = m.account_id
        WHERE m.status_id = ANY($1::bigint[]) AND NOT m.silent
        ORDER BY m.status_id, a.id
        """,
        status_ids,
    )


async def tags_of(db: Executor, status_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT st.status_id, t.name
        FROM statuses_tags st JOIN tags t ON t.id = st.tag_id
        WHERE st.status_id = ANY($1::bigint[])
        ORDER BY st.status_id, t.name
        """,
        status_ids,
    )


async def applications_of(db: Executor, application_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT id, name, website FROM oauth_applications WHERE id = ANY($1::bigint[])",
        list(set(application_ids)),
    )
    return {row["id"]: row for row in rows}


async def viewer_interactions(
    db: Executor, viewer_id: int, status_ids: list[int]
) -> dict[str, set[int]]:
    """Which of `status_ids` the viewer favourited, reblogged and bookmarked."""
    rows = await db.fetch(
        """
        SELECT 'favourited' AS kind, status_id FROM favourites
            WHERE account_id = $1 AND status_id = ANY($2::bigint[])
        UNION ALL
        SELECT 'reblogged', reblog_of_id FROM statuses
            WHERE account_id = $1 AND reblog_of_id = ANY($2::bigint[]) AND deleted_at IS NULL
        UNION ALL
        SELECT 'bookmarked', status_id FROM bookmarks
            WHERE account_id = $1 AND status_id = ANY($2::bigint[])
        """,
        viewer_id,
        status_ids,
    )
    found: dict[str, set[int]] = {"favourited": set(), "reblogged": set(), "bookmarked": set()}
    for row in rows:
        found[row["kind"]].add(row["status_id"])
    return found
