"""Applying a list's changes to a subscription's entries (auto mode, or an approval), and
holding them for review (review mode). Both run inside the caller's transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.blocklists.diff import Change, entry_fields
from server.usecases import domain_blocks as blocks
from storage import blocklist_subscriptions as store
from storage.db import Conn


def cause(subscription: asyncpg.Record, **extra: Any) -> dict[str, Any]:
    """The audit detail naming the subscription behind a block change."""
    return {"subscription_id": str(subscription["id"]), "url": subscription["url"], **extra}


async def apply_changes(
    conn: Conn,
    subscription: asyncpg.Record,
    changes: list[Change],
    *,
    actor_id: int | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Make the changes to the entries and recompute the effective blocks on their domains."""
    await store.put_entries(
        conn,
        subscription["id"],
        [(c.domain, c.fields) for c in changes if c.action != "remove"],
    )
    await store.delete_entries(
        conn, subscription["id"], [c.domain for c in changes if c.action == "remove"]
    )
    return await blocks.reconcile(
        conn,
        [c.domain for c in changes],
        actor_id=actor_id,
        cause=cause(subscription, **(detail or {})),
    )


async def queue_changes(conn: Conn, subscription_id: int, changes: list[Change]) -> None:
    """Make the held changes exactly `changes`: an identical held one (pending or rejected)
    stays as it is, so a rejection holds until the list changes that domain again."""
    held = {row["domain"]: row for row in await store.changes(conn, subscription_id)}
    wanted = {change.domain: change for change in changes}
    stale = [
        row["id"]
        for domain, row in held.items()
        if domain not in wanted or not _same(row, wanted[domain])
    ]
    await store.delete_changes(conn, stale)
    kept = {domain for domain, row in held.items() if row["id"] not in stale}
    await store.insert_changes(
        conn,
        subscription_id,
        [(c.domain, c.action, c.fields) for c in changes if c.domain not in kept],
    )


def as_change(row: asyncpg.Record) -> Change:
    """A held change as a `Change`."""
    fields = {} if row["action"] == "remove" else entry_fields(row)
    return Change(row["domain"], row["action"], fields)


def _same(row: asyncpg.Record, change: Change) -> bool:
    return as_change(row) == change
