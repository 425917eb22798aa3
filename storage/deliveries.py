"""Outgoing activities, their per-inbox deliveries, and the inboxes an audience resolves to.

An activity's body is stored once, as the exact bytes every recipient receives (and signs over);
each delivery row is the bookkeeping of one inbox: tries, last status, last error.
"""

from __future__ import annotations

import asyncpg

from storage.db import Executor
from storage.hosts import success_upsert
from storage.visibility import member_blocks_domain

# Where a remote account receives activities: its server's shared inbox when it has one, so a
# server with many followers gets one delivery.
_PREFERRED_INBOX = "coalesce(a.shared_inbox_url, a.inbox_url)"
_REACHABLE = f"a.domain IS NOT NULL AND a.suspended_at IS NULL AND {_PREFERRED_INBOX} IS NOT NULL"


def _not_blocked_by(sender: str) -> str:
    """SQL true when remote account `a` is not on a domain that account `sender` (a column or a
    placeholder) blocks for itself: nothing of a member's reaches a domain they blocked, whatever
    the follow and mention rows say (a follow that slipped in, a mention made anyway).

    Only the audiences of what a member publishes use it; a Reject or an Undo of a follow must
    still reach the blocked domain, so single-account answers are unfiltered by default.
    """
    return f"NOT {member_blocks_domain(sender, 'a.domain')}"


async def insert_activity(
    db: Executor, *, uri: str, actor_id: int, body: bytes, digest: str
) -> int:
    return await db.fetchval(
        """
        INSERT INTO outgoing_activities (uri, actor_account_id, body, digest)
        VALUES ($1, $2, $3, $4) RETURNING id
        """,
        uri,
        actor_id,
        body,
        digest,
    )


async def insert_deliveries(
    db: Executor, activity_id: int, targets: list[tuple[str, str]]
) -> list[tuple[int, str]]:
    """One pending delivery per (inbox_url, host); return (id, host) pairs in order."""
    rows = await db.fetch(
        """
        INSERT INTO deliveries (activity_id, inbox_url, host)
        SELECT $1, t.inbox_url, t.host
        FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t (inbox_url, host, n)
        ORDER BY t.n
        RETURNING id, host
        """,
        activity_id,
        [inbox for inbox, _ in targets],
        [host for _, host in targets],
    )
    return sorted((row["id"], row["host"]) for row in rows)


async def get_delivery(db: Executor, delivery_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM deliveries WHERE id = $1", delivery_id)


async def begin_attempt(db: Executor, delivery_id: int) -> asyncpg.Record | None:
    """Count a try of a pending delivery and return what sending it needs: the stored body, the
    signing actor's key and the signature scheme its host accepted last (`signature_scheme`,
    NULL when none is known). None when it is no longer pending (done, or its activity is gone).
    """
    return await db.fetchrow(
        """
        WITH counted AS (
            UPDATE deliveries SET tries = tries + 1, last_attempt_at = now()
            WHERE id = $1 AND state = 'pending'
            RETURNING *
        )
        SELECT d.id, d.inbox_url, d.host, d.tries, o.uri AS activity_uri, o.body, o.digest,
               a.public_key_id, a.private_key_pem, h.signature_scheme
        FROM counted d
        JOIN outgoing_activities o ON o.id = d.activity_id
        JOIN accounts a ON a.id = o.actor_account_id
        LEFT JOIN hosts h ON h.domain = d.host
        """,
        delivery_id,
    )


async def record_delivered(
    db: Executor,
    delivery_id: int,
    status: int,
    *,
    host: str,
    scheme: str | None,
    job: tuple[int, str] | None = None,
) -> bool:
    """Book a 2xx in one statement, so as little time as possible passes between the remote's
    answer and the commit (a crash in between makes the job send again): the delivery is
    delivered, the host's run of failures ends (`storage.hosts.success_upsert`), and the job that
    sent it, given as `(job_id, worker_id)`, is completed if that worker still holds it.

    Returns whether the job was completed.
    """
    # The main query reads `done`, so the job row is locked before the delivery and hosts rows;
    # the other statements on running jobs (claim, renew, complete) lock job rows only, so no
    # lock cycle can form through a hosts row shared by concurrent deliveries.
    return await db.fetchval(
        f"""
        WITH done AS (
            DELETE FROM jobs WHERE id = $5 AND locked_by = $6 RETURNING id
        ), delivered AS (
            UPDATE deliveries
            SET state = 'delivered', delivered_at = now(), last_status = $2, last_error = NULL
            WHERE id = $1
        ), host AS ({success_upsert("$3", "$4")})
        SELECT EXISTS (SELECT FROM done)
        """,
        delivery_id,
        status,
        host,
        scheme,
        job[0] if job else None,
        job[1] if job else None,
    )


async def record_failure(
    db: Executor, delivery_id: int, *, status: int | None, error: str, final: bool
) -> None:
    """Note why a try failed; `final` marks the delivery failed for good."""
    await db.execute(
        """
        UPDATE deliveries
        SET last_status = $2, last_error = $3,
            state = CASE WHEN $4 THEN 'failed' ELSE state END
        WHERE id = $1
        """,
        delivery_id,
        status,
        error,
        final,
    )


# --- Audiences -----------------------------------------------------------------------------------


async def follower_inboxes(db: Executor, account_id: int) -> list[str]:
    """The distinct inboxes of the account's remote followers, but those on domains it blocks."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT {_PREFERRED_INBOX} AS inbox
        FROM follows f JOIN accounts a ON a.id = f.account_id
        WHERE f.target_account_id = $1 AND {_REACHABLE} AND {_not_blocked_by("$1")}
        """,
        account_id,
    )
    return [row["inbox"] for row in rows]


async def mentioned_inboxes(db: Executor, status_id: int) -> list[str]:
    """The distinct inboxes of the remote accounts a status mentions, but those on domains its
    author blocks."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT {_PREFERRED_INBOX} AS inbox
        FROM mentions m JOIN statuses s ON s.id = m.status_id
        JOIN accounts a ON a.id = m.account_id
        WHERE m.status_id = $1 AND {_REACHABLE} AND {_not_blocked_by("s.account_id")}
        """,
        status_id,
    )
    return [row["inbox"] for row in rows]


async def account_inboxes(
    db: Executor, account_ids: list[int], *, unless_blocked_by: int | None = None
) -> list[str]:
    """The distinct inboxes of those of the accounts that are remote; with `unless_blocked_by`,
    not those on domains that account blocks (what it publishes, such as a boost)."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT {_PREFERRED_INBOX} AS inbox
        FROM accounts a WHERE a.id = ANY($1::bigint[]) AND {_REACHABLE}
          AND ($2::bigint IS NULL OR {_not_blocked_by("$2")})
        """,
        account_ids,
        unless_blocked_by,
    )
    return [row["inbox"] for row in rows]


async def any_local_only(db: Executor, uris: list[str]) -> bool:
    """True when any of `uris` names a local-only status (deleted ones included)."""
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM statuses WHERE uri = ANY($1::text[]) AND local_only)", uris
    )
