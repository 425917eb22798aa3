"""A member's own domain blocks: Mastodon's `/api/v1/domain_blocks` (list, block, unblock).

What a block does lives in `server.usecases.account_domain_blocks`.
"""

from __future__ import annotations

from aiohttp import web

from server.auth import authenticated, member_id
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import read_params
from server.state import POOL
from server.usecases import account_domain_blocks as service
from storage import account_domain_blocks as store

routes = web.RouteTableDef()

LIST_DEFAULT = 100
LIST_MAX = 200
DOMAIN_MAX = 253


@routes.get("/api/v1/domain_blocks")
@authenticated("read:blocks")
async def index(request: web.Request) -> web.Response:
    """The blocked domains as plain strings, newest first, paged by the block's id."""
    page = page_from(await read_params(request), default=LIST_DEFAULT, maximum=LIST_MAX)
    rows = await store.list_blocks(request.app[POOL], member_id(request), page)
    return json_response(
        [row["domain"] for row in rows], headers=link_header(request, [row["id"] for row in rows])
    )


async def _domain(request: web.Request) -> str:
    return (await read_params(request)).required_str("domain", max_length=DOMAIN_MAX)


@routes.post("/api/v1/domain_blocks")
@authenticated("write:blocks")
async def create(request: web.Request) -> web.Response:
    domain = await _domain(request)
    await service.block_domain(request.app[POOL], member_id(request), domain)
    return json_response({})


@routes.delete("/api/v1/domain_blocks")
@authenticated("write:blocks")
async def delete(request: web.Request) -> web.Response:
    domain = await _domain(request)
    await service.unblock_domain(request.app[POOL], member_id(request), domain)
    return json_response({})
