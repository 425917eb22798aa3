"""Instance-wide domain blocks and allows: what an admin (API or CLI) does, and its effects.

Each change is written with its audit entry and its effects in one transaction, so a suspension
is never half applied. What a block does to the domain's accounts:

- suspend: follows and follow requests between local accounts and the domain's end both ways
  (no Undo is sent: the gate would drop it anyway), its statuses leave every home feed and are
  marked deleted, its accounts are marked suspended, and deliveries already queued for it are
  given up;
- silence: its accounts are marked silenced (public timelines leave them out);
- noop: nothing beyond the flags (reject_media, reject_reports), which callers read from
  `federation.gate`.

Accounts are stamped with the block's `updated_at`, so lifting or changing a block clears
exactly the limitations it set and leaves accounts limited on their own alone. Refusing what the
domain sends later is the gate's job, not this module's.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from federation.services.errors import invalid, not_found
from storage import audit, home_feed
from storage import domain_blocks as store
from storage import follows as follow_store

SEVERITIES = ("noop", "silence", "suspend")
MAX_COMMENT = 1000
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def normalize_domain(text: str) -> str:
    """`text` as a lower-case ASCII host name; `ServiceError` 422 when it is not one."""
    domain = text.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid("Domain is not a valid domain name") from None
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise invalid("Domain is not a valid domain name")
    return domain


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if "severity" in fields and fields["severity"] not in SEVERITIES:
        raise invalid("Severity is not included in the list")
    for name in ("public_comment", "private_comment"):
        if len(fields.get(name) or "") > MAX_COMMENT:
            raise invalid(f"{name.replace('_', ' ').capitalize()} is too long")
    return fields


async def create_block(
    pool: asyncpg.Pool,
    domain: str,
    fields: dict[str, Any],
    *,
    actor_id: int | None,
    reason: str = "",
) -> asyncpg.Record:
    """Block `domain` (severity and flags in `fields`); 422 when it is already blocked."""
    domain = normalize_domain(domain)
    check_fields(fields)
    async with pool.acquire() as conn, conn.transaction():
        block = await store.insert_block(conn, domain, fields)
        if block is None:
            raise invalid("Domain has already been taken")
        await _apply(conn, block, on=True)
        await _record(conn, "domain_block.create", block, actor_id, reason)
    return block


async def update_block(
    pool: asyncpg.Pool,
    block_id: int,
    fields: dict[str, Any],
    *,
    actor_id: int | None,
    reason: str = "",
) -> asyncpg.Record:
    check_fields(fields)
    async with pool.acquire() as conn, conn.transaction():
        old = await _lock(conn, block_id)
        await _apply(conn, old, on=False)
        block = await store.update_block(conn, block_id, fields)
        await _apply(conn, block, on=True)
        await _record(conn, "domain_block.update", block, actor_id, reason)
    return block


async def delete_block(
    pool: asyncpg.Pool, block_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        block = await _lock(conn, block_id)
        await _apply(conn, block, on=False)
        await store.delete_block(conn, block_id)
        await _record(conn, "domain_block.destroy", block, actor_id, reason)
    return block


async def upsert_block(
    pool: asyncpg.Pool,
    domain: str,
    fields: dict[str, Any],
    *,
    actor_id: int | None,
    reason: str = "",
) -> str:
    """Create or update the block on `domain` (imports are idempotent): "created", "updated" or
    "unchanged"."""
    domain = normalize_domain(domain)
    existing = await store.get_block_by_domain(pool, domain)
    if existing is None:
        await create_block(pool, domain, fields, actor_id=actor_id, reason=reason)
        return "created"
    if all(existing[name] == value for name, value in fields.items()):
        return "unchanged"
    await update_block(pool, existing["id"], fields, actor_id=actor_id, reason=reason)
    return "updated"


async def create_allow(
    pool: asyncpg.Pool, domain: str, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    domain = normalize_domain(domain)
    async with pool.acquire() as conn, conn.transaction():
        allow = await store.insert_allow(conn, domain)
        if allow is None:
            raise invalid("Domain has already been taken")
        await audit.record(
            conn,
            actor_id=actor_id,
            action="domain_allow.create",
            target_type="domain",
            target_id=domain,
            reason=reason,
        )
    return allow


async def delete_allow(
    pool: asyncpg.Pool, allow_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        allow = await store.get_allow(conn, allow_id)
        if allow is None:
            raise not_found()
        await store.delete_allow(conn, allow_id)
        await audit.record(
            conn,
            actor_id=actor_id,
            action="domain_allow.destroy",
            target_type="domain",
            target_id=allow["domain"],
            reason=reason,
        )
    return allow


async def _lock(conn: asyncpg.Connection, block_id: int) -> asyncpg.Record:
    block = await store.lock_block(conn, block_id)
    if block is None:
        raise not_found()
    return block


async def _apply(conn: asyncpg.Connection, block: asyncpg.Record, *, on: bool) -> None:
    """Put on (or lift) the limitations `block` sets on the accounts of its domain."""
    domain, since = block["domain"], block["updated_at"]
    if block["severity"] == "silence":
        await store.set_limitation(conn, domain, "silenced_at", on, since)
    if block["severity"] != "suspend":
        return
    await store.set_limitation(conn, domain, "suspended_at", on, since)
    if not on:
        return
    for row in await store.follows_across(conn, domain):
        follower, followed = row["account_id"], row["target_account_id"]
        await follow_store.delete_follow(conn, follower, followed)
        await follow_store.delete_follow_request(conn, follower, followed)
        await home_feed.remove_author(conn, follower, followed)
    await store.forget_statuses(conn, domain)
    await store.cancel_deliveries(conn, domain)


async def _record(
    conn: asyncpg.Connection,
    action: str,
    block: asyncpg.Record,
    actor_id: int | None,
    reason: str,
) -> None:
    await audit.record(
        conn,
        actor_id=actor_id,
        action=action,
        target_type="domain",
        target_id=block["domain"],
        detail={name: block[name] for name in store.BLOCK_FIELDS},
        reason=reason,
    )
