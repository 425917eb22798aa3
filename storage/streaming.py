"""Live streaming's SQL: the LISTEN connection and the checks of who may receive a status.

The triggers of migrations 0010 and 0012 announce changes on `CHANNEL` (see those files for the
payloads); `listen` opens the one connection per process that receives them. Who may see a
status on a stream is the timelines' own predicate (`storage.timelines`: readable, author not
suspended, muted or on a domain the viewer blocked; silenced authors left out of public
streams), checked for all of a process's subscribers at once. Whether a stream may stay open at
all is `live_tokens`, asked when a stream opens and after the LISTEN connection was lost
(migration 0012 announces revocations as they happen).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from storage.db import Conn, Executor
from storage.statuses import STATUS_COLUMNS
from storage.timelines import shown_to

CHANNEL = "kith_stream"


async def listen(
    dsn: str,
    on_payload: Callable[[str], None],
    on_lost: Callable[[], None],
) -> Conn:
    """A connection LISTENing on `CHANNEL`, calling `on_payload` with each payload and
    `on_lost` if the connection ends."""
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: on_payload(payload))
    conn.add_termination_listener(lambda _conn: on_lost())
    return conn


def announced_ids(text: str) -> list[int]:
    """The ids in a payload's comma-separated list (the triggers' `string_agg` of ids)."""
    return [int(part) for part in text.split(",") if part]


async def stream_statuses(db: Executor, status_ids: list[int]) -> list[asyncpg.Record]:
    """The statuses (deleted ones too) with the lower-cased names of their tags and whether
    they carry media."""
    return await db.fetch(
        f"""
        SELECT {STATUS_COLUMNS},
               ARRAY(SELECT lower(t.name) FROM statuses_tags st JOIN tags t ON t.id = st.tag_id
                     WHERE st.status_id = s.id) AS tag_names,
               EXISTS (SELECT 1 FROM media_attachments ma WHERE ma.status_id = s.id) AS has_media
        FROM statuses s WHERE s.id = ANY($1::bigint[])
        """,
        status_ids,
    )


async def viewers_shown(
    db: Executor, status_id: int, viewer_ids: list[int], *, public: bool
) -> set[int]:
    """Those of `viewer_ids` who may see the status (and its boosted original) on a stream.

    A status deleted since counts as not deleted, so that the same check says who was sent it
    and must now be told of its deletion. `public` also leaves out silenced authors, as the
    public timelines do.
    """
    if not viewer_ids:
        return set()
    rows = await db.fetch(
        f"""
        SELECT v.id
        FROM unnest($2::bigint[]) AS v (id),
             (SELECT st.id, st.account_id, st.visibility, st.local_only, st.reblog_of_id,
                     NULL::timestamptz AS deleted_at
              FROM statuses st WHERE st.id = $1) AS s
        WHERE {shown_to("v.id", "s", silenced=public)}
          AND (s.reblog_of_id IS NULL OR EXISTS (
                SELECT 1 FROM statuses o
                WHERE o.id = s.reblog_of_id AND {shown_to("v.id", "o", silenced=public)}))
        """,
        status_id,
        viewer_ids,
    )
    return {row["id"] for row in rows}


async def home_readers(db: Executor, status_id: int, account_ids: list[int]) -> set[int]:
    """Those of `account_ids` whose home feed holds the status."""
    if not account_ids:
        return set()
    rows = await db.fetch(
        "SELECT account_id FROM home_feed WHERE status_id = $1 AND account_id = ANY($2::bigint[])",
        status_id,
        account_ids,
    )
    return {row["account_id"] for row in rows}


async def live_tokens(db: Executor, token_ids: list[int]) -> set[int]:
    """Those of `token_ids` that still let their member in: not revoked, and the member
    neither suspended, disabled nor waiting for approval (what `server.auth` requires)."""
    if not token_ids:
        return set()
    rows = await db.fetch(
        """
        SELECT t.id
        FROM oauth_access_tokens t
        JOIN users u ON u.id = t.user_id
        JOIN accounts a ON a.id = u.account_id
        WHERE t.id = ANY($1::bigint[]) AND t.revoked_at IS NULL
          AND u.approved AND NOT u.disabled AND a.suspended_at IS NULL
        """,
        token_ids,
    )
    return {row["id"] for row in rows}
