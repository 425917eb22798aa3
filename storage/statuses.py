"""Statuses: reading them with what a rendered status needs (mentions, tags, interactions),
writing them, their favourites and reblogs, and walking their threads."""

from __future__ import annotations

import asyncpg

from storage.db import Executor, fetch_one
from storage.pagination import Page
from storage.visibility import actionable_by_remote, readable_by

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
    """A status if `viewer_id` (None: anonymous) may read it, and may read what it boosts when
    it is a boost; else None."""
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE s.id = $1 AND {readable_by("$2")}
          AND (s.reblog_of_id IS NULL OR EXISTS (
                SELECT 1 FROM statuses o WHERE o.id = s.reblog_of_id AND {readable_by("$2", "o")}))
        """,
        status_id,
        viewer_id,
    )


async def get_readable_statuses(
    db: Executor, status_ids: list[int], viewer_id: int | None
) -> dict[int, asyncpg.Record]:
    """Those of `status_ids` that `viewer_id` (None: anonymous) may read, by id."""
    rows = await db.fetch(
        f"SELECT {STATUS_COLUMNS} FROM statuses s"
        f" WHERE s.id = ANY($1::bigint[]) AND {readable_by('$2')}",
        list(set(status_ids)),
        viewer_id,
    )
    return {row["id"]: row for row in rows}


async def get_actionable_status(
    db: Executor, status_id: int, remote_account_id: int
) -> asyncpg.Record | None:
    """A status the remote account may favourite, boost, reply to or quote (see
    `storage.visibility.actionable_by_remote`), else None."""
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE s.id = $1 AND {actionable_by_remote("$2")}
        """,
        status_id,
        remote_account_id,
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


async def attachments_of(db: Executor, status_ids: list[int]) -> list[asyncpg.Record]:
    """The statuses' media attachments, in their order within each status."""
    return await db.fetch(
        """
        SELECT id, status_id, type, file_path, preview_path, content_type, remote_url,
               remote_preview_url, description, blurhash, meta, focus_x, focus_y, processing
        FROM media_attachments
        WHERE status_id = ANY($1::bigint[])
        ORDER BY status_id, position, id
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


# --- Writing statuses --------------------------------------------------------------------------


async def next_id(db: Executor) -> int:
    """A fresh status snowflake (unguessable low bits, migration 0014), so a status's URI can
    name its id in the same INSERT."""
    return await db.fetchval("SELECT kith_status_id()")


async def insert_local_status(
    db: Executor,
    *,
    status_id: int,
    uri: str,
    url: str,
    account_id: int,
    visibility: str,
    content: str = "",
    text: str = "",
    spoiler_text: str = "",
    sensitive: bool = False,
    local_only: bool = False,
    language: str | None = None,
    application_id: int | None = None,
    in_reply_to_id: int | None = None,
    in_reply_to_account_id: int | None = None,
    thread_root_id: int | None = None,
    reblog_of_id: int | None = None,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        f"""
        INSERT INTO statuses AS s (
            id, uri, url, account_id, local, visibility, content, text, spoiler_text, sensitive,
            local_only, language, application_id, in_reply_to_id, in_reply_to_account_id,
            thread_root_id, reblog_of_id)
        VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        RETURNING {STATUS_COLUMNS}
        """,
        status_id,
        uri,
        url,
        account_id,
        visibility,
        content,
        text,
        spoiler_text,
        sensitive,
        local_only,
        language,
        application_id,
        in_reply_to_id,
        in_reply_to_account_id,
        thread_root_id,
        reblog_of_id,
    )


async def lock_status(db: Executor, status_id: int) -> asyncpg.Record | None:
    """A status that is not deleted, locked until the transaction ends (serialises reblogs)."""
    return await db.fetchrow(
        f"SELECT {STATUS_COLUMNS} FROM statuses s"
        " WHERE s.id = $1 AND s.deleted_at IS NULL FOR UPDATE",
        status_id,
    )


async def mentionable_accounts(
    db: Executor, handles: list[tuple[str, str]]
) -> list[asyncpg.Record]:
    """Accounts matching `(username, domain)` handles, case-insensitively; domain "" is local.

    Suspended accounts are left out: a mention of one stays plain text.
    """
    if not handles:
        return []
    return await db.fetch(
        """
        SELECT a.id, a.username, a.domain, a.url, a.uri
        FROM unnest($1::text[], $2::text[]) AS h (username, domain)
        JOIN accounts a ON lower(a.username) = lower(h.username)
                       AND coalesce(lower(a.domain), '') = lower(h.domain)
        WHERE a.suspended_at IS NULL
        """,
        [username for username, _ in handles],
        [domain for _, domain in handles],
    )


async def insert_mentions(db: Executor, status_id: int, account_ids: list[int]) -> None:
    await db.execute(
        """
        INSERT INTO mentions (status_id, account_id) SELECT $1, unnest($2::bigint[])
        ON CONFLICT DO NOTHING
        """,
        status_id,
        account_ids,
    )


async def mentioned_readers(db: Executor, status_id: int) -> list[int]:
    """Mentioned accounts that may read the status (so not those blocking, or blocked by, its
    author): the ones to notify."""
    rows = await db.fetch(
        f"""
        SELECT m.account_id FROM mentions m JOIN statuses s ON s.id = m.status_id
        WHERE m.status_id = $1 AND {readable_by("m.account_id")}
        """,
        status_id,
    )
    return [row["account_id"] for row in rows]


async def adjust_counts(
    db: Executor, status_id: int, *, replies: int = 0, reblogs: int = 0, favourites: int = 0
) -> asyncpg.Record | None:
    """Add to a status's counters (never below zero); return the updated status."""
    return await db.fetchrow(
        f"""
        UPDATE statuses s SET replies_count = greatest(s.replies_count + $2, 0),
                              reblogs_count = greatest(s.reblogs_count + $3, 0),
                              favourites_count = greatest(s.favourites_count + $4, 0)
        WHERE s.id = $1
        RETURNING {STATUS_COLUMNS}
        """,
        status_id,
        replies,
        reblogs,
        favourites,
    )


async def adjust_statuses_count(db: Executor, account_ids: list[int], delta: int) -> None:
    """Add `delta` to each listed author's statuses_count (once per occurrence in the list).

    Posting (a positive delta) also moves the author's `last_status_at`.
    """
    await db.execute(
        """
        UPDATE accounts a
        SET statuses_count = greatest(a.statuses_count + $2 * c.n, 0),
            last_status_at = CASE WHEN $2 > 0 THEN now() ELSE a.last_status_at END
        FROM (SELECT id, count(*) AS n FROM unnest($1::bigint[]) AS id GROUP BY id) AS c
        WHERE a.id = c.id
        """,
        account_ids,
        delta,
    )


async def idempotent_status(
    db: Executor, account_id: int, key: str, window_hours: int
) -> asyncpg.Record | None:
    """The live status an earlier request with this Idempotency-Key created, if recent.

    Takes a transaction-scoped lock on (account, key) first, so that two concurrent requests
    with the same key cannot both create a status. Call it inside a transaction.
    """
    await db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::bigint || ':' || $2, 0))",
        account_id,
        key,
    )
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM idempotency_keys k JOIN statuses s ON s.id = k.status_id
        WHERE k.account_id = $1 AND k.key = $2 AND s.deleted_at IS NULL
          AND k.created_at > now() - make_interval(hours => $3)
        """,
        account_id,
        key,
        window_hours,
    )


async def remember_idempotency_key(db: Executor, account_id: int, key: str, status_id: int) -> None:
    await db.execute(
        """
        INSERT INTO idempotency_keys (account_id, key, status_id) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, key)
            DO UPDATE SET status_id = excluded.status_id, created_at = now()
        """,
        account_id,
        key,
        status_id,
    )


async def mark_deleted(db: Executor, status_id: int) -> asyncpg.Record | None:
    """Soft-delete a status; None when it was already gone."""
    return await db.fetchrow(
        f"""
        UPDATE statuses s SET deleted_at = now()
        WHERE s.id = $1 AND s.deleted_at IS NULL
        RETURNING {STATUS_COLUMNS}
        """,
        status_id,
    )


async def mark_reblogs_deleted(db: Executor, status_id: int) -> list[asyncpg.Record]:
    """Soft-delete every live reblog of a status; return them."""
    return await db.fetch(
        f"""
        UPDATE statuses s SET deleted_at = now()
        WHERE s.reblog_of_id = $1 AND s.deleted_at IS NULL
        RETURNING {STATUS_COLUMNS}
        """,
        status_id,
    )


async def forget_statuses(db: Executor, status_ids: list[int]) -> None:
    """Take deleted statuses out of home feeds and drop the notifications about them."""
    await db.execute("DELETE FROM home_feed WHERE status_id = ANY($1::bigint[])", status_ids)
    await db.execute("DELETE FROM notifications WHERE status_id = ANY($1::bigint[])", status_ids)


# --- Favourites and reblogs --------------------------------------------------------------------


async def reblog_by(
    db: Executor, account_id: int, status_id: int | None, *, uri: str | None = None
) -> asyncpg.Record | None:
    """The account's live reblog named by its Announce's id `uri`, or else of `status_id`."""
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE s.account_id = $1 AND s.reblog_of_id IS NOT NULL AND s.deleted_at IS NULL
          AND (s.uri = $3 OR s.reblog_of_id = $2)
        ORDER BY s.uri = $3 DESC NULLS LAST
        LIMIT 1
        """,
        account_id,
        status_id,
        uri,
    )


async def insert_favourite(
    db: Executor, account_id: int, status_id: int, *, uri: str | None = None
) -> bool:
    """Favourite a status, remembering the Like's id `uri` (remote favourites); False when the
    account already had."""
    created = await db.fetchval(
        """
        INSERT INTO favourites (account_id, status_id, uri) VALUES ($1, $2, $3)
        ON CONFLICT (account_id, status_id) DO NOTHING
        RETURNING id
        """,
        account_id,
        status_id,
        uri,
    )
    return created is not None


async def delete_favourite(
    db: Executor, account_id: int, *, status_id: int | None, uri: str | None = None
) -> asyncpg.Record | None:
    """Remove the account's favourite named by its Like's id `uri`, or else of `status_id`;
    return it, or None when there was none."""
    return await db.fetchrow(
        """
        DELETE FROM favourites WHERE id = (
            SELECT id FROM favourites
            WHERE account_id = $1 AND (uri = $3 OR status_id = $2)
            ORDER BY uri = $3 DESC NULLS LAST
            LIMIT 1
        )
        RETURNING *
        """,
        account_id,
        status_id,
        uri,
    )


async def favourited_by(db: Executor, status_id: int, page: Page) -> list[asyncpg.Record]:
    """Who favourited a status (`account_id`), newest favourite first; `page_key` is the
    favourite's id."""
    condition, args = page.where("f.id", 2)
    rows = await db.fetch(
        f"""
        SELECT f.id AS page_key, a.id AS account_id
        FROM favourites f JOIN accounts a ON a.id = f.account_id
        WHERE f.status_id = $1 AND a.suspended_at IS NULL AND {condition}
        ORDER BY {page.order("f.id")}
        LIMIT {int(page.limit)}
        """,
        status_id,
        *args,
    )
    return page.newest_first(rows)


async def reblogged_by(
    db: Executor, status_id: int, viewer_id: int | None, page: Page
) -> list[asyncpg.Record]:
    """Who boosted a status (`account_id`) in a boost the viewer may see, newest first;
    `page_key` is the boost's id (a followers-only boost is listed only to those who could read
    it)."""
    condition, args = page.where("s.id", 3)
    rows = await db.fetch(
        f"""
        SELECT s.id AS page_key, a.id AS account_id
        FROM statuses s JOIN accounts a ON a.id = s.account_id
        WHERE s.reblog_of_id = $1 AND a.suspended_at IS NULL AND {readable_by("$2")}
          AND {condition}
        ORDER BY {page.order("s.id")}
        LIMIT {int(page.limit)}
        """,
        status_id,
        viewer_id,
        *args,
    )
    return page.newest_first(rows)


# --- Threads -----------------------------------------------------------------------------------


async def ancestors(
    db: Executor, status: asyncpg.Record, viewer_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """The statuses `status` replies to, up the chain, that the viewer may read; oldest first."""
    if status["in_reply_to_id"] is None:
        return []
    return await db.fetch(
        f"""
        WITH RECURSIVE chain (id, parent_id, depth) AS (
            SELECT id, in_reply_to_id, 1 FROM statuses WHERE id = $1
            UNION ALL
            SELECT p.id, p.in_reply_to_id, c.depth + 1
            FROM chain c JOIN statuses p ON p.id = c.parent_id
            WHERE c.depth < $3
        )
        SELECT {STATUS_COLUMNS} FROM chain c JOIN statuses s ON s.id = c.id
        WHERE {readable_by("$2")}
        ORDER BY c.depth DESC
        """,
        status["in_reply_to_id"],
        viewer_id,
        limit,
    )


async def descendants(
    db: Executor, status_id: int, viewer_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """Replies to a status, and replies to those, that the viewer may read, in thread order
    (depth first, each branch oldest first)."""
    return await db.fetch(
        f"""
        WITH RECURSIVE tree (id, path) AS (
            SELECT id, ARRAY[id] FROM statuses WHERE in_reply_to_id = $1
            UNION ALL
            SELECT r.id, t.path || r.id
            FROM tree t JOIN statuses r ON r.in_reply_to_id = t.id
            WHERE cardinality(t.path) < $3 AND r.id <> ALL (t.path)
        )
        SELECT {STATUS_COLUMNS} FROM tree t JOIN statuses s ON s.id = t.id
        WHERE {readable_by("$2")}
        ORDER BY t.path
        LIMIT $3
        """,
        status_id,
        viewer_id,
        limit,
    )
