"""Invite records to the invite entity Kith defines (Mastodon has no client API for invites)."""

from __future__ import annotations

from typing import Any

import asyncpg

from federation.urls import LocalUrls
from server.entities.common import iso


def render_invite(row: asyncpg.Record, urls: LocalUrls) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "code": row["code"],
        "url": f"{urls.base_url}/invite/{row['code']}",
        "uses": row["uses"],
        "max_uses": row["max_uses"],
        "expires_at": iso(row["expires_at"]),
        "created_at": iso(row["created_at"]),
    }
