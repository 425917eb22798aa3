"""Statuses (`/api/v1/statuses`): posting, reading, deleting, threads, favourites and boosts.

Handlers turn requests into service calls (`server.usecases.statuses`, `.favourites`, `.boosts`)
and render the results; every rule about statuses lives in the services. A status the viewer may
not read is "not found", never "forbidden", so that its existence is not revealed.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from federation.errors import invalid, not_found
from server import filtering
from server.api.polls import read_poll
from server.auth import authenticated, current, member_id, optional_auth, viewer_id
from server.entities.accounts import render_account
from server.entities.statuses import render_status, render_statuses
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import Params, parse_id, path_id, read_params
from server.state import POOL, URLS
from server.usecases import boosts, favourites, media
from server.usecases.actors import Actor
from server.usecases.statuses import REPLY_NOT_FOUND, Typed, delete_status, post_status
from storage import accounts as account_store
from storage import statuses as status_store

routes = web.RouteTableDef()

# How many statuses each side of a thread returns, and how deep replies are followed.
CONTEXT_LIMIT = 4096


async def _readable(request: web.Request) -> asyncpg.Record:
    status = await status_store.get_readable_status(
        request.app[POOL], path_id(request), viewer_id(request)
    )
    if status is None:
        raise not_found()
    return status


async def _respond(request: web.Request, status: asyncpg.Record, *, source: bool = False):
    entity = await render_status(
        request.app[POOL], status, request.app[URLS], viewer_id(request), source=source
    )
    return json_response(entity)


def _reject_unsupported(params: Params) -> None:
    """Refuse what Kith cannot post yet, rather than silently posting something else."""
    if params.raw("scheduled_at"):
        raise invalid("scheduled statuses are not supported yet")


def _reply_to(params: Params) -> int | None:
    raw = params.raw("in_reply_to_id")
    if raw is None or raw == "":
        return None
    status_id = parse_id(raw)
    if status_id is None:
        raise not_found(REPLY_NOT_FOUND)
    return status_id


@routes.post("/api/v1/statuses")
@authenticated("write:statuses")
async def create(request: web.Request) -> web.Response:
    auth = current(request)
    params = await read_params(request)
    _reject_unsupported(params)
    typed = Typed(
        text=params.str("status", ""),
        visibility=params.str("visibility"),
        spoiler_text=params.str("spoiler_text", ""),
        sensitive=params.bool("sensitive"),
        in_reply_to_id=_reply_to(params),
        language=params.str("language"),
        local_only=params.bool("local_only"),
        application_id=auth.application_id,
        idempotency_key=request.headers.get("Idempotency-Key") or None,
        media_ids=media.parse_media_ids(params.list("media_ids")),
        poll=read_poll(params),
    )
    posted = await post_status(
        request.app[POOL], request.app[URLS], Actor.member(member_id(request)), typed
    )
    return await _respond(request, posted.status)


@routes.get("/api/v1/statuses/{id}")
@optional_auth("read:statuses")
async def show(request: web.Request) -> web.Response:
    return await _respond(request, await _readable(request))


@routes.delete("/api/v1/statuses/{id}")
@authenticated("write:statuses")
async def delete(request: web.Request) -> web.Response:
    actor = Actor.member(member_id(request))
    status = await delete_status(request.app[POOL], actor, path_id(request))
    return await _respond(request, status, source=True)


@routes.get("/api/v1/statuses/{id}/context")
@optional_auth("read:statuses")
async def context(request: web.Request) -> web.Response:
    status = await _readable(request)
    pool, viewer = request.app[POOL], viewer_id(request)
    above = await status_store.ancestors(pool, status, viewer, CONTEXT_LIMIT)
    below = await status_store.descendants(pool, status["id"], viewer, CONTEXT_LIMIT)
    entities = await render_statuses(pool, [*above, *below], request.app[URLS], viewer)
    matcher = await filtering.load_matcher(pool, viewer, "thread")
    return json_response(
        {
            "ancestors": filtering.apply(entities[: len(above)], matcher),
            "descendants": filtering.apply(entities[len(above) :], matcher),
        }
    )


@routes.post("/api/v1/statuses/{id}/favourite")
@authenticated("write:favourites")
async def favourite(request: web.Request) -> web.Response:
    actor = Actor.member(member_id(request))
    status = await favourites.favourite(request.app[POOL], actor, path_id(request))
    return await _respond(request, status)


@routes.post("/api/v1/statuses/{id}/unfavourite")
@authenticated("write:favourites")
async def unfavourite(request: web.Request) -> web.Response:
    actor = Actor.member(member_id(request))
    status = await favourites.unfavourite(request.app[POOL], actor, path_id(request))
    return await _respond(request, status)


@routes.post("/api/v1/statuses/{id}/reblog")
@authenticated("write:statuses")
async def reblog(request: web.Request) -> web.Response:
    account_id = member_id(request)
    params = await read_params(request)
    pool = request.app[POOL]
    visibility = params.str("visibility")
    if not visibility:
        # Mastodon boosts with the member's default visibility; a direct default cannot apply.
        user = await account_store.get_user_by_account(pool, account_id)
        default = user["default_visibility"] if user is not None else None
        visibility = default if default in boosts.REBLOG_VISIBILITIES else "public"
    boost = await boosts.reblog(
        pool,
        request.app[URLS],
        Actor.member(account_id),
        path_id(request),
        visibility=visibility,
        application_id=current(request).application_id,
    )
    return await _respond(request, boost)


@routes.post("/api/v1/statuses/{id}/unreblog")
@authenticated("write:statuses")
async def unreblog(request: web.Request) -> web.Response:
    actor = Actor.member(member_id(request))
    status = await boosts.unreblog(request.app[POOL], actor, path_id(request))
    return await _respond(request, status)


@routes.get("/api/v1/statuses/{id}/favourited_by")
@optional_auth("read:accounts")
async def favourited_by(request: web.Request) -> web.Response:
    status = await _readable(request)
    page = page_from(await read_params(request), maximum=80, default=40)
    rows = await status_store.favourited_by(request.app[POOL], status["id"], page)
    return await _accounts(request, rows)


@routes.get("/api/v1/statuses/{id}/reblogged_by")
@optional_auth("read:accounts")
async def reblogged_by(request: web.Request) -> web.Response:
    status = await _readable(request)
    page = page_from(await read_params(request), maximum=80, default=40)
    rows = await status_store.reblogged_by(
        request.app[POOL], status["id"], viewer_id(request), page
    )
    return await _accounts(request, rows)


async def _accounts(request: web.Request, rows: list[asyncpg.Record]) -> web.Response:
    """The accounts of `rows` (each with `account_id` and `page_key`), with a Link header."""
    accounts = await account_store.get_accounts(
        request.app[POOL], [row["account_id"] for row in rows]
    )
    urls = request.app[URLS]
    entities = [render_account(accounts[row["account_id"]], urls) for row in rows]
    return json_response(entities, headers=link_header(request, [row["page_key"] for row in rows]))
