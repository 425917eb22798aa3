"""What the instance endpoints report: rules, statistics, known peers and the contact."""

from __future__ import annotations

import asyncpg

from storage.db import Executor, fetch_one
from storage.member_counts import (
    ACTIVE_MONTH_DAYS,
    COUNT_LOCAL_STATUSES,
    MEMBERS,
    count_active_within,
)

# Remote domains Kith knows an account of, without those silenced or suspended (directly or as
# a subdomain of a blocked domain).
_PEERS = """
    SELECT d.domain FROM (
        SELECT DISTINCT lower(domain) AS domain FROM accounts WHERE domain IS NOT NULL
    ) d
    WHERE NOT EXISTS (
        SELECT 1 FROM domain_blocks b
        WHERE b.severity IN ('silence', 'suspend')
          AND (d.domain = lower(b.domain)
               OR right(d.domain, length(b.domain) + 1) = '.' || lower(b.domain))
    )
"""


async def list_rules(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch("SELECT id, text, hint FROM rules ORDER BY position, id")


async def list_peers(db: Executor) -> list[str]:
    """Every remote domain Kith knows an account of, except silenced or suspended ones."""
    rows = await db.fetch(f"{_PEERS} ORDER BY d.domain")
    return [row["domain"] for row in rows]


async def stats(db: Executor) -> asyncpg.Record:
    """`user_count`, `status_count`, `domain_count` and `active_month` in one round trip."""
    return await fetch_one(
        db,
        f"""
        SELECT
            (SELECT count(*) {MEMBERS}) AS user_count,
            ({COUNT_LOCAL_STATUSES}) AS status_count,
            (SELECT count(*) FROM ({_PEERS}) peers) AS domain_count,
            ({count_active_within("$1")}) AS active_month
        """,
        ACTIVE_MONTH_DAYS,
    )


async def contact_account_id(db: Executor) -> int | None:
    """The account of the first admin who can still sign in, if there is one."""
    return await db.fetchval(
        """
        SELECT a.id FROM users u JOIN accounts a ON a.id = u.account_id
        WHERE u.role = 'admin' AND u.approved AND NOT u.disabled AND a.suspended_at IS NULL
        ORDER BY u.id
        LIMIT 1
        """
    )
