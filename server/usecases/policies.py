"""What an admin does to the pipeline (the admin API and `kith policy` alike): configure
policies, and release or discard held activities. Each change is written with its audit entry in
one transaction; a configuration is checked against its kind's JSON Schema
(`schemas/policies/<kind>.json`) and the kind's own checks (a regular expression must compile)
before it is stored, so the pipeline never meets a bad one."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.errors import invalid, not_found
from federation.inbox.receive import QUEUE as INBOX_QUEUE
from federation.policies.kinds import KINDS
from storage import audit, jobs
from storage import policies as store
from storage.db import Conn

MAX_POSITION = 10_000


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise invalid(f"unknown policy kind {kind!r} (known: {', '.join(sorted(KINDS))})")


def check_config(kind: str, config: Any) -> dict[str, Any]:
    """`config` when it is valid for `kind`; a 422 `KithError` saying what is wrong."""
    check_kind(kind)
    policy_kind = KINDS[kind]
    try:
        policy_kind.validate(config)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return config


def _check_position(position: int | None) -> None:
    if position is not None and not 1 <= position <= MAX_POSITION:
        raise invalid(f"position must be between 1 and {MAX_POSITION}")


async def create_policy(
    pool: asyncpg.Pool,
    kind: str,
    config: Any,
    *,
    position: int | None = None,
    enabled: bool = True,
    dry_run: bool = False,
    actor_id: int | None,
    reason: str = "",
) -> asyncpg.Record:
    check_config(kind, config)
    _check_position(position)
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_order(conn)
        policy = await store.insert_policy(
            conn, kind=kind, config=config, position=position, enabled=enabled, dry_run=dry_run
        )
        await _record(conn, "policy.create", policy, actor_id, reason)
    return policy


async def update_policy(
    pool: asyncpg.Pool,
    policy_id: int,
    fields: dict[str, Any],
    *,
    actor_id: int | None,
    reason: str = "",
) -> asyncpg.Record:
    """Change any of `config`, `enabled`, `dry_run` and `position` (those in `fields`)."""
    _check_position(fields.get("position"))
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_order(conn)
        policy = await store.get_policy(conn, policy_id)
        if policy is None:
            raise not_found()
        if "config" in fields:
            check_config(policy["kind"], fields["config"])
        if fields.get("position") is not None:
            await store.move_policy(conn, policy_id, fields["position"])
        updated = await store.update_policy(conn, policy_id, fields)
        if updated is None:
            raise not_found()
        policy = updated
        await _record(conn, "policy.update", policy, actor_id, reason)
    return policy


async def delete_policy(
    pool: asyncpg.Pool, policy_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_order(conn)
        policy = await store.delete_policy(conn, policy_id)
        if policy is None:
            raise not_found()
        await _record(conn, "policy.destroy", policy, actor_id, reason)
    return policy


async def release(
    pool: asyncpg.Pool, held_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    """Let a held activity through: it is queued for the inbox worker again, and the pipeline
    (which remembers the release) no longer holds it; the other policies still apply."""
    async with pool.acquire() as conn, conn.transaction():
        held = await store.resolve_held(conn, held_id, "released", actor_id)
        if held is None:
            raise not_found()
        inbox_id = await store.reopen_inbox_activity(conn, held["activity_uri"])
        if inbox_id is not None:
            await jobs.enqueue(conn, INBOX_QUEUE, {"inbox_activity_id": inbox_id})
        await _record_held(conn, "policy.release", held, actor_id, reason)
    return held


async def discard(
    pool: asyncpg.Pool, held_id: int, *, actor_id: int | None, reason: str = ""
) -> asyncpg.Record:
    """Drop a held activity for good: nothing of it is stored."""
    async with pool.acquire() as conn, conn.transaction():
        held = await store.resolve_held(conn, held_id, "discarded", actor_id)
        if held is None:
            raise not_found()
        await store.set_inbox_outcome(conn, held["activity_uri"], "refused: discarded on review")
        await _record_held(conn, "policy.discard", held, actor_id, reason)
    return held


async def set_publication(
    pool: asyncpg.Pool, publish: bool, *, actor_id: int | None, reason: str = ""
) -> None:
    """Whether NodeInfo lists the active policies."""
    async with pool.acquire() as conn, conn.transaction():
        await store.set_publication(conn, publish)
        await audit.record(
            conn,
            actor_id=actor_id,
            action="policy.publication",
            target_type="setting",
            target_id=store.PUBLISH_SETTING,
            detail={"publish": publish},
            reason=reason,
        )


async def _record(
    conn: Conn, action: str, policy: asyncpg.Record, actor_id: int | None, reason: str
) -> None:
    await audit.record(
        conn,
        actor_id=actor_id,
        action=action,
        target_type="policy",
        target_id=policy["id"],
        detail={
            "kind": policy["kind"],
            "config": policy["config"],
            "position": policy["position"],
            "enabled": policy["enabled"],
            "dry_run": policy["dry_run"],
        },
        reason=reason,
    )


async def _record_held(
    conn: Conn, action: str, held: asyncpg.Record, actor_id: int | None, reason: str
) -> None:
    await audit.record(
        conn,
        actor_id=actor_id,
        action=action,
        target_type="activity",
        target_id=held["activity_uri"],
        detail={"actor": held["actor_uri"], "policy": held["policy_kind"]},
        reason=reason,
    )
