"""Reports: members' (and other servers') complaints about an account, and staff's work on them."""

from __future__ import annotations

import asyncpg

from storage.db import Executor, fetch_one
from storage.pagination import Page


async def insert_report(
    db: Executor,
    *,
    account_id: int,
    target_account_id: int,
    status_ids: list[int],
    rule_ids: list[int],
    comment: str,
    category: str,
    forwarded: bool,
    uri: str | None = None,
) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        INSERT INTO reports (account_id, target_account_id, status_ids, rule_ids, comment,
                             category, forwarded, uri)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING *
        """,
        account_id,
        target_account_id,
        status_ids,
        rule_ids,
        comment,
        category,
        forwarded,
        uri,
    )


async def get_report(db: Executor, report_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM reports WHERE id = $1", report_id)


async def get_reports(db: Executor, report_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM reports WHERE id = ANY($1::bigint[])", report_ids)
    return {row["id"]: row for row in rows}


async def lock_report(db: Executor, report_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM reports WHERE id = $1 FOR UPDATE", report_id)


async def list_reports(
    db: Executor,
    page: Page,
    *,
    resolved: bool,
    account_id: int | None = None,
    target_account_id: int | None = None,
) -> list[asyncpg.Record]:
    """Reports newest first: the unresolved ones, or (`resolved`) the ones acted on."""
    where, args = page.where("id", 5)
    rows = await db.fetch(
        f"""
        SELECT * FROM reports
        WHERE (action_taken_at IS NOT NULL) = $2
          AND ($3::bigint IS NULL OR account_id = $3)
          AND ($4::bigint IS NULL OR target_account_id = $4)
          AND {where}
        ORDER BY {page.order("id")}
        LIMIT $1
        """,
        page.limit,
        resolved,
        account_id,
        target_account_id,
        *args,
    )
    return page.newest_first(rows)


async def set_assigned(db: Executor, report_id: int, account_id: int | None) -> asyncpg.Record:
    return await fetch_one(
        db,
        """
        UPDATE reports SET assigned_account_id = $2, updated_at = now()
        WHERE id = $1 RETURNING *
        """,
        report_id,
        account_id,
    )


async def set_resolved(db: Executor, report_id: int, by: int | None) -> asyncpg.Record:
    """Mark acted on by `by`, or (None) reopen."""
    return await fetch_one(
        db,
        """
        UPDATE reports
        SET action_taken_at = CASE WHEN $2::bigint IS NULL THEN NULL ELSE now() END,
            action_taken_by = $2, updated_at = now()
        WHERE id = $1 RETURNING *
        """,
        report_id,
        by,
    )


async def statuses_of(db: Executor, account_id: int, status_ids: list[int]) -> list[asyncpg.Record]:
    """Those of `status_ids` that are `account_id`'s and not deleted (id, uri, local)."""
    return await db.fetch(
        """
        SELECT id, uri, local FROM statuses
        WHERE id = ANY($2::bigint[]) AND account_id = $1 AND deleted_at IS NULL
        ORDER BY id
        """,
        account_id,
        status_ids,
    )


async def existing_rule_ids(db: Executor, rule_ids: list[int]) -> set[int]:
    rows = await db.fetch("SELECT id FROM rules WHERE id = ANY($1::bigint[])", rule_ids)
    return {row["id"] for row in rows}


async def get_rules(db: Executor, rule_ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM rules WHERE id = ANY($1::bigint[]) ORDER BY position, id", rule_ids
    )
