"""The usage figures NodeInfo publishes."""

from __future__ import annotations

import asyncpg

Executor = asyncpg.Pool | asyncpg.Connection

_MEMBERS = """
    FROM users u JOIN accounts a ON a.id = u.account_id
    WHERE u.approved AND NOT u.disabled AND a.suspended_at IS NULL
"""


def _active_within(days: str) -> str:
    """Members active as `storage.instance` counts them: signed in, used a token or posted
    within the last `days` (a placeholder holding a number of days)."""
    since = f"now() - make_interval(days => {days})"
    return f"""
        SELECT count(*) {_MEMBERS}
          AND (u.last_sign_in_at > {since}
               OR a.last_status_at > {since}
               OR EXISTS (
                   SELECT 1 FROM oauth_access_tokens t
                   WHERE t.user_id = u.id AND coalesce(t.last_used_at, t.created_at) > {since}))
    """


async def usage(db: Executor) -> asyncpg.Record:
    """`total`, `active_month`, `active_halfyear` (members) and `local_posts`, in one round
    trip."""
    return await db.fetchrow(
        f"""
        SELECT
            (SELECT count(*) {_MEMBERS}) AS total,
            ({_active_within("$1")}) AS active_month,
            ({_active_within("$2")}) AS active_halfyear,
            (SELECT count(*) FROM statuses s WHERE s.local AND s.deleted_at IS NULL)
                AS local_posts
        """,
        30,
        180,
    )
