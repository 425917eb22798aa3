"""CORS for browser clients (Elk, Phanpy, ...), on the paths Mastodon opens to them.

Bearer tokens, not cookies, authenticate those requests, so any origin may call them. Preflight
`OPTIONS` requests are answered here, before routing, since no route declares OPTIONS.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

CORS_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/", "/nodeinfo/")

_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
    "Access-Control-Expose-Headers": "Link, X-RateLimit-Reset, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-Request-Id, Idempotency-Key",
    "Access-Control-Max-Age": "7200",
}


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(CORS_PREFIXES):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=200, headers=_HEADERS)
    response = await handler(request)
    response.headers.update(_HEADERS)
    return response
