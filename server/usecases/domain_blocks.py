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

Blocks have an origin: `local` (an admin's) or `subscription` (derived from block-list
subscriptions by `reconcile`, from their entries, whenever a subscription, an allow or a local
block changes). Both kinds go through `put_block`, so a subscription's suspension has exactly
the effects of an admin's. A subscription never changes or removes a local block; a local allow
on a domain or a parent keeps subscriptions from blocking it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from federation.domains import MAX_COMMENT, SEVERITIES, normalize_domain
from federation.errors import invalid, not_found
from storage import audit, home_feed
from storage import blocklist_subscriptions as list_store
from storage import domain_blocks as store
from storage import follows as follow_store
from storage.db import Conn, MissingRow

FLAGS = ("reject_media", "reject_reports", "obfuscate")
# What a new block has unless told otherwise (as in the table's defaults).
DEFAULT_FIELDS: dict[str, Any] = {
    "severity": "silence",
    **dict.fromkeys(FLAGS, False),
    "public_comment": "",
    "private_comment": "",
}


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
    """Block `domain` (severity and flags in `fields`); 422 when it already has a local block.

    A block a subscription made on `domain` becomes the admin's own, with `fields` over the
    defaults: no subscription changes or removes it from then on."""
    domain = normalize_domain(domain)
    check_fields(fields)
    async with pool.acquire() as conn, conn.transaction():
        await store.serialize_writes(conn)
        existing = await store.lock_block_by_domain(conn, domain)
        if existing is not None and existing["origin"] == "local":
            raise invalid("Domain has already been taken")
        if existing is not None:
            fields = {**DEFAULT_FIELDS, **fields}
        block = await put_block(conn, existing, domain, fields, origin="local")
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
    """Change a block; one a subscription made becomes local (the admin's decision now)."""
    check_fields(fields)
    async with pool.acquire() as conn, conn.transaction():
        await store.serialize_writes(conn)
        old = await _lock(conn, block_id)
        block = await put_block(conn, old, old["domain"], fields, origin="local")
        await _record(conn, "domain_block.update", block, actor_id, reason)
    return block


async def delete_block(
    pool: asyncpg.Pool, block_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    """Lift a local block; a subscription that lists the domain then blocks it again.

    A block a subscription made cannot be deleted (the next refresh would bring it back): 422,
    pointing to a domain allow or the subscription instead."""
    async with pool.acquire() as conn, conn.transaction():
        await store.serialize_writes(conn)
        block = await _lock(conn, block_id)
        if block["origin"] != "local":
            raise invalid(
                "Domain block comes from a block-list subscription; "
                "allow the domain or change the subscription instead"
            )
        await _apply(conn, block, on=False)
        await store.delete_block(conn, block_id)
        await _record(conn, "domain_block.destroy", block, actor_id, reason)
        await reconcile(
            conn, [block["domain"]], actor_id=actor_id, cause={"after": "domain_block.destroy"}
        )
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
    "unchanged". A subscription's block on it becomes local ("updated")."""
    domain = normalize_domain(domain)
    existing = await store.get_block_by_domain(pool, domain)
    if existing is None:
        await create_block(pool, domain, fields, actor_id=actor_id, reason=reason)
        return "created"
    if existing["origin"] == "local" and all(
        existing[name] == value for name, value in fields.items()
    ):
        return "unchanged"
    await update_block(pool, existing["id"], fields, actor_id=actor_id, reason=reason)
    return "updated"


async def put_block(
    conn: Conn,
    existing: asyncpg.Record | None,
    domain: str,
    fields: dict[str, Any],
    *,
    origin: str,
) -> asyncpg.Record:
    """Create the block on `domain`, or replace `existing` (its effects lifted first), and put
    its effects on: the one implementation behind admins' and subscriptions' blocks. Call it
    inside a transaction that holds `store.serialize_writes`."""
    if existing is None:
        inserted = await store.insert_block(conn, domain, fields, origin=origin)
        if inserted is None:  # only another writer could have blocked it: serialize_writes
            raise MissingRow(f"a block on {domain} appeared under serialize_writes")
        block = inserted
    else:
        await _apply(conn, existing, on=False)
        block = await store.update_block(conn, existing["id"], fields, origin=origin)
    await _apply(conn, block, on=True)
    return block


async def reconcile(
    conn: Conn,
    domains: Iterable[str],
    *,
    actor_id: int | None = None,
    cause: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Make the subscription-made blocks on `domains` what the subscriptions' entries say now.

    For each domain: a local block is left alone; an allow on it or a parent, or no entry left,
    retracts the subscription's block (`blocklist.retract`); otherwise the entries combine into
    one block (`blocklist.apply`): the strongest capped severity, any entry's flags, the
    strongest entry's comment. `cause` (e.g. the subscription) goes into each audit entry.
    Returns how many blocks were applied and retracted."""
    counts = {"applied": 0, "retracted": 0}
    domains = sorted(set(domains))
    if not domains:
        return counts
    await store.serialize_writes(conn)
    wanted = _combine(await list_store.effective_entries(conn, domains))
    allows = {row["domain"] for row in await store.list_allows(conn)}
    current = {row["domain"]: row for row in await store.blocks_on(conn, domains)}
    for domain in domains:
        block = current.get(domain)
        if block is not None and block["origin"] == "local":
            continue
        fields, sources = wanted.get(domain, (None, []))
        if fields is None or allows.intersection(store.suffixes(domain)):
            if block is not None:
                await _apply(conn, block, on=False)
                await store.delete_block(conn, block["id"])
                extra = {**(cause or {}), "subscriptions": sources}
                await _record(conn, "blocklist.retract", block, actor_id, "", extra)
                counts["retracted"] += 1
            continue
        if block is not None and all(block[name] == value for name, value in fields.items()):
            continue
        new = await put_block(conn, block, domain, fields, origin="subscription")
        extra = {
            **(cause or {}),
            "subscriptions": sources,
            "previous_severity": block["severity"] if block else None,
        }
        await _record(conn, "blocklist.apply", new, actor_id, "", extra)
        counts["applied"] += 1
    return counts


def _combine(rows: list[asyncpg.Record]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Entries (ordered by domain) → per domain, the block fields and the subscription ids."""
    grouped: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        grouped.setdefault(row["domain"], []).append(row)
    combined: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for domain, entries in grouped.items():
        strongest = max(entries, key=lambda e: SEVERITIES.index(e["capped_severity"]))
        fields = {
            "severity": strongest["capped_severity"],
            "public_comment": strongest["public_comment"],
            **{flag: any(e[flag] for e in entries) for flag in FLAGS},
        }
        combined[domain] = (fields, sorted(str(e["subscription_id"]) for e in entries))
    return combined


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
        # A local allow overrides subscriptions: their blocks on it and below are retracted.
        await reconcile(
            conn,
            await store.subscription_blocks_under(conn, domain),
            actor_id=actor_id,
            cause={"after": "domain_allow.create"},
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
        await reconcile(
            conn,
            await list_store.entry_domains_under(conn, allow["domain"]),
            actor_id=actor_id,
            cause={"after": "domain_allow.destroy"},
        )
    return allow


async def _lock(conn: Conn, block_id: int) -> asyncpg.Record:
    block = await store.lock_block(conn, block_id)
    if block is None:
        raise not_found()
    return block


async def _apply(conn: Conn, block: asyncpg.Record, *, on: bool) -> None:
    """Put on (or lift) the limitations `block` sets on the accounts of its domain. Media a
    `reject_media` block dropped stays dropped when it is lifted (as in Mastodon): accounts get
    their avatars back with their next update."""
    domain, since = block["domain"], block["updated_at"]
    if on and block["reject_media"]:
        await store.drop_media(conn, domain)
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
    conn: Conn,
    action: str,
    block: asyncpg.Record,
    actor_id: int | None,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        conn,
        actor_id=actor_id,
        action=action,
        target_type="domain",
        target_id=block["domain"],
        detail={**{name: block[name] for name in store.BLOCK_FIELDS}, **(extra or {})},
        reason=reason,
    )
