"""Blocks and mutes: `/api/v1/accounts/:id/(un)block`, `(un)mute`, `/api/v1/blocks`, `/mutes`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from federation.errors import not_found
from server.auth import authenticated, member_id
from server.entities.accounts import render_account
from server.entities.relationships import render_relationship
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import path_id, read_params
from server.state import POOL, URLS
from server.usecases import blocks
from storage import blocks as block_store
from storage import follows as follow_store
from storage.db import Executor
from storage.pagination import Page

routes = web.RouteTableDef()

LIST_DEFAULT = 40
LIST_MAX = 80


async def _relationship(request: web.Request, target_id: int) -> web.Response:
    rows = await follow_store.relationships(
        request.app[POOL], member_id(request), [target_id], with_suspended=True
    )
    if not rows:
        raise not_found()
    return json_response(render_relationship(rows[0]))


@routes.post("/api/v1/accounts/{id}/block")
@authenticated("write:blocks")
async def block(request: web.Request) -> web.Response:
    target_id = path_id(request)
    await blocks.block(request.app[POOL], member_id(request), target_id)
    return await _relationship(request, target_id)


@routes.post("/api/v1/accounts/{id}/unblock")
@authenticated("write:blocks")
async def unblock(request: web.Request) -> web.Response:
    target_id = path_id(request)
    await blocks.unblock(request.app[POOL], member_id(request), target_id)
    return await _relationship(request, target_id)


@routes.post("/api/v1/accounts/{id}/mute")
@authenticated("write:mutes")
async def mute(request: web.Request) -> web.Response:
    target_id = path_id(request)
    params = await read_params(request)
    await blocks.mute(
        request.app[POOL],
        member_id(request),
        target_id,
        notifications=params.bool("notifications", True),
        duration_seconds=params.int("duration", 0, minimum=0),
    )
    return await _relationship(request, target_id)


@routes.post("/api/v1/accounts/{id}/unmute")
@authenticated("write:mutes")
async def unmute(request: web.Request) -> web.Response:
    target_id = path_id(request)
    await blocks.unmute(request.app[POOL], member_id(request), target_id)
    return await _relationship(request, target_id)


async def _account_list(
    request: web.Request,
    lister: Callable[[Executor, int, Page], Awaitable[list[asyncpg.Record]]],
) -> web.Response:
    page = page_from(await read_params(request), default=LIST_DEFAULT, maximum=LIST_MAX)
    rows = await lister(request.app[POOL], member_id(request), page)
    return json_response(
        [render_account(row, request.app[URLS]) for row in rows],
        headers=link_header(request, [row["page_key"] for row in rows]),
    )


@routes.get("/api/v1/blocks")
@authenticated("read:blocks")
async def blocked(request: web.Request) -> web.Response:
    return await _account_list(request, block_store.list_blocked)


@routes.get("/api/v1/mutes")
@authenticated("read:mutes")
async def muted(request: web.Request) -> web.Response:
    return await _account_list(request, block_store.list_muted)
