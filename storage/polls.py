"""Polls: a status's options and counts, the votes cast here, and what ending one writes.

`options` is `[{title, votes_count}]`. For a local poll every vote is counted here; for a remote
one the counts are what its server last said plus the votes members here cast since, as
Mastodon keeps them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from storage.db import Executor, fetch_one
from storage.visibility import actionable_by_remote, member_blocks_domain

# The poll author's domain (NULL, never blocked, for a local author), `$2` below.
_AUTHOR_DOMAIN = "(SELECT au.domain FROM accounts au WHERE au.id = $2)"

POLL_COLUMNS = """
    p.id, p.status_id, p.options, p.multiple, p.expires_at, p.votes_count, p.voters_count,
    p.hide_totals, p.update_due_at, p.ended_at
"""
MAX_OPTIONS_SETTING = "poll_max_options"


async def insert_poll(
    db: Executor,
    status_id: int,
    *,
    titles: list[str],
    votes: list[int],
    multiple: bool,
    expires_at: datetime | None,
    hide_totals: bool = False,
    voters_count: int | None = 0,
) -> asyncpg.Record:
    """The poll of a status; a status's poll given anew (an edit, a remote poll whose options
    changed) replaces the old one, which has not ended then."""
    options = [{"title": t, "votes_count": v} for t, v in zip(titles, votes, strict=True)]
    return await fetch_one(
        db,
        """
        INSERT INTO polls AS p
            (status_id, options, multiple, expires_at, hide_totals, votes_count, voters_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (status_id) DO UPDATE SET options = EXCLUDED.options,
            multiple = EXCLUDED.multiple, hide_totals = EXCLUDED.hide_totals,
            votes_count = EXCLUDED.votes_count, voters_count = EXCLUDED.voters_count,
            expires_at = EXCLUDED.expires_at, ended_at = NULL, update_due_at = NULL,
            updated_at = now()
        RETURNING p.*
        """,
        status_id,
        options,
        multiple,
        expires_at,
        hide_totals,
        sum(votes),
        voters_count,
    )


async def polls_of(db: Executor, status_ids: list[int]) -> list[asyncpg.Record]:
    """The polls of these statuses (those that have one), with `expired` and the status's
    author (`author_id`)."""
    return await db.fetch(
        f"""
        SELECT {POLL_COLUMNS}, coalesce(p.expires_at <= now(), false) AS expired,
               s.account_id AS author_id
        FROM polls p JOIN statuses s ON s.id = p.status_id
        WHERE p.status_id = ANY($1::bigint[])
        """,
        status_ids,
    )


async def own_votes(db: Executor, account_id: int, poll_ids: list[int]) -> list[asyncpg.Record]:
    """The choices `account_id` made in these polls."""
    return await db.fetch(
        """
        SELECT poll_id, choice FROM poll_votes
        WHERE account_id = $1 AND poll_id = ANY($2::bigint[])
        ORDER BY poll_id, choice
        """,
        account_id,
        poll_ids,
    )


async def get_poll(db: Executor, poll_id: int, *, lock: bool = False) -> asyncpg.Record | None:
    """A poll with `expired` (locked for the transaction with `lock`: votes on one poll are
    counted one transaction at a time)."""
    return await db.fetchrow(
        f"""
        SELECT {POLL_COLUMNS}, coalesce(p.expires_at <= now(), false) AS expired
        FROM polls p WHERE p.id = $1 {"FOR UPDATE" if lock else ""}
        """,
        poll_id,
    )


async def get_poll_of_status(db: Executor, status_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {POLL_COLUMNS}, coalesce(p.expires_at <= now(), false) AS expired
        FROM polls p WHERE p.status_id = $1
        """,
        status_id,
    )


async def choices_of(db: Executor, poll_id: int, account_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT choice FROM poll_votes WHERE poll_id = $1 AND account_id = $2 ORDER BY choice",
        poll_id,
        account_id,
    )
    return [row["choice"] for row in rows]


async def add_votes(
    db: Executor, poll_id: int, account_id: int, choices: list[int], uri: str | None
) -> list[int]:
    """Record the account's choices; return those that were not recorded before."""
    rows = await db.fetch(
        """
        INSERT INTO poll_votes (poll_id, account_id, choice, uri)
        SELECT $1, $2, choice, $4 FROM unnest($3::int[]) AS choice
        ON CONFLICT DO NOTHING
        RETURNING choice
        """,
        poll_id,
        account_id,
        choices,
        uri,
    )
    return [row["choice"] for row in rows]


async def count_votes(
    db: Executor, poll_id: int, choices: list[int], *, new_voter: bool
) -> asyncpg.Record:
    """Add one vote to each of `choices` (and a voter when `new_voter`); the updated poll."""
    return await fetch_one(
        db,
        f"""
        UPDATE polls p SET
            options = (
                SELECT jsonb_agg(jsonb_set(o, '{{votes_count}}', to_jsonb(
                    (o->>'votes_count')::int + CASE WHEN (i - 1) = ANY($2::int[]) THEN 1 ELSE 0 END
                )) ORDER BY i)
                FROM jsonb_array_elements(p.options) WITH ORDINALITY AS t(o, i)),
            votes_count = p.votes_count + cardinality($2::int[]),
            voters_count = p.voters_count + CASE WHEN $3 THEN 1 ELSE 0 END,
            updated_at = now()
        WHERE p.id = $1
        RETURNING {POLL_COLUMNS}, coalesce(p.expires_at <= now(), false) AS expired
        """,
        poll_id,
        choices,
        new_voter,
    )


async def set_counts(
    db: Executor, poll_id: int, votes: list[int], voters_count: int | None
) -> None:
    """A remote poll's counts as its server now says (same options, in order)."""
    await db.execute(
        """
        UPDATE polls p SET
            options = (
                SELECT jsonb_agg(jsonb_set(o, '{votes_count}', to_jsonb(($2::int[])[i]))
                                 ORDER BY i)
                FROM jsonb_array_elements(p.options) WITH ORDINALITY AS t(o, i)),
            votes_count = (SELECT coalesce(sum(v), 0) FROM unnest($2::int[]) AS v),
            voters_count = coalesce($3, p.voters_count),
            updated_at = now()
        WHERE p.id = $1
        """,
        poll_id,
        votes,
        voters_count,
    )


async def delete_votes(db: Executor, poll_id: int) -> None:
    """Forget the votes cast in a poll (its options changed)."""
    await db.execute("DELETE FROM poll_votes WHERE poll_id = $1", poll_id)


async def mark_update_due(db: Executor, poll_id: int, due: datetime) -> bool:
    """Note that the poll's counts must go out at `due`; False when an Update is due already
    (its job will send the counts as they are then)."""
    row = await db.fetchrow(
        """
        UPDATE polls SET update_due_at = $2
        WHERE id = $1 AND update_due_at IS NULL RETURNING id
        """,
        poll_id,
        due,
    )
    return row is not None


async def take_update_due(db: Executor, poll_id: int) -> bool:
    """Clear the poll's due Update; False when none was due (a repeated job)."""
    row = await db.fetchrow(
        """
        UPDATE polls SET update_due_at = NULL
        WHERE id = $1 AND update_due_at IS NOT NULL RETURNING id
        """,
        poll_id,
    )
    return row is not None


async def claim_refresh(db: Executor, poll_id: int, every_seconds: int) -> bool:
    """Whether a remote poll is due to be fetched again (not in the last `every_seconds`);
    True at most once per period, however many look at it at once."""
    row = await db.fetchrow(
        """
        UPDATE polls SET fetched_at = now()
        WHERE id = $1 AND (fetched_at IS NULL OR fetched_at < now() - make_interval(secs => $2))
        RETURNING id
        """,
        poll_id,
        every_seconds,
    )
    return row is not None


async def end_poll(db: Executor, poll_id: int) -> asyncpg.Record | None:
    """Mark an expired poll ended; None when it is not expired yet or was ended before."""
    return await db.fetchrow(
        f"""
        UPDATE polls p SET ended_at = now()
        WHERE p.id = $1 AND p.ended_at IS NULL AND p.expires_at <= now()
        RETURNING {POLL_COLUMNS}, true AS expired
        """,
        poll_id,
    )


async def local_voter_ids(db: Executor, poll_id: int) -> list[int]:
    """The members here who voted in the poll."""
    rows = await db.fetch(
        """
        SELECT DISTINCT v.account_id FROM poll_votes v JOIN accounts a ON a.id = v.account_id
        WHERE v.poll_id = $1 AND a.domain IS NULL
        """,
        poll_id,
    )
    return [row["account_id"] for row in rows]


async def remote_voters_who_may_see(db: Executor, poll_id: int, status_id: int) -> list[int]:
    """The remote voters that may still act on the poll's status (`actionable_by_remote`): a
    voter the author blocked since, or who stopped following a followers-only author, is sent
    no more of it."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT pv.account_id
        FROM poll_votes pv
        JOIN accounts a ON a.id = pv.account_id AND a.domain IS NOT NULL
        JOIN statuses s ON s.id = $2
        WHERE pv.poll_id = $1 AND {actionable_by_remote("pv.account_id", "s")}
        """,
        poll_id,
        status_id,
    )
    return [row["account_id"] for row in rows]


async def notify_ended(
    db: Executor, recipient_ids: list[int], *, author_id: int, status_id: int
) -> None:
    """A `poll` notification from the poll's author to each local recipient, the author too
    (`notifications.notify` leaves out one's own acts; the end of one's poll is news)."""
    await db.execute(
        f"""
        INSERT INTO notifications (account_id, from_account_id, type, status_id)
        SELECT a.id, $2, 'poll', $3 FROM accounts a
        WHERE a.id = ANY($1::bigint[]) AND a.domain IS NULL
          AND NOT {member_blocks_domain("a.id", _AUTHOR_DOMAIN)}
        ON CONFLICT DO NOTHING
        """,
        recipient_ids,
        author_id,
        status_id,
    )


async def max_options(db: Executor, default: int) -> int:
    """How many options a poll made here may have: the instance setting, else `default`."""
    value: Any = await db.fetchval(
        "SELECT value FROM instance_settings WHERE key = $1", MAX_OPTIONS_SETTING
    )
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    return default
