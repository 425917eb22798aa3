"""Refreshing a subscription: fetch its list, then apply what changed (auto mode) or hold it for
review (review mode), and the job that does so on each subscription's schedule.

A list that cannot be fetched, or is malformed, changes nothing but the subscription's
`last_error` and `last_fetched_at`: the last good copy stays in force. So does a list that
suddenly has no entry at all after having some (a truncated or replaced file is likelier than
a list emptied on purpose; an admin who means it unsubscribes). Large drops are applied.

The schedule is a chain of `blocklist_refresh` jobs: each job first queues the next one (one
interval later) with a new token, then refreshes. A job whose token is no longer the
subscription's (the subscription was deleted, its interval changed, or the job ran twice after
a crash) does nothing, so there is never more than one chain per subscription.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import asyncpg

from federation.blocklists.diff import diff, entry_fields
from federation.blocklists.fetch import ListFetchError, fetch_list
from federation.blocklists.parse import MalformedList, ParsedList, parse_list
from federation.context import Federation
from federation.errors import not_found
from server.usecases.blocklists.changes import apply_changes, queue_changes
from server.usecases.blocklists.subscriptions import QUEUE, schedule
from storage import blocklist_subscriptions as store
from storage.job_handlers import Registry

log = logging.getLogger(__name__)


async def refresh(fed: Federation, subscription_id: int) -> asyncpg.Record:
    """Fetch the list now and take it; the subscription afterwards, with its counts. What the
    list changes is audited as automatic (actor none), whoever asked for the refresh."""
    row = await store.get_subscription(fed.pool, subscription_id)
    if row is None:
        raise not_found()
    try:
        body, content_type = await fetch_list(fed, row["url"])
        parsed = parse_list(body, content_type)
    except (ListFetchError, MalformedList) as exc:
        log.warning("block list %s (%s): %s", subscription_id, row["url"], exc)
        await store.record_failure(fed.pool, subscription_id, str(exc))
    else:
        await _take(fed.pool, subscription_id, parsed)
    row = await store.get_subscription(fed.pool, subscription_id)
    if row is None:
        raise not_found()
    return row


async def _take(pool: asyncpg.Pool, subscription_id: int, parsed: ParsedList) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await store.lock_subscription(conn, subscription_id)
        if row is None:
            return  # unsubscribed while the list was being fetched
        current = {e["domain"]: entry_fields(e) for e in await store.entries(conn, row["id"])}
        had = max(len(current), row["listed_count"])
        if not parsed.entries and had:
            await store.record_failure(
                conn,
                row["id"],
                f"the list has no entries any more (it had {had}); keeping the last good copy",
            )
            return
        found = diff(current, parsed.entries)
        if row["mode"] == "auto":
            await apply_changes(conn, row, found, actor_id=None)
            await store.clear_changes(conn, row["id"])
        else:
            await queue_changes(conn, row["id"], found)
        await store.record_success(conn, row["id"], parsed.summary())


async def run_scheduled(fed: Federation, payload: dict[str, Any]) -> None:
    """The `blocklist_refresh` job: queue the next run, then refresh."""
    subscription_id, token = payload["subscription_id"], payload["token"]
    async with fed.pool.acquire() as conn, conn.transaction():
        new_token = secrets.token_hex(8)
        row = await store.reschedule(conn, subscription_id, token, new_token)
        if row is None:
            return
        await schedule(conn, subscription_id, new_token, row["next_refresh_at"])
    await refresh(fed, subscription_id)


def register(registry: Registry) -> None:
    """Register the refresh job. One attempt: the next run is already queued when it fails."""
    registry.register(QUEUE, run_scheduled, max_attempts=1)
