"""Reading pagination parameters and writing the `Link` header that points at the next pages."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from server.params import Params
from server.state import CONFIG
from storage.pagination import Page

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


def page_from(params: Params, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Page:
    return Page(
        max_id=params.id("max_id"),
        since_id=params.id("since_id"),
        min_id=params.id("min_id"),
        limit=params.int("limit", default, minimum=1, maximum=maximum),
    )


def link_header(request: web.Request, keys: list[int]) -> dict[str, str]:
    """`Link` with rel="next" (older than the last key) and rel="prev" (newer than the first).

    `keys` are the pagination keys of the returned items, newest first; no items, no header.
    """
    if not keys:
        return {}
    base = request.app[CONFIG].base_url + request.path
    kept = {k: v for k, v in request.query.items() if k not in ("max_id", "min_id", "since_id")}
    next_url = f"{base}?{urlencode({**kept, 'max_id': keys[-1]})}"
    prev_url = f"{base}?{urlencode({**kept, 'min_id': keys[0]})}"
    return {"Link": f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'}
