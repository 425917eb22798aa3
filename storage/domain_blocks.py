"""Instance-wide domain blocks and allows, and the set-based writes a suspension needs.

A rule on `example.com` covers every subdomain (`a.example.com`, `b.a.example.com`). Lookups
turn a host into its suffixes (`a.example.com`, `example.com`, `com`) and match them against the
unique `domain` column, so the check is an index probe whatever the number of rules; the most
specific block wins, as in Mastodon. Account queries match `domain = d OR domain ends with .d`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from storage.db import Conn, Executor, fetch_one

# Migration 0011's triggers notify this channel whenever blocks, allows or settings change.
GATE_CHANNEL = "kith_gate"

BLOCK_FIELDS = (
    "severity",
    "reject_media",
    "reject_reports",
    "obfuscate",
    "public_comment",
    "private_comment",
)
# The advisory lock key of `serialize_writes` ("kithdbk" in ASCII).
_WRITE_LOCK = 0x6B697468_64626B
# Accounts on domain $1 or one of its subdomains (`a` is the accounts row).
_ON_DOMAIN = "(lower(a.domain) = $1 OR right(lower(a.domain), length($1) + 1) = '.' || $1)"


def suffixes(host: str) -> list[str]:
    """`a.example.com` → [`a.example.com`, `example.com`, `com`]; the port is ignored."""
    name = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
    labels = name.strip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


async def policy(db: Executor, host: str) -> asyncpg.Record:
    """What applies to `host`: `allowlist` (the instance federates only with allowed domains),
    `allowed` (an allow covers it) and `block` (the most specific block covering it, or None)."""
    return await fetch_one(
        db,
        """
        SELECT
            coalesce((SELECT value #>> '{}' = 'allowlist'
                      FROM instance_settings WHERE key = 'federation_mode'), false) AS allowlist,
            EXISTS (SELECT 1 FROM domain_allows WHERE domain = ANY($1::text[])) AS allowed,
            (SELECT to_jsonb(b) FROM domain_blocks b WHERE domain = ANY($1::text[])
             ORDER BY length(domain) DESC LIMIT 1) AS block
        """,
        suffixes(host),
    )


@asynccontextmanager
async def changes(
    pool: asyncpg.Pool, on_change: Callable[[], None], on_lost: Callable[[], None]
) -> AsyncIterator[None]:
    """Call `on_change()` whenever domain blocks, allows or instance settings change, and
    `on_lost()` if the connection listening for that ends, holding one pool connection."""

    def notified(*_: object) -> None:
        on_change()

    def terminated(*_: object) -> None:
        on_lost()

    async with pool.acquire() as conn:
        await conn.add_listener(GATE_CHANNEL, notified)
        conn.add_termination_listener(terminated)
        try:
            yield
        finally:
            try:
                conn.remove_termination_listener(terminated)
                await conn.remove_listener(GATE_CHANNEL, notified)
            except asyncpg.InterfaceError:  # the connection was lost and left the pool
                pass


async def policies(db: Executor, hosts: list[str]) -> dict[str, asyncpg.Record]:
    """`policy` for many hosts in one query (a fan-out names hundreds): host → the same record."""
    rows = await db.fetch(
        """
        SELECT h.host,
            coalesce((SELECT value #>> '{}' = 'allowlist'
                      FROM instance_settings WHERE key = 'federation_mode'), false) AS allowlist,
            EXISTS (SELECT 1 FROM domain_allows WHERE domain = ANY(n.names)) AS allowed,
            (SELECT to_jsonb(b) FROM domain_blocks b WHERE domain = ANY(n.names)
             ORDER BY length(domain) DESC LIMIT 1) AS block
        FROM unnest($1::text[], $2::text[]) AS h (host, joined),
             LATERAL (SELECT string_to_array(h.joined, ' ') AS names) n
        """,
        hosts,
        [" ".join(suffixes(host)) for host in hosts],
    )
    return {row["host"]: row for row in rows}


async def limit_new_account(db: Executor, account_id: int, domain: str) -> bool:
    """Silence a newly stored remote account when the most specific block over its domain is a
    silence, stamped like the accounts the block limited when it was made (so lifting the block
    lifts this too). True when it did."""
    result = await db.execute(
        """
        UPDATE accounts a SET silenced_at = b.updated_at
        FROM (SELECT severity, updated_at FROM domain_blocks WHERE domain = ANY($2::text[])
              ORDER BY length(domain) DESC LIMIT 1) b
        WHERE a.id = $1 AND a.silenced_at IS NULL AND b.severity = 'silence'
        """,
        account_id,
        suffixes(domain),
    )
    return result == "UPDATE 1"


# -- blocks ---------------------------------------------------------------------------------------


async def list_blocks(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM domain_blocks ORDER BY domain")


async def get_block(db: Executor, block_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM domain_blocks WHERE id = $1", block_id)


async def lock_block(conn: Conn, block_id: int) -> asyncpg.Record | None:
    """The block, locked until the transaction ends (so concurrent edits apply in turn)."""
    return await conn.fetchrow("SELECT * FROM domain_blocks WHERE id = $1 FOR UPDATE", block_id)


async def get_block_by_domain(db: Executor, domain: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM domain_blocks WHERE domain = $1", domain)


async def lock_block_by_domain(conn: Conn, domain: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM domain_blocks WHERE domain = $1 FOR UPDATE", domain)


async def blocks_on(db: Executor, domains: list[str]) -> list[asyncpg.Record]:
    """The blocks on exactly these domains (not their parents)."""
    return await db.fetch("SELECT * FROM domain_blocks WHERE domain = ANY($1::text[])", domains)


async def subscription_blocks_under(db: Executor, domain: str) -> list[str]:
    """The domains of the subscription-derived blocks on `domain` and its subdomains."""
    rows = await db.fetch(
        """
        SELECT domain FROM domain_blocks
        WHERE origin = 'subscription'
          AND (domain = $1 OR right(domain, length($1) + 1) = '.' || $1)
        """,
        domain,
    )
    return [row["domain"] for row in rows]


async def serialize_writes(conn: Conn) -> None:
    """Make this transaction's block writes wait for (and exclude) every other's until it ends:
    admins and subscription refreshes may race to the same domain."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _WRITE_LOCK)


async def insert_block(
    db: Executor, domain: str, fields: dict[str, Any], *, origin: str = "local"
) -> asyncpg.Record | None:
    """The new block, or None when `domain` already has one."""
    columns = [name for name in BLOCK_FIELDS if name in fields]
    values = "".join(f", ${i}" for i in range(3, len(columns) + 3))
    return await db.fetchrow(
        f"""
        INSERT INTO domain_blocks (domain, origin{"".join(f", {c}" for c in columns)})
        VALUES ($1, $2{values})
        ON CONFLICT (domain) DO NOTHING
        RETURNING *
        """,
        domain,
        origin,
        *(fields[c] for c in columns),
    )


async def update_block(
    db: Executor, block_id: int, fields: dict[str, Any], *, origin: str | None = None
) -> asyncpg.Record:
    """Change the given fields (and the origin, when given)."""
    columns = [name for name in BLOCK_FIELDS if name in fields]
    assignments = "".join(f"{c} = ${i}, " for i, c in enumerate(columns, start=3))
    return await fetch_one(
        db,
        f"""
        UPDATE domain_blocks SET {assignments}origin = coalesce($2, origin), updated_at = now()
        WHERE id = $1 RETURNING *
        """,
        block_id,
        origin,
        *(fields[c] for c in columns),
    )


async def delete_block(db: Executor, block_id: int) -> None:
    await db.execute("DELETE FROM domain_blocks WHERE id = $1", block_id)


# -- allows ---------------------------------------------------------------------------------------


async def list_allows(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM domain_allows ORDER BY domain")


async def get_allow(db: Executor, allow_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM domain_allows WHERE id = $1", allow_id)


async def insert_allow(db: Executor, domain: str) -> asyncpg.Record | None:
    """The new allow, or None when `domain` is already allowed."""
    return await db.fetchrow(
        """
        INSERT INTO domain_allows (domain) VALUES ($1)
        ON CONFLICT (domain) DO NOTHING RETURNING *
        """,
        domain,
    )


async def delete_allow(db: Executor, allow_id: int) -> None:
    await db.execute("DELETE FROM domain_allows WHERE id = $1", allow_id)


# -- what a block does to the domain's accounts ---------------------------------------------------


async def follows_across(db: Executor, domain: str) -> list[asyncpg.Record]:
    """Every follow and follow request between a local account and one on `domain`, either way:
    rows of (account_id, target_account_id)."""
    return await db.fetch(
        f"""
        SELECT f.account_id, f.target_account_id
        FROM (SELECT account_id, target_account_id FROM follows
              UNION SELECT account_id, target_account_id FROM follow_requests) f
        JOIN accounts a ON a.id IN (f.account_id, f.target_account_id)
        WHERE {_ON_DOMAIN}
        """,
        domain,
    )


async def forget_statuses(db: Executor, domain: str) -> None:
    """Take the domain's statuses out of every home feed and mark them deleted."""
    await db.execute(
        f"""
        WITH gone AS (SELECT a.id FROM accounts a WHERE {_ON_DOMAIN}),
        feeds AS (DELETE FROM home_feed WHERE author_account_id IN (SELECT id FROM gone))
        UPDATE statuses SET deleted_at = now()
        WHERE account_id IN (SELECT id FROM gone) AND deleted_at IS NULL
        """,
        domain,
    )


async def cancel_deliveries(db: Executor, domain: str) -> None:
    """Give up the pending deliveries to the domain's hosts (queued before it was suspended);
    their jobs then find nothing to send."""
    await db.execute(
        """
        UPDATE deliveries
        SET state = 'failed', last_error = 'domain suspended'
        WHERE state = 'pending'
          AND (split_part(host, ':', 1) = $1
               OR right(split_part(host, ':', 1), length($1) + 1) = '.' || $1)
        """,
        domain,
    )


async def drop_media(db: Executor, domain: str) -> None:
    """Forget the media the domain's accounts sent: avatars, headers and attachments (links to
    the remote files, which Kith never copies). Media arriving later is stripped on the way in."""
    await db.execute(
        f"""
        UPDATE accounts a SET avatar_url = NULL, header_url = NULL
        WHERE {_ON_DOMAIN} AND (avatar_url IS NOT NULL OR header_url IS NOT NULL)
        """,
        domain,
    )
    await db.execute(
        f"""
        DELETE FROM media_attachments m USING accounts a
        WHERE m.account_id = a.id AND {_ON_DOMAIN}
        """,
        domain,
    )


async def set_limitation(db: Executor, domain: str, column: str, on: bool, since: Any) -> None:
    """Set `column` (`silenced_at` or `suspended_at`) to `since` on the domain's accounts that
    have none (on), or clear it where it is `since`, i.e. where this block set it (off): an
    account limited on its own stays limited when the block is lifted."""
    assert column in ("silenced_at", "suspended_at")
    if on:
        await db.execute(
            f"UPDATE accounts a SET {column} = $2 WHERE {_ON_DOMAIN} AND {column} IS NULL",
            domain,
            since,
        )
    else:
        await db.execute(
            f"UPDATE accounts a SET {column} = NULL WHERE {_ON_DOMAIN} AND {column} = $2",
            domain,
            since,
        )
