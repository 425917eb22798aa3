"""Rails-style trailing slashes: `/api/v1/reports/` is served by the `/api/v1/reports` route.

Mastodon (Rails) treats a trailing slash as absent, and some clients depend on it: Mastodon.py
posts reports to `/api/v1/reports/`, toot opens `/oauth/authorize/`. A redirect would not do,
since clients do not repeat a POST's body after a 301/302, so the request is dispatched again,
in place, to the route without the slash. Only the client API, OAuth and discovery paths are
treated this way, and only when the path as sent matched nothing; a path that matches nothing
either way keeps its 404.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/nodeinfo/")


def _without_slash(request: web.Request) -> URL | None:
    """The request's URL minus one trailing slash, when it is a path this rule covers."""
    raw_path = request.rel_url.raw_path
    if not raw_path.endswith("/") or raw_path.endswith("//") or not raw_path.startswith(PREFIXES):
        return None
    query = request.rel_url.raw_query_string
    return URL(raw_path[:-1] + (f"?{query}" if query else ""), encoded=True)


@web.middleware
async def trailing_slash_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Innermost middleware: `handler` is what the router chose for the path as sent."""
    if not isinstance(request.match_info.http_exception, web.HTTPNotFound):
        return await handler(request)
    url = _without_slash(request)
    if url is None:
        return await handler(request)
    retried = request.clone(rel_url=url)
    match_info = await request.app.router.resolve(retried)
    if match_info.http_exception is not None:
        return await handler(request)
    # What aiohttp's Application._handle does for a request it routes itself.
    match_info.add_app(request.app)
    match_info.freeze()
    retried._match_info = match_info
    return await match_info.handler(retried)
