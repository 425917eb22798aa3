"""What Kith serves over ActivityPub: members' actors, the statuses anyone may fetch, outbox and
follower pages.

`servable` is the one audience rule for everything served to other servers: for an unsigned
fetch, a status any anonymous reader may read (public or unlisted, not deleted); for a fetch
signed by a remote account (`federation.fetch_gate`), what that account's domain was delivered
(`storage.visibility.readable_by_remote`). Never a local-only one, whoever asks.
"""

from __future__ import annotations

import asyncpg

from storage.accounts import ACCOUNT_COLUMNS
from storage.db import Executor
from storage.statuses import STATUS_COLUMNS
from storage.visibility import readable_by, readable_by_remote

# An actor document's columns: the entity's, the collections and the public key (never the
# private one).
ACTOR_COLUMNS = f"""{ACCOUNT_COLUMNS}, a.inbox_url, a.outbox_url, a.shared_inbox_url,
    a.followers_url, a.following_url, a.featured_url, a.public_key_id, a.public_key_pem"""


def servable(alias: str = "s", viewer: str | None = None) -> str:
    """SQL that is true when status `alias` may be served over ActivityPub; a boost only when
    what it boosts may be too. `viewer` is the placeholder (e.g. `$3`) of the remote account
    that signed the fetch, holding NULL or absent for an unsigned one."""
    return f"""(
        {_audience(alias, viewer)}
        AND ({alias}.reblog_of_id IS NULL OR EXISTS (
            SELECT 1 FROM statuses boosted WHERE boosted.id = {alias}.reblog_of_id
              AND {_audience("boosted", viewer)}))
    )"""


def _audience(alias: str, viewer: str | None) -> str:
    # `readable_by` keeps local-only statuses from anonymous readers only; served documents never
    # carry one, whoever is asking.
    anonymous = f"({readable_by('NULL', alias)} AND NOT {alias}.local_only)"
    if viewer is None:
        return anonymous
    return f"""(CASE WHEN {viewer}::bigint IS NULL THEN {anonymous}
                ELSE {readable_by_remote(viewer, alias)} END)"""


async def get_member_actor(db: Executor, username: str) -> asyncpg.Record | None:
    """A member's account with its actor columns: local, with a user (so not the instance
    actor), approved and not suspended."""
    return await db.fetchrow(
        f"""
        SELECT {ACTOR_COLUMNS} FROM accounts a JOIN users u ON u.account_id = a.id
        WHERE lower(a.username) = lower($1) AND a.domain IS NULL
          AND a.suspended_at IS NULL AND u.approved
        """,
        username,
    )


async def get_servable_status(
    db: Executor, account_id: int, status_id: int, viewer_id: int | None = None
) -> asyncpg.Record | None:
    """One of `account_id`'s statuses (or boosts), if it may be served to `viewer_id` (the
    remote account that signed the fetch; None for an unsigned one)."""
    return await db.fetchrow(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE s.id = $1 AND s.account_id = $2 AND {servable(viewer="$3")}
        """,
        status_id,
        account_id,
        viewer_id,
    )


async def servable_ids(db: Executor, status_ids: list[int], viewer_id: int) -> set[int]:
    """Those of `status_ids` that may be served to remote account `viewer_id`."""
    rows = await db.fetch(
        f"SELECT s.id FROM statuses s WHERE s.id = ANY($1::bigint[]) AND {servable(viewer='$2')}",
        status_ids,
        viewer_id,
    )
    return {row["id"] for row in rows}


_OUTBOX_ITEM = f"s.account_id = $1 AND {servable(viewer='$2')}"


async def count_outbox(db: Executor, account_id: int, viewer_id: int | None = None) -> int:
    return await db.fetchval(
        f"SELECT count(*) FROM statuses s WHERE {_OUTBOX_ITEM}", account_id, viewer_id
    )


async def outbox_page(
    db: Executor,
    account_id: int,
    max_id: int | None,
    limit: int,
    viewer_id: int | None = None,
) -> list[asyncpg.Record]:
    """Outbox items older than `max_id` (all, when None), newest first, as `viewer_id` may see
    them."""
    return await db.fetch(
        f"""
        SELECT {STATUS_COLUMNS} FROM statuses s
        WHERE {_OUTBOX_ITEM} AND ($3::bigint IS NULL OR s.id < $3)
        ORDER BY s.id DESC
        LIMIT $4
        """,
        account_id,
        viewer_id,
        max_id,
        limit,
    )


async def reply_targets(db: Executor, status_ids: list[int]) -> dict[int, str]:
    """The id (URI) of what each status replies to, for those that reply: the parent's URI when
    Kith has the parent, else the URI it was given."""
    rows = await db.fetch(
        """
        SELECT s.id, coalesce(p.uri, s.in_reply_to_uri) AS uri
        FROM statuses s LEFT JOIN statuses p ON p.id = s.in_reply_to_id
        WHERE s.id = ANY($1::bigint[])
          AND (s.in_reply_to_id IS NOT NULL OR s.in_reply_to_uri IS NOT NULL)
        """,
        status_ids,
    )
    return {row["id"]: row["uri"] for row in rows}


async def boosted(db: Executor, status_ids: list[int]) -> dict[int, asyncpg.Record]:
    """Boosted statuses by id, each with `uri` and its author's `author_uri`."""
    rows = await db.fetch(
        """
        SELECT s.id, s.uri, a.uri AS author_uri
        FROM statuses s JOIN accounts a ON a.id = s.account_id
        WHERE s.id = ANY($1::bigint[])
        """,
        status_ids,
    )
    return {row["id"]: row for row in rows}


async def relation_page(
    db: Executor, account_id: int, *, followers: bool, offset: int, limit: int
) -> list[str]:
    """Actor URIs of an account's followers (or of those it follows), newest follow first,
    without suspended accounts."""
    mine, theirs = (
        ("target_account_id", "account_id") if followers else ("account_id", "target_account_id")
    )
    rows = await db.fetch(
        f"""
        SELECT a.uri FROM follows f JOIN accounts a ON a.id = f.{theirs}
        WHERE f.{mine} = $1 AND a.suspended_at IS NULL
        ORDER BY f.id DESC
        OFFSET $2 LIMIT $3
        """,
        account_id,
        offset,
        limit,
    )
    return [row["uri"] for row in rows]
