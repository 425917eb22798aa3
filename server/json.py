"""JSON responses and request bodies (JSON or form-encoded, as Mastodon clients send both)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

MAX_BODY_BYTES = 1024 * 1024


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )
