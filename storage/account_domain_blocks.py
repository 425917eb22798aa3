"""A member's own domain blocks (`account_domain_blocks`) and the graph edges they sever.

Domains are stored as `federation.domains.normalize_domain` writes them (lower-case
ASCII), the form `accounts.domain` has, so lookups compare them directly.
"""

from __future__ import annotations

import asyncpg

from storage.db import Executor, fetch_one
from storage.pagination import Page
from storage.visibility import member_blocks_domain


async def insert(db: Executor, account_id: int, domain: str) -> bool:
    """Record the block; False when the member already blocked `domain`."""
    result = await db.execute(
        """
        INSERT INTO account_domain_blocks (account_id, domain) VALUES ($1, $2)
        ON CONFLICT (account_id, domain) DO NOTHING
        """,
        account_id,
        domain,
    )
    return result != "INSERT 0 0"


async def delete(db: Executor, account_id: int, domain: str) -> bool:
    result = await db.execute(
        "DELETE FROM account_domain_blocks WHERE account_id = $1 AND domain = $2",
        account_id,
        domain,
    )
    return result != "DELETE 0"


async def list_blocks(db: Executor, account_id: int, page: Page) -> list[asyncpg.Record]:
    """One page of the member's blocked domains (`id`, `domain`), newest first."""
    where, args = page.where("id", 3)
    rows = await db.fetch(
        f"""
        SELECT id, domain FROM account_domain_blocks
        WHERE account_id = $1 AND {where}
        ORDER BY {page.order("id")}
        LIMIT $2
        """,
        account_id,
        page.limit,
        *args,
    )
    return page.newest_first(rows)


async def ties_with(db: Executor, account_id: int, domain: str) -> asyncpg.Record:
    """The account's follow graph with accounts on `domain`, as three id arrays: `followed`
    (it follows them), `followers` (they follow it) and `requesters` (they asked to)."""
    return await fetch_one(
        db,
        """
        SELECT
            ARRAY(SELECT f.target_account_id FROM follows f
                  JOIN accounts a ON a.id = f.target_account_id
                  WHERE f.account_id = $1 AND a.domain = $2) AS followed,
            ARRAY(SELECT f.account_id FROM follows f JOIN accounts a ON a.id = f.account_id
                  WHERE f.target_account_id = $1 AND a.domain = $2) AS followers,
            ARRAY(SELECT r.account_id FROM follow_requests r JOIN accounts a ON a.id = r.account_id
                  WHERE r.target_account_id = $1 AND a.domain = $2) AS requesters
        """,
        account_id,
        domain,
    )


async def forget_notifications_from(db: Executor, account_id: int, domain: str) -> None:
    """Drop the member's notifications sent by accounts on `domain`."""
    await db.execute(
        """
        DELETE FROM notifications n USING accounts a
        WHERE n.account_id = $1 AND a.id = n.from_account_id AND a.domain = $2
        """,
        account_id,
        domain,
    )


async def blocks_domain_of(db: Executor, account_id: int, other_id: int) -> bool:
    """True when `account_id` blocks the domain of account `other_id` (never for a local one)."""
    return await db.fetchval(
        f"SELECT {member_blocks_domain('$1', '(SELECT o.domain FROM accounts o WHERE o.id = $2)')}",
        account_id,
        other_id,
    )
