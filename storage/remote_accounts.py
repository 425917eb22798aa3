"""Remote accounts as last fetched: the upsert that keeps them current, and their look-ups.

Rows are returned whole (`*`): callers need the inbox and key columns that the client-facing
`ACCOUNT_COLUMNS` leave out. Remote rows have no private key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from storage.db import Executor

# Column -> value, as produced from a parsed actor by the service layer.
REMOTE_COLUMNS = (
    "username",
    "domain",
    "display_name",
    "note",
    "fields",
    "uri",
    "url",
    "actor_type",
    "inbox_url",
    "outbox_url",
    "shared_inbox_url",
    "followers_url",
    "following_url",
    "featured_url",
    "public_key_id",
    "public_key_pem",
    "avatar_url",
    "header_url",
    "locked",
    "bot",
    "discoverable",
    "indexable",
)


async def upsert_remote_account(
    db: Executor,
    values: dict[str, Any],
    *,
    moved_to_uri: str | None,
    published: datetime | None,
) -> asyncpg.Record | None:
    """Insert or refresh the remote account `values["uri"]`; return its row.

    `moved_to_uri` is linked only when that account is already known (following a move is the
    caller's choice, not a side effect of a fetch). `published` becomes `created_at` on insert.
    Never touches a local account: None when `uri` belongs to one.
    """
    columns = ", ".join(REMOTE_COLUMNS)
    placeholders = ", ".join(f"${i}" for i in range(1, len(REMOTE_COLUMNS) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in REMOTE_COLUMNS if c != "uri")
    n = len(REMOTE_COLUMNS)
    return await db.fetchrow(
        f"""
        INSERT INTO accounts ({columns}, moved_to_account_id, created_at, fetched_at,
                              key_fetched_at)
        VALUES ({placeholders},
                (SELECT id FROM accounts WHERE uri = ${n + 1}),
                coalesce(${n + 2}::timestamptz, now()), now(), now())
        ON CONFLICT (uri) DO UPDATE SET {updates},
            moved_to_account_id = EXCLUDED.moved_to_account_id,
            fetched_at = now(), key_fetched_at = now(), updated_at = now()
        WHERE accounts.domain IS NOT NULL
        RETURNING *
        """,
        *(values[c] for c in REMOTE_COLUMNS),
        moved_to_uri,
        published,
    )


async def get_account_by_uri(db: Executor, uri: str) -> asyncpg.Record | None:
    """Any account (local or remote) by ActivityPub id."""
    return await db.fetchrow("SELECT * FROM accounts WHERE uri = $1", uri)


async def get_account_by_acct(
    db: Executor, username: str, domain: str | None
) -> asyncpg.Record | None:
    """Any account by `username` and `domain` (None for local), case-insensitively."""
    return await db.fetchrow(
        """
        SELECT * FROM accounts
        WHERE lower(username) = lower($1) AND coalesce(lower(domain), '') = lower($2)
        """,
        username,
        domain or "",
    )


async def get_account_by_key_id(db: Executor, key_id: str) -> asyncpg.Record | None:
    """The account whose public key has id `key_id`."""
    return await db.fetchrow("SELECT * FROM accounts WHERE public_key_id = $1 LIMIT 1", key_id)


async def get_account_by_url(db: Executor, url: str) -> asyncpg.Record | None:
    """An account by ActivityPub id or profile URL (what people paste into search)."""
    return await db.fetchrow(
        "SELECT * FROM accounts WHERE uri = $1 OR url = $1 ORDER BY uri = $1 DESC LIMIT 1", url
    )
