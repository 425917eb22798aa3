"""The social graph: follows, follow requests, and the relationship between two accounts.

`followers_count` and `following_count` are maintained by the same statement that inserts or
deletes a follow (a data-modifying CTE), so a counter can never drift from the rows it counts,
whichever transaction the caller runs in.
"""

from __future__ import annotations

import asyncpg

from storage.accounts import ACCOUNT_COLUMNS
from storage.db import Executor
from storage.pagination import Page
from storage.visibility import member_blocks_domain


async def get_follow(db: Executor, account_id: int, target_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM follows WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )


async def get_follow_request(
    db: Executor, account_id: int, target_id: int
) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM follow_requests WHERE account_id = $1 AND target_account_id = $2",
        account_id,
        target_id,
    )


async def insert_follow(
    db: Executor,
    account_id: int,
    target_id: int,
    *,
    show_reblogs: bool,
    notify: bool,
    languages: list[str] | None,
    uri: str | None,
) -> asyncpg.Record | None:
    """Create a follow and count it on both accounts; None when it already existed."""
    return await db.fetchrow(
        """
        WITH inserted AS (
            INSERT INTO follows (account_id, target_account_id, show_reblogs, notify, languages,
                                 uri)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (account_id, target_account_id) DO NOTHING
            RETURNING *
        ), counted AS (
            UPDATE accounts
            SET following_count = following_count + (id = $1)::int,
                followers_count = followers_count + (id = $2)::int
            WHERE id IN ($1, $2) AND EXISTS (SELECT 1 FROM inserted)
        )
        SELECT * FROM inserted
        """,
        account_id,
        target_id,
        show_reblogs,
        notify,
        languages,
        uri,
    )


async def delete_follow(db: Executor, account_id: int, target_id: int) -> asyncpg.Record | None:
    """Remove a follow and uncount it on both accounts; None when there was none."""
    return await db.fetchrow(
        """
        WITH deleted AS (
            DELETE FROM follows WHERE account_id = $1 AND target_account_id = $2
            RETURNING *
        ), counted AS (
            UPDATE accounts
            SET following_count = greatest(following_count - (id = $1)::int, 0),
                followers_count = greatest(followers_count - (id = $2)::int, 0)
            WHERE id IN ($1, $2) AND EXISTS (SELECT 1 FROM deleted)
        )
        SELECT * FROM deleted
        """,
        account_id,
        target_id,
    )


async def set_follow_options(
    db: Executor,
    follow_id: int,
    *,
    show_reblogs: bool,
    notify: bool,
    languages: list[str] | None,
) -> None:
    await db.execute(
        "UPDATE follows SET show_reblogs = $2, notify = $3, languages = $4 WHERE id = $1",
        follow_id,
        show_reblogs,
        notify,
        languages,
    )


async def insert_follow_request(
    db: Executor,
    account_id: int,
    target_id: int,
    *,
    show_reblogs: bool,
    notify: bool,
    uri: str | None,
) -> asyncpg.Record | None:
    """Create a pending follow request; None when one already existed."""
    return await db.fetchrow(
        """
        INSERT INTO follow_requests (account_id, target_account_id, show_reblogs, notify, uri)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (account_id, target_account_id) DO NOTHING
        RETURNING *
        """,
        account_id,
        target_id,
        show_reblogs,
        notify,
        uri,
    )


async def set_follow_request_options(
    db: Executor, request_id: int, *, show_reblogs: bool, notify: bool
) -> None:
    await db.execute(
        "UPDATE follow_requests SET show_reblogs = $2, notify = $3 WHERE id = $1",
        request_id,
        show_reblogs,
        notify,
    )


async def delete_follow_request(
    db: Executor, account_id: int, target_id: int
) -> asyncpg.Record | None:
    """Remove a pending request and return it; None when there was none."""
    return await db.fetchrow(
        "DELETE FROM follow_requests WHERE account_id = $1 AND target_account_id = $2 RETURNING *",
        account_id,
        target_id,
    )


async def pending_requester_ids(db: Executor, target_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT account_id FROM follow_requests WHERE target_account_id = $1 ORDER BY id",
        target_id,
    )
    return [row["account_id"] for row in rows]


async def count_follow_requests(db: Executor, target_id: int) -> int:
    return await db.fetchval(
        """
        SELECT count(*) FROM follow_requests r JOIN accounts a ON a.id = r.account_id
        WHERE r.target_account_id = $1 AND a.suspended_at IS NULL
        """,
        target_id,
    )


async def is_blocking(db: Executor, account_id: int, target_id: int) -> bool:
    """True when `account_id` blocks `target_id`."""
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE account_id = $1 AND target_account_id = $2)",
        account_id,
        target_id,
    )


async def relationships(
    db: Executor, viewer_id: int, target_ids: list[int], *, with_suspended: bool = False
) -> list[asyncpg.Record]:
    """The viewer's relationship to each existing target, in the order of `target_ids`.

    Like Mastodon, a pending request's options stand in for a follow's (`showing_reblogs`,
    `notifying`) until it is accepted.
    """
    return await db.fetch(
        f"""
        SELECT t.id,
            f.id IS NOT NULL AS following,
            coalesce(f.show_reblogs, r.show_reblogs, false) AS showing_reblogs,
            coalesce(f.notify, r.notify, false) AS notifying,
            f.languages,
            EXISTS (SELECT 1 FROM follows x
                    WHERE x.account_id = t.id AND x.target_account_id = $1) AS followed_by,
            EXISTS (SELECT 1 FROM blocks b
                    WHERE b.account_id = $1 AND b.target_account_id = t.id) AS blocking,
            EXISTS (SELECT 1 FROM blocks b
                    WHERE b.account_id = t.id AND b.target_account_id = $1) AS blocked_by,
            m.account_id IS NOT NULL AS muting,
            coalesce(m.hide_notifications, false) AS muting_notifications,
            r.id IS NOT NULL AS requested,
            EXISTS (SELECT 1 FROM follow_requests x
                    WHERE x.account_id = t.id AND x.target_account_id = $1) AS requested_by,
            {member_blocks_domain("$1", "t.domain")} AS domain_blocking
        FROM unnest($2::bigint[]) WITH ORDINALITY AS wanted (id, position)
        JOIN accounts t ON t.id = wanted.id
        LEFT JOIN follows f ON f.account_id = $1 AND f.target_account_id = t.id
        LEFT JOIN follow_requests r ON r.account_id = $1 AND r.target_account_id = t.id
        LEFT JOIN mutes m ON m.account_id = $1 AND m.target_account_id = t.id
            AND (m.expires_at IS NULL OR m.expires_at > now())
        WHERE $3 OR t.suspended_at IS NULL
        ORDER BY wanted.position
        """,
        viewer_id,
        target_ids,
        with_suspended,
    )


async def account_page(
    db: Executor,
    table: str,
    match: str,
    other: str,
    account_id: int,
    page: Page,
    condition: str = "TRUE",
) -> list[asyncpg.Record]:
    """Accounts on the `other` side of `table` rows whose `match` column is `account_id`.

    `condition` is extra SQL on the edge row `e`. Each row carries the edge's id as `page_key`:
    lists of accounts are paginated by when the edge was made, as in Mastodon, not by account id.
    """
    where, args = page.where("e.id", 3)
    rows = await db.fetch(
        f"""
        SELECT {ACCOUNT_COLUMNS}, e.id AS page_key
        FROM {table} e JOIN accounts a ON a.id = e.{other}
        WHERE e.{match} = $1 AND a.suspended_at IS NULL AND {condition} AND {where}
        ORDER BY {page.order("e.id")}
        LIMIT $2
        """,
        account_id,
        page.limit,
        *args,
    )
    return page.newest_first(rows)


async def list_followers(db: Executor, account_id: int, page: Page) -> list[asyncpg.Record]:
    return await account_page(db, "follows", "target_account_id", "account_id", account_id, page)


async def list_following(db: Executor, account_id: int, page: Page) -> list[asyncpg.Record]:
    return await account_page(db, "follows", "account_id", "target_account_id", account_id, page)


async def list_follow_requests(db: Executor, target_id: int, page: Page) -> list[asyncpg.Record]:
    """Accounts asking to follow `target_id`, newest request first."""
    return await account_page(
        db, "follow_requests", "target_account_id", "account_id", target_id, page
    )
