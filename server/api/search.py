"""Mastodon's search: `GET /api/v2/search`.

Three kinds of query: a URL (an actor's id or profile page, a post's id, or a local post's
page `/@alice/ID`), an address (`@user@host` or `user@host`), and plain text (accounts by
username or display-name prefix, hashtags by name prefix). With `resolve=true` a URL or address
is looked up on its server when it is not known; like Mastodon, resolving and paging with
`offset` need a signed-in member, so that anonymous requests cannot make the server contact
arbitrary hosts. Full-text status search is not offered: `statuses` holds only the post a URL
names (known, or fetched when resolving), if the viewer may read it. Hashtags carry their last
seven days of use (`server/entities/tags.py`).
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from aiohttp import web

from federation import remote_accounts
from federation.errors import KithError
from federation.fetch import FetchError
from server.auth import optional_auth, viewer_id
from server.entities.accounts import render_account
from server.entities.statuses import render_statuses
from server.entities.tags import render_tags
from server.json import json_response
from server.params import MAX_BIGINT, read_params
from server.state import FEDERATION, POOL, URLS
from server.usecases.resolve import Resolved, known_url, resolve_url
from storage import accounts as account_store
from storage import search as search_store
from storage import statuses as status_store

routes = web.RouteTableDef()

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
QUERY_MAX = 1000
_ADDRESS = re.compile(r"^@?([^@\s/]+)@([^@\s/]+)$")
_STATUS_PAGE = re.compile(r"[^@/?#\s]+/([0-9]{1,19})")


@routes.get("/api/v2/search")
@optional_auth("read:search")
async def search(request: web.Request) -> web.Response:
    params = await read_params(request)
    query = (params.str("q", max_length=QUERY_MAX) or "").strip()
    kind = params.str("type")
    resolve = params.bool("resolve", False)
    limit = params.int("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = params.int("offset", 0, minimum=0)
    if viewer_id(request) is None:
        if resolve:
            raise KithError(
                401,
                "Search queries that resolve remote resources are not supported without "
                "authentication",
            )
        if offset:
            raise KithError(
                401, "Search queries with offset are not supported without authentication"
            )
    result: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}
    if not query:
        return json_response(result)
    if _is_url(query):
        result.update(await _url_results(request, query, kind, resolve=resolve, offset=offset))
        return json_response(result)
    urls = request.app[URLS]
    if kind in (None, "accounts"):
        accounts = await _accounts(request, query, resolve=resolve, limit=limit, offset=offset)
        result["accounts"] = [render_account(row, urls) for row in accounts]
    if kind in (None, "hashtags") and not _ADDRESS.match(query):
        tags = await search_store.search_tags(
            request.app[POOL], query.lstrip("#"), limit=limit, offset=offset
        )
        result["hashtags"] = await render_tags(request.app[POOL], tags, urls)
    return json_response(result)


async def _local_status_page(request: web.Request, url: str) -> asyncpg.Record | None:
    """The local status whose web page is `url` (`/@alice/ID`), which is not its ActivityPub id
    and so not found by it. Whether the viewer may read it is checked by the caller."""
    base = request.app[URLS].base_url + "/@"
    match = _STATUS_PAGE.fullmatch(url[len(base) :]) if url.startswith(base) else None
    if match is None or int(match[1]) > MAX_BIGINT:
        return None
    status = await status_store.get_status(request.app[POOL], int(match[1]))
    if status is None or not status["local"] or (status["url"] or "").lower() != url.lower():
        return None
    return status


def _is_url(query: str) -> bool:
    return query.lower().startswith(("https://", "http://"))


async def _accounts(
    request: web.Request, query: str, *, resolve: bool, limit: int, offset: int
) -> list[asyncpg.Record]:
    pool, urls = request.app[POOL], request.app[URLS]
    address = _ADDRESS.match(query)
    if address is None:
        return await account_store.search_accounts(
            pool, query.lstrip("@"), None, limit=limit, offset=offset
        )
    username, domain = address.groups()
    local = domain.lower() == urls.domain.lower()
    found: list[asyncpg.Record] = []
    if resolve and offset == 0:
        try:
            row = await remote_accounts.resolve_acct(request.app[FEDERATION], username, domain)
        except FetchError:
            row = None
        account = await account_store.get_visible_account(pool, row["id"]) if row else None
        found = [account] if account is not None else []
    matches = await account_store.search_accounts(
        pool, username, None if local else domain, limit=limit, offset=offset
    )
    seen = {row["id"] for row in found}
    return (found + [row for row in matches if row["id"] not in seen])[:limit]


async def _url_results(
    request: web.Request, url: str, kind: str | None, *, resolve: bool, offset: int
) -> dict[str, list[Any]]:
    """The account or status a URL names, rendered for the viewer (none beyond the first page)."""
    pool, urls, viewer = request.app[POOL], request.app[URLS], viewer_id(request)
    fed = request.app[FEDERATION]
    if offset or kind == "hashtags":
        return {}
    try:
        found = await (resolve_url(fed, url) if resolve else known_url(fed, url))
    except FetchError:
        found = Resolved()
    if found.account is None and found.status is None:
        found = Resolved(status=await _local_status_page(request, url))
    account = (
        await account_store.get_visible_account(pool, found.account["id"])
        if found.account is not None and kind in (None, "accounts")
        else None
    )
    status = (
        await status_store.get_readable_status(pool, found.status["id"], viewer)
        if found.status is not None and kind in (None, "statuses")
        else None
    )
    return {
        "accounts": [render_account(account, urls)] if account is not None else [],
        "statuses": await render_statuses(pool, [status], urls, viewer) if status else [],
    }
