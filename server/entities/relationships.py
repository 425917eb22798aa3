"""Relationship records (see `storage.follows.relationships`) to Mastodon `Relationship`s."""

from __future__ import annotations

from typing import Any

import asyncpg


def render_relationship(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "following": row["following"],
        "showing_reblogs": row["showing_reblogs"],
        "notifying": row["notifying"],
        "languages": row["languages"],
        "followed_by": row["followed_by"],
        "blocking": row["blocking"],
        "blocked_by": row["blocked_by"],
        "muting": row["muting"],
        "muting_notifications": row["muting_notifications"],
        "requested": row["requested"],
        "requested_by": row["requested_by"],
        "domain_blocking": row["domain_blocking"],
        # Kith has no endorsements or private notes on accounts yet.
        "endorsed": False,
        "note": "",
    }
