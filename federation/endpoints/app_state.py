"""How federation endpoints reach the process's `Federation` (pool, URLs, HTTP client)."""

from __future__ import annotations

from aiohttp import web

from federation.context import FEDERATION, Federation


def federation_of(request: web.Request) -> Federation:
    return request.app[FEDERATION]
