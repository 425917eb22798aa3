"""The usage figures NodeInfo publishes."""

from __future__ import annotations

import asyncpg

from storage.db import Executor, fetch_one
from storage.member_counts import (
    ACTIVE_HALFYEAR_DAYS,
    ACTIVE_MONTH_DAYS,
    COUNT_LOCAL_STATUSES,
    MEMBERS,
    count_active_within,
)


async def usage(db: Executor) -> asyncpg.Record:
    """`total`, `active_month`, `active_halfyear` (members) and `local_posts`, in one round
    trip."""
    return await fetch_one(
        db,
        f"""
        SELECT
            (SELECT count(*) {MEMBERS}) AS total,
            ({count_active_within("$1")}) AS active_month,
            ({count_active_within("$2")}) AS active_halfyear,
            ({COUNT_LOCAL_STATUSES}) AS local_posts
        """,
        ACTIVE_MONTH_DAYS,
        ACTIVE_HALFYEAR_DAYS,
    )
