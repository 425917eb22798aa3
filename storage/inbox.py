"""Activities received by inboxes: stored before the 202, processed later by the worker.

`activity_uri` is unique, so a redelivered activity is recognised by the INSERT itself and never
stored (or processed) twice.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from storage.db import Executor


async def insert_activity(
    db: Executor,
    *,
    activity_uri: str,
    actor_uri: str,
    signer_key_id: str | None,
    type: str,
    payload: dict[str, Any],
    outcome: str | None = None,
) -> int | None:
    """Store an activity; None when one with the same id was already stored.

    An `outcome` given here marks it as already decided (refused at the door), with
    `processed_at` set, so the worker never sees it.
    """
    return await db.fetchval(
        """
        INSERT INTO inbox_activities (activity_uri, actor_uri, signer_key_id, type, payload,
                                      outcome, processed_at)
        VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6::text IS NULL THEN NULL ELSE now() END)
        ON CONFLICT (activity_uri) DO NOTHING
        RETURNING id
        """,
        activity_uri,
        actor_uri,
        signer_key_id,
        type,
        payload,
        outcome,
    )


async def accept_activity(
    db: Executor,
    *,
    activity_uri: str,
    actor_uri: str,
    signer_key_id: str | None,
    type: str,
    payload: dict[str, Any],
    queue: str,
) -> int | None:
    """Store an activity and queue a job `{"inbox_activity_id": id}` on `queue` to process it,
    in one statement: atomic without a transaction block, and one round trip on the inbox's hot
    path. None (and no job) when one with the same id was already stored."""
    return await db.fetchval(
        """
        WITH stored AS (
            INSERT INTO inbox_activities (activity_uri, actor_uri, signer_key_id, type, payload)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (activity_uri) DO NOTHING
            RETURNING id
        ), queued AS (
            INSERT INTO jobs (queue, payload)
            SELECT $6, jsonb_build_object('inbox_activity_id', id) FROM stored
        )
        SELECT id FROM stored
        """,
        activity_uri,
        actor_uri,
        signer_key_id,
        type,
        payload,
        queue,
    )


async def get_activity(db: Executor, activity_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM inbox_activities WHERE id = $1", activity_id)


async def get_activity_by_uri(db: Executor, activity_uri: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM inbox_activities WHERE activity_uri = $1", activity_uri)


async def record_outcome(db: Executor, activity_id: int, outcome: str) -> None:
    await db.execute(
        "UPDATE inbox_activities SET outcome = $2, processed_at = now() WHERE id = $1",
        activity_id,
        outcome,
    )
