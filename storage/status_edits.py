"""Edits of statuses: the earlier versions kept in `status_edits`, and rewriting a status."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from storage.db import Executor, fetch_one
from storage.statuses import STATUS_COLUMNS
from storage.visibility import readable_by


async def keep_version(
    db: Executor,
    *,
    status_id: int,
    content: str,
    spoiler_text: str,
    sensitive: bool,
    created_at: datetime,
) -> None:
    """Record a version of a status as it was from `created_at` until now."""
    await db.execute(
        """
        INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, created_at)
        VALUES ($1, $2, $3, $4, $5)
        """,
        status_id,
        content,
        spoiler_text,
        sensitive,
        created_at,
    )


async def list_versions(db: Executor, status_id: int) -> list[asyncpg.Record]:
    """Earlier versions of a status, oldest first."""
    return await db.fetch(
        "SELECT content, spoiler_text, sensitive, created_at FROM status_edits"
        " WHERE status_id = $1 ORDER BY id",
        status_id,
    )


async def rewrite_status(
    db: Executor,
    *,
    status_id: int,
    content: str,
    text: str,
    spoiler_text: str,
    sensitive: bool,
    language: str | None,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        f"""
        UPDATE statuses AS s SET content = $2, text = $3, spoiler_text = $4, sensitive = $5,
                                 language = $6, edited_at = now()
        WHERE s.id = $1
        RETURNING {STATUS_COLUMNS}
        """,
        status_id,
        content,
        text,
        spoiler_text,
        sensitive,
        language,
    )


async def detach_tags(db: Executor, status_id: int) -> None:
    await db.execute("DELETE FROM statuses_tags WHERE status_id = $1", status_id)


async def existing_mentions(db: Executor, status_id: int) -> set[int]:
    rows = await db.fetch("SELECT account_id FROM mentions WHERE status_id = $1", status_id)
    return {row["account_id"] for row in rows}


async def replace_mentions(
    db: Executor, status_id: int, named_ids: list[int], silent_ids: list[int]
) -> list[int]:
    """Make the status's mentions exactly `named_ids` plus `silent_ids` (addressed without being
    named; an account in both is named); return the accounts no longer mentioned."""
    rows = await db.fetch(
        """
        WITH removed AS (
            DELETE FROM mentions
            WHERE status_id = $1
              AND account_id <> ALL($2::bigint[]) AND account_id <> ALL($3::bigint[])
            RETURNING account_id
        ), wanted AS (
            SELECT DISTINCT ON (id) id, silent FROM (
                SELECT unnest($2::bigint[]) AS id, false AS silent
                UNION ALL
                SELECT unnest($3::bigint[]), true
            ) AS given
            ORDER BY id, silent
        ), kept AS (
            INSERT INTO mentions (status_id, account_id, silent)
            SELECT $1, id, silent FROM wanted
            ON CONFLICT (status_id, account_id) DO UPDATE SET silent = excluded.silent
        )
        SELECT account_id FROM removed
        """,
        status_id,
        named_ids,
        silent_ids,
    )
    return [row["account_id"] for row in rows]


async def drop_unreadable_from_home(db: Executor, status_id: int, account_ids: list[int]) -> None:
    """Take the status out of those of the accounts' home feeds whose owner may no longer read
    it (a direct status that stopped mentioning them); a follower keeps a post they still see."""
    await db.execute(
        f"""
        DELETE FROM home_feed h USING statuses s
        WHERE s.id = $1 AND h.status_id = s.id AND h.account_id = ANY($2::bigint[])
          AND NOT {readable_by("h.account_id")}
        """,
        status_id,
        account_ids,
    )


async def local_reblogger_ids(db: Executor, status_id: int) -> list[int]:
    """Local accounts that boosted a status: Mastodon tells them when it is edited."""
    rows = await db.fetch(
        """
        SELECT DISTINCT s.account_id FROM statuses s JOIN accounts a ON a.id = s.account_id
        WHERE s.reblog_of_id = $1 AND s.deleted_at IS NULL AND a.domain IS NULL
        """,
        status_id,
    )
    return [row["account_id"] for row in rows]
