"""Hashtags as Mastodon's Tag entity, with the use history clients draw as a sparkline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from federation.urls import LocalUrls
from storage import search as search_store
from storage.db import Executor


async def render_tags(
    db: Executor, tags: list[asyncpg.Record], urls: LocalUrls, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """`tags` (rows with `id` and `name`) with their last `HISTORY_DAYS` days of use, today
    first; one query for the whole page. Counts are strings, days Unix times, as in Mastodon."""
    today = (
        (now or datetime.now(UTC))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    days = [today - timedelta(days=n) for n in range(search_store.HISTORY_DAYS)]
    history = await search_store.tag_history(db, [tag["id"] for tag in tags], days[-1])
    rendered = []
    for tag in tags:
        used = history.get(tag["id"], {})
        rendered.append(
            {
                "id": str(tag["id"]),
                "name": tag["name"],
                "url": urls.tag(tag["name"]),
                "history": [
                    {
                        "day": str(int(day.timestamp())),
                        "uses": str(used.get(day, (0, 0))[0]),
                        "accounts": str(used.get(day, (0, 0))[1]),
                    }
                    for day in days
                ],
            }
        )
    return rendered
