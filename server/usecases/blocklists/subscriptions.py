"""What an admin does with block-list subscriptions (API or CLI): subscribe, change, unsubscribe,
and approve or reject the changes a review-mode subscription holds.

Every action is audited in its transaction (target type `blocklist_subscription`), and every
block it causes is audited by `server.usecases.domain_blocks.reconcile`.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from federation.blocklists.fetch import url_problem
from federation.domains import SEVERITIES
from federation.errors import invalid, not_found
from server.usecases import domain_blocks as blocks
from server.usecases.blocklists import changes as held
from storage import audit, jobs
from storage import blocklist_subscriptions as store
from storage.db import Conn, MissingRow

QUEUE = "blocklist_refresh"
MODES = ("auto", "review")
MAX_INTERVAL_HOURS = 8760
DEFAULT_SETTINGS: dict[str, Any] = {"max_severity": "suspend", "mode": "auto", "interval_hours": 24}


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings given (any of max_severity, mode, interval_hours); 422 when one is bad."""
    if "max_severity" in settings and settings["max_severity"] not in SEVERITIES:
        raise invalid("Max severity must be one of noop, silence, suspend")
    if "mode" in settings and settings["mode"] not in MODES:
        raise invalid("Mode must be auto or review")
    if "interval_hours" in settings:
        hours = settings["interval_hours"]
        if not isinstance(hours, int) or isinstance(hours, bool):
            raise invalid("Interval hours must be a whole number")
        if not 1 <= hours <= MAX_INTERVAL_HOURS:
            raise invalid(f"Interval hours must be between 1 and {MAX_INTERVAL_HOURS}")
    return settings


async def schedule(conn: Conn, subscription_id: int, token: str, run_at: Any) -> None:
    """Queue the refresh job carrying `token` (the subscription's current one) at `run_at`."""
    payload = {"subscription_id": subscription_id, "token": token}
    await jobs.enqueue(conn, QUEUE, payload, run_at=run_at)


async def subscribe(
    pool: asyncpg.Pool,
    url: str,
    settings: dict[str, Any],
    *,
    actor_id: int | None,
    allow_http: bool,
    reason: str = "",
) -> asyncpg.Record:
    """Subscribe to the list at `url`; its first refresh is queued to run at once."""
    url = url.strip()
    problem = url_problem(url, allow_http=allow_http)
    if problem is not None:
        raise invalid(problem)
    settings = check_settings({**DEFAULT_SETTINGS, **settings})
    token = secrets.token_hex(8)
    async with pool.acquire() as conn, conn.transaction():
        row = await store.insert_subscription(conn, url, settings, token)
        if row is None:
            raise invalid("URL is already subscribed")
        await schedule(conn, row["id"], token, row["next_refresh_at"])
        await _record(conn, "blocklist.subscribe", row, actor_id, reason, settings)
    return await _with_counts(pool, row["id"])


async def update(
    pool: asyncpg.Pool,
    subscription_id: int,
    settings: dict[str, Any],
    *,
    actor_id: int | None,
    reason: str = "",
) -> asyncpg.Record:
    """Change a subscription's settings, with their effects at once: a new cap recomputes its
    blocks, a new interval restarts the schedule from now, and switching to auto mode applies
    the changes it held (pending and rejected: auto mode follows the list)."""
    check_settings(settings)
    async with pool.acquire() as conn, conn.transaction():
        old = await _lock(conn, subscription_id)
        row = await store.update_settings(conn, subscription_id, settings)
        if row["max_severity"] != old["max_severity"]:
            domains = [entry["domain"] for entry in await store.entries(conn, subscription_id)]
            await _reconcile(conn, row, domains, actor_id)
        if row["interval_hours"] != old["interval_hours"]:
            token = secrets.token_hex(8)
            rescheduled = await store.reschedule(conn, subscription_id, None, token)
            if rescheduled is None:  # without an old token to match, only a missing row
                raise MissingRow(f"blocklist subscription {subscription_id} gone while locked")
            row = rescheduled
            await schedule(conn, subscription_id, token, row["next_refresh_at"])
        if row["mode"] == "auto" and old["mode"] == "review":
            queued = [held.as_change(c) for c in await store.changes(conn, subscription_id)]
            await held.apply_changes(conn, row, queued, actor_id=actor_id)
            await store.clear_changes(conn, subscription_id)
        await _record(conn, "blocklist.update", row, actor_id, reason, settings)
    return await _with_counts(pool, subscription_id)


async def unsubscribe(
    pool: asyncpg.Pool, subscription_id: int, *, actor_id: int | None, reason: str = ""
) -> dict[str, int]:
    """Delete the subscription and retract the blocks only it made; the reconcile counts."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, subscription_id)
        domains = await store.delete_subscription(conn, subscription_id)
        counts = await _reconcile(conn, row, domains, actor_id)
        await _record(conn, "blocklist.unsubscribe", row, actor_id, reason, counts)
    return counts


async def approve(
    pool: asyncpg.Pool,
    subscription_id: int,
    change_id: int,
    *,
    actor_id: int | None,
    reason: str = "",
) -> dict[str, int]:
    """Apply a held change (pending, or rejected before) to the subscription's entries."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, subscription_id)
        change = await store.lock_change(conn, subscription_id, change_id)
        if change is None:
            raise not_found()
        await store.delete_changes(conn, [change_id])
        counts = await held.apply_changes(
            conn, row, [held.as_change(change)], actor_id=actor_id, detail={"approved": True}
        )
        await _record_change(conn, "blocklist.approve", row, change, actor_id, reason)
    return counts


async def reject(
    pool: asyncpg.Pool,
    subscription_id: int,
    change_id: int,
    *,
    actor_id: int | None,
    reason: str = "",
) -> None:
    """Keep a pending change from being applied (until the list changes that domain again)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, subscription_id)
        change = await store.lock_change(conn, subscription_id, change_id)
        if change is None:
            raise not_found()
        if change["state"] == "rejected":
            raise invalid("Change has already been rejected")
        await store.reject_change(conn, change_id)
        await _record_change(conn, "blocklist.reject", row, change, actor_id, reason)


async def _with_counts(pool: asyncpg.Pool, subscription_id: int) -> asyncpg.Record:
    """The subscription as the API shows it, read once its change is committed; 404 when an
    unsubscribe removed it meanwhile."""
    row = await store.get_subscription(pool, subscription_id)
    if row is None:
        raise not_found()
    return row


async def _lock(conn: Conn, subscription_id: int) -> asyncpg.Record:
    row = await store.lock_subscription(conn, subscription_id)
    if row is None:
        raise not_found()
    return row


async def _reconcile(
    conn: Conn, row: asyncpg.Record, domains: list[str], actor_id: int | None
) -> dict[str, int]:
    return await blocks.reconcile(conn, domains, actor_id=actor_id, cause=held.cause(row))


async def _record(
    conn: Conn,
    action: str,
    row: asyncpg.Record,
    actor_id: int | None,
    reason: str,
    detail: dict[str, Any],
) -> None:
    await audit.record(
        conn,
        actor_id=actor_id,
        action=action,
        target_type="blocklist_subscription",
        target_id=row["id"],
        detail={"url": row["url"], **detail},
        reason=reason,
    )


async def _record_change(
    conn: Conn,
    action: str,
    row: asyncpg.Record,
    change: asyncpg.Record,
    actor_id: int | None,
    reason: str,
) -> None:
    detail = {
        "change_id": str(change["id"]),
        "domain": change["domain"],
        "change": change["action"],
    }
    if change["action"] != "remove":
        detail["severity"] = change["severity"]
    await _record(conn, action, row, actor_id, reason, detail)
