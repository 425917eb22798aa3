"""The incoming-content policies: their configuration, their decisions and held activities."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Conn, Executor, fetch_one
from storage.pagination import Page

# -- policies -------------------------------------------------------------------------------------


async def list_policies(db: Executor, *, enabled_only: bool = False) -> list[asyncpg.Record]:
    """Policies in pipeline order (position, then age)."""
    return await db.fetch(
        "SELECT * FROM policies WHERE enabled OR NOT $1 ORDER BY position, id", enabled_only
    )


async def get_policy(db: Executor, policy_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM policies WHERE id = $1", policy_id)


async def lock_order(conn: Conn) -> None:
    """Serialise changes of the pipeline's order (positions are renumbered as a whole)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('kith.policies'))")


async def insert_policy(
    conn: Conn,
    *,
    kind: str,
    config: dict[str, Any],
    position: int | None,
    enabled: bool,
    dry_run: bool,
) -> asyncpg.Record:
    """Insert a policy at `position` (1-based; None or past the end: last), shifting the ones
    from there down by one."""
    count = await conn.fetchval("SELECT count(*) FROM policies")
    at = count + 1 if position is None else max(1, min(position, count + 1))
    await conn.execute("UPDATE policies SET position = position + 1 WHERE position >= $1", at)
    return await fetch_one(
        conn,
        """
        INSERT INTO policies (kind, config, position, enabled, dry_run)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING *
        """,
        kind,
        config,
        at,
        enabled,
        dry_run,
    )


async def update_policy(
    conn: Conn, policy_id: int, fields: dict[str, Any]
) -> asyncpg.Record | None:
    """Change `config`, `enabled` and/or `dry_run` (those present in `fields`)."""
    return await conn.fetchrow(
        """
        UPDATE policies SET
            config = CASE WHEN $2 THEN $3::jsonb ELSE config END,
            enabled = coalesce($4, enabled),
            dry_run = coalesce($5, dry_run),
            updated_at = now()
        WHERE id = $1
        RETURNING *
        """,
        policy_id,
        "config" in fields,
        fields.get("config"),
        fields.get("enabled"),
        fields.get("dry_run"),
    )


async def move_policy(conn: Conn, policy_id: int, position: int) -> None:
    """Put a policy at `position` (1-based, clamped), renumbering the others densely."""
    ids = [r["id"] for r in await list_policies(conn) if r["id"] != policy_id]
    at = max(1, min(position, len(ids) + 1))
    ids.insert(at - 1, policy_id)
    await _renumber(conn, ids)


async def delete_policy(conn: Conn, policy_id: int) -> asyncpg.Record | None:
    row = await conn.fetchrow("DELETE FROM policies WHERE id = $1 RETURNING *", policy_id)
    if row is not None:
        await _renumber(conn, [r["id"] for r in await list_policies(conn)])
    return row


async def _renumber(conn: Conn, ids: list[int]) -> None:
    await conn.execute(
        """
        UPDATE policies p SET position = o.n
        FROM unnest($1::bigint[]) WITH ORDINALITY AS o (id, n)
        WHERE p.id = o.id AND p.position <> o.n
        """,
        ids,
    )


# -- decisions ------------------------------------------------------------------------------------


async def record_decision(
    db: Executor,
    *,
    activity_uri: str,
    actor_uri: str | None,
    policy_id: int | None,
    policy_kind: str,
    action: str,
    reason: str,
    dry_run: bool,
    source: str,
) -> None:
    await db.execute(
        """
        INSERT INTO policy_decisions
            (activity_uri, actor_uri, policy_id, policy_kind, action, reason, dry_run, source)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        activity_uri,
        actor_uri,
        policy_id,
        policy_kind,
        action,
        reason,
        dry_run,
        source,
    )


async def list_decisions(
    db: Executor, page: Page, *, activity_uri: str | None = None
) -> list[asyncpg.Record]:
    """Decisions newest first, optionally about one activity."""
    where, args = page.where("id", 3)
    rows = await db.fetch(
        f"""
        SELECT * FROM policy_decisions
        WHERE ($2::text IS NULL OR activity_uri = $2) AND {where}
        ORDER BY {page.order("id")}
        LIMIT $1
        """,
        page.limit,
        activity_uri,
        *args,
    )
    return page.newest_first(rows)


# -- held activities ------------------------------------------------------------------------------


async def hold_activity(
    db: Executor,
    *,
    activity_uri: str,
    actor_uri: str,
    type: str,
    payload: dict[str, Any],
    policy_id: int | None,
    policy_kind: str,
    reason: str,
) -> None:
    """Keep an activity for review (a redelivery of one already held changes nothing)."""
    await db.execute(
        """
        INSERT INTO held_activities
            (activity_uri, actor_uri, type, payload, policy_id, policy_kind, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (activity_uri) DO NOTHING
        """,
        activity_uri,
        actor_uri,
        type,
        payload,
        policy_id,
        policy_kind,
        reason,
    )


async def was_released(db: Executor, activity_uri: str) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM held_activities WHERE activity_uri = $1"
        " AND state = 'released')",
        activity_uri,
    )


async def list_held(db: Executor, page: Page) -> list[asyncpg.Record]:
    """Activities awaiting review, newest first."""
    where, args = page.where("id", 2)
    rows = await db.fetch(
        f"""
        SELECT * FROM held_activities
        WHERE state = 'held' AND {where}
        ORDER BY {page.order("id")}
        LIMIT $1
        """,
        page.limit,
        *args,
    )
    return page.newest_first(rows)


async def resolve_held(
    conn: Conn, held_id: int, state: str, by: int | None
) -> asyncpg.Record | None:
    """Mark a held activity released or discarded; None when it is not (or no longer) held."""
    return await conn.fetchrow(
        """
        UPDATE held_activities SET state = $2, resolved_at = now(), resolved_by = $3
        WHERE id = $1 AND state = 'held'
        RETURNING *
        """,
        held_id,
        state,
        by,
    )


async def reopen_inbox_activity(conn: Conn, activity_uri: str) -> int | None:
    """Make a processed inbox activity pending again (a released hold); returns its id."""
    return await conn.fetchval(
        """
        UPDATE inbox_activities SET processed_at = NULL, outcome = NULL
        WHERE activity_uri = $1
        RETURNING id
        """,
        activity_uri,
    )


async def set_inbox_outcome(conn: Conn, activity_uri: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE inbox_activities SET outcome = $2, processed_at = now() WHERE activity_uri = $1",
        activity_uri,
        outcome,
    )


# -- what the pipeline asks about accounts ---------------------------------------------------------


async def account_standing(db: Executor, actor_uri: str) -> asyncpg.Record | None:
    """When Kith first saw a remote actor (`created_at`) and how many local accounts follow it."""
    return await db.fetchrow(
        """
        SELECT a.id, a.created_at, a.followers_url,
            (SELECT count(*) FROM follows f JOIN accounts l ON l.id = f.account_id
             WHERE f.target_account_id = a.id AND l.domain IS NULL) AS local_followers
        FROM accounts a WHERE a.uri = $1
        """,
        actor_uri,
    )


async def local_accounts_among(db: Executor, uris: list[str]) -> int:
    """How many of `uris` (actor ids or profile URLs) are local accounts."""
    if not uris:
        return 0
    return await db.fetchval(
        """
        SELECT count(*) FROM accounts
        WHERE domain IS NULL AND (uri = ANY($1::text[]) OR url = ANY($1::text[]))
        """,
        uris,
    )


# -- publication ----------------------------------------------------------------------------------

PUBLISH_SETTING = "publish_mrf_policies"


async def set_publication(db: Executor, publish: bool) -> None:
    await db.execute(
        """
        INSERT INTO instance_settings (key, value) VALUES ($1, to_jsonb($2::boolean))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()
        """,
        PUBLISH_SETTING,
        publish,
    )


async def publication(db: Executor) -> bool:
    """Whether NodeInfo lists the active policies (unset: yes, as Pleroma does by default)."""
    value = await db.fetchval("SELECT value FROM instance_settings WHERE key = $1", PUBLISH_SETTING)
    return value is not False
