"""What staff see of accounts: an account with its user (local members only), listed and changed."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from storage.accounts import ACCOUNT_COLUMNS, like_prefix
from storage.db import Executor
from storage.pagination import Page

_SELECT = f"""
    SELECT {ACCOUNT_COLUMNS}, a.sensitized_at,
           u.id AS user_id, u.email, host(u.sign_up_ip) AS ip, u.role, u.confirmed_at,
           u.approved, u.disabled, u.locale, u.sign_up_reason,
           i.created_by AS invited_by_account_id
    FROM accounts a LEFT JOIN users u ON u.account_id = a.id
         LEFT JOIN invites i ON i.id = u.invite_id
"""

# Moderation states an account can be put in and taken out of, by column.
FLAG_COLUMNS = {
    "silenced": "silenced_at",
    "suspended": "suspended_at",
    "sensitized": "sensitized_at",
}


@dataclass(frozen=True)
class AccountFilter:
    """Mastodon's v1 admin filters; text filters match a case-insensitive prefix."""

    origin: str | None = None  # "local" | "remote"
    status: str | None = None  # "active" | "pending" | "disabled" | "silenced" | "suspended"
    staff: bool = False
    username: str | None = None
    display_name: str | None = None
    email: str | None = None
    domain: str | None = None  # exact, case-insensitive (v2's `by_domain`)
    invited_by: int | None = None  # the account whose invite was used


_STATUS = {
    "active": "a.suspended_at IS NULL AND (u.id IS NULL OR (u.approved AND NOT u.disabled))",
    "pending": "u.id IS NOT NULL AND NOT u.approved",
    "disabled": "u.disabled",
    "silenced": "a.silenced_at IS NOT NULL",
    "suspended": "a.suspended_at IS NOT NULL",
}


async def list_accounts(
    db: Executor, page: Page, filters: AccountFilter, *, exclude_uri: str | None = None
) -> list[asyncpg.Record]:
    """Accounts newest first; `exclude_uri` leaves out the instance actor."""
    conditions = ["a.uri IS DISTINCT FROM $2"]
    args: list[object] = [page.limit, exclude_uri]
    if filters.origin == "local":
        conditions.append("a.domain IS NULL")
    elif filters.origin == "remote":
        conditions.append("a.domain IS NOT NULL")
    if filters.status is not None:
        conditions.append(_STATUS[filters.status])
    if filters.staff:
        conditions.append("u.role IN ('admin', 'moderator')")
    for column, value in (
        ("a.username", filters.username),
        ("a.display_name", filters.display_name),
        ("u.email", filters.email),
    ):
        if value:
            args.append(like_prefix(value))
            conditions.append(f"lower({column}) LIKE lower(${len(args)})")
    if filters.domain:
        args.append(filters.domain)
        conditions.append(f"lower(a.domain) = lower(${len(args)})")
    if filters.invited_by is not None:
        args.append(filters.invited_by)
        conditions.append(
            f"u.invite_id IN (SELECT id FROM invites WHERE created_by = ${len(args)}::bigint)"
        )
    where, page_args = page.where("a.id", len(args) + 1)
    rows = await db.fetch(
        f"{_SELECT} WHERE {' AND '.join(conditions)} AND {where}"
        f" ORDER BY {page.order('a.id')} LIMIT $1",
        *args,
        *page_args,
    )
    return page.newest_first(rows)


async def get_admin_account(db: Executor, account_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(f"{_SELECT} WHERE a.id = $1", account_id)


async def get_admin_accounts(db: Executor, account_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await db.fetch(f"{_SELECT} WHERE a.id = ANY($1::bigint[])", list(set(account_ids)))
    return {row["id"]: row for row in rows}


async def set_flag(db: Executor, account_id: int, flag: str, on: bool) -> None:
    """Set (keeping the first time) or clear one of `FLAG_COLUMNS`."""
    column = FLAG_COLUMNS[flag]
    await db.execute(
        f"""
        UPDATE accounts SET {column} = CASE WHEN $2 THEN coalesce({column}, now()) END,
                            updated_at = now()
        WHERE id = $1
        """,
        account_id,
        on,
    )


async def set_user_state(
    db: Executor, account_id: int, *, approved: bool | None = None, disabled: bool | None = None
) -> None:
    await db.execute(
        """
        UPDATE users SET approved = coalesce($2, approved), disabled = coalesce($3, disabled)
        WHERE account_id = $1
        """,
        account_id,
        approved,
        disabled,
    )


async def delete_account(db: Executor, account_id: int) -> None:
    await db.execute("DELETE FROM accounts WHERE id = $1", account_id)
