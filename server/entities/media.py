"""Media attachment records to Mastodon `MediaAttachment` entities.

Kith links remote media rather than copying it, so `url`, `preview_url` and `remote_url` all
name the file on its origin server; clients load it from there.
"""

from __future__ import annotations

from typing import Any

import asyncpg

# The types Mastodon's clients know; anything else is a plain link ("unknown").
KNOWN_TYPES = frozenset({"image", "gifv", "video", "audio"})


def render_attachment(row: asyncpg.Record) -> dict[str, Any]:
    kind = row["type"] if row["type"] in KNOWN_TYPES else "unknown"
    return {
        "id": str(row["id"]),
        "type": kind,
        "url": row["remote_url"],
        "preview_url": row["remote_url"] if kind == "image" else None,
        "remote_url": row["remote_url"],
        "preview_remote_url": None,
        "text_url": None,
        "meta": row["meta"] or {},
        "description": row["description"],
        "blurhash": row["blurhash"],
    }
