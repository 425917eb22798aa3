"""Filters v2: `/api/v2/filters`, their keywords and their statuses.

A filter, its keywords and its statuses change in one transaction. Another member's filter (or
keyword, or filtered status) is "not found", never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from federation.errors import invalid, not_found
from federation.excerpt import excerpt
from server.auth import authenticated, current
from server.filtering import (
    ACTIONS,
    CONTEXTS,
    render_filter_status,
    render_filters,
    render_keyword,
)
from server.json import json_response
from server.params import Params, parse_id, path_id, read_params
from server.state import POOL
from storage import filters as store
from storage import statuses as status_store

routes = web.RouteTableDef()

MAX_TITLE = 256
MAX_KEYWORD = 512


def _member(request: web.Request) -> int:
    account_id = current(request).account_id
    assert account_id is not None  # @authenticated requires a member
    return account_id


async def _own_filter(request: web.Request, db: Any) -> asyncpg.Record:
    row = await store.get_filter(db, _member(request), path_id(request))
    if row is None:
        raise not_found()
    return row


async def _filter_response(request: web.Request, row: asyncpg.Record) -> web.Response:
    return json_response((await render_filters(request.app[POOL], [row]))[0])


# -- reading parameters ---------------------------------------------------------------------------


def _context(params: Params) -> list[str]:
    values = [str(value) for value in params.list("context")]
    if not values:
        raise invalid("context can't be blank")
    unknown = [value for value in values if value not in CONTEXTS]
    if unknown:
        raise invalid(f"context contains unknown values {excerpt(unknown)}")
    return list(dict.fromkeys(values))


def _action(params: Params, default: str) -> str:
    action = params.str("filter_action", default)
    if action not in ACTIONS:
        raise invalid(f"filter_action must be one of {', '.join(ACTIONS)}")
    return action


def _expires_at(params: Params) -> datetime | None:
    """`expires_in` seconds from now; empty or 0 means never."""
    duration = params.duration("expires_in")
    return datetime.now(UTC) + duration if duration else None


def _keyword(params: Params) -> tuple[str, bool]:
    return (
        params.required_str("keyword", max_length=MAX_KEYWORD),
        params.bool("whole_word", True),
    )


def _keyword_attributes(params: Params) -> list[Params]:
    """`keywords_attributes[]`: a JSON list of objects or an indexed form (`[0][keyword]=`)."""
    items = params.list("keywords_attributes")
    if not all(isinstance(item, dict) for item in items):
        raise invalid("keywords_attributes must be a list of objects")
    return [Params(item) for item in items]


async def _apply_keywords(conn: asyncpg.Connection, filter_id: int, items: list[Params]) -> None:
    """Create, update (with `id`) or delete (with `id` and `_destroy`) the filter's keywords."""
    for item in items:
        keyword_id = item.id("id")
        if keyword_id is not None and item.bool("_destroy", False):
            await store.delete_keyword(conn, filter_id, keyword_id)
        elif keyword_id is not None:
            if await store.update_keyword(conn, filter_id, keyword_id, *_keyword(item)) is None:
                raise not_found()
        elif "id" not in item:
            await store.insert_keyword(conn, filter_id, *_keyword(item))
        else:
            raise not_found()


# -- filters --------------------------------------------------------------------------------------


@routes.get("/api/v2/filters")
@authenticated("read:filters")
async def index(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    return json_response(
        await render_filters(pool, await store.list_filters(pool, _member(request)))
    )


@routes.post("/api/v2/filters")
@authenticated("write:filters")
async def create(request: web.Request) -> web.Response:
    params = await read_params(request)
    title = params.required_str("title", max_length=MAX_TITLE)
    context = _context(params)
    action = _action(params, "warn")
    keywords = _keyword_attributes(params)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await store.insert_filter(
            conn,
            _member(request),
            title=title,
            context=context,
            filter_action=action,
            expires_at=_expires_at(params),
        )
        await _apply_keywords(conn, row["id"], keywords)
    return await _filter_response(request, row)


@routes.get("/api/v2/filters/{id}")
@authenticated("read:filters")
async def show(request: web.Request) -> web.Response:
    return await _filter_response(request, await _own_filter(request, request.app[POOL]))


@routes.put("/api/v2/filters/{id}")
@authenticated("write:filters")
async def update(request: web.Request) -> web.Response:
    """Change what is given; `expires_in` given empty removes the expiry."""
    params = await read_params(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await _own_filter(request, conn)
        await store.update_filter(
            conn,
            row["id"],
            title=(
                params.required_str("title", max_length=MAX_TITLE)
                if "title" in params
                else row["title"]
            ),
            context=_context(params)
            if "context" in params or "context[]" in params
            else row["context"],
            filter_action=_action(params, row["filter_action"]),
            expires_at=_expires_at(params) if "expires_in" in params else row["expires_at"],
        )
        await _apply_keywords(conn, row["id"], _keyword_attributes(params))
        row = await _own_filter(request, conn)
    return await _filter_response(request, row)


@routes.delete("/api/v2/filters/{id}")
@authenticated("write:filters")
async def delete(request: web.Request) -> web.Response:
    if not await store.delete_filter(request.app[POOL], _member(request), path_id(request)):
        raise not_found()
    return json_response({})


# -- keywords -------------------------------------------------------------------------------------


@routes.get("/api/v2/filters/{id}/keywords")
@authenticated("read:filters")
async def keywords(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    row = await _own_filter(request, pool)
    return json_response([render_keyword(k) for k in await store.keywords_of(pool, [row["id"]])])


@routes.post("/api/v2/filters/{id}/keywords")
@authenticated("write:filters")
async def add_keyword(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    keyword = _keyword(await read_params(request))
    row = await _own_filter(request, pool)
    return json_response(render_keyword(await store.insert_keyword(pool, row["id"], *keyword)))


async def _own_keyword(request: web.Request) -> asyncpg.Record:
    row = await store.get_keyword(request.app[POOL], _member(request), path_id(request))
    if row is None:
        raise not_found()
    return row


@routes.get("/api/v2/filters/keywords/{id}")
@authenticated("read:filters")
async def show_keyword(request: web.Request) -> web.Response:
    return json_response(render_keyword(await _own_keyword(request)))


@routes.put("/api/v2/filters/keywords/{id}")
@authenticated("write:filters")
async def update_keyword(request: web.Request) -> web.Response:
    params = await read_params(request)
    row = await _own_keyword(request)
    keyword = params.str("keyword", row["keyword"], max_length=MAX_KEYWORD)
    if not keyword:
        raise invalid("keyword can't be blank")
    whole_word = params.bool("whole_word", row["whole_word"])
    updated = await store.update_keyword(
        request.app[POOL], row["filter_id"], row["id"], keyword, whole_word
    )
    if updated is None:
        raise not_found()
    return json_response(render_keyword(updated))


@routes.delete("/api/v2/filters/keywords/{id}")
@authenticated("write:filters")
async def delete_keyword(request: web.Request) -> web.Response:
    row = await _own_keyword(request)
    await store.delete_keyword(request.app[POOL], row["filter_id"], row["id"])
    return json_response({})


# -- statuses -------------------------------------------------------------------------------------


@routes.get("/api/v2/filters/{id}/statuses")
@authenticated("read:filters")
async def statuses(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    row = await _own_filter(request, pool)
    rows = await store.statuses_of(pool, [row["id"]])
    return json_response([render_filter_status(s) for s in rows])


@routes.post("/api/v2/filters/{id}/statuses")
@authenticated("write:filters")
async def add_status(request: web.Request) -> web.Response:
    """Filter one status the member can read; adding it twice is a validation error."""
    pool = request.app[POOL]
    params = await read_params(request)
    if not params.str("status_id"):
        raise invalid("status_id can't be blank")
    row = await _own_filter(request, pool)
    status_id = parse_id(params.raw("status_id"))
    status = (
        await status_store.get_readable_status(pool, status_id, _member(request))
        if status_id is not None
        else None
    )
    if status is None:
        raise not_found()
    created = await store.insert_filter_status(pool, row["id"], status["id"])
    if created is None:
        raise invalid("status_id has already been taken")
    return json_response(render_filter_status(created))


async def _own_filter_status(request: web.Request) -> asyncpg.Record:
    row = await store.get_filter_status(request.app[POOL], _member(request), path_id(request))
    if row is None:
        raise not_found()
    return row


@routes.get("/api/v2/filters/statuses/{id}")
@authenticated("read:filters")
async def show_status(request: web.Request) -> web.Response:
    return json_response(render_filter_status(await _own_filter_status(request)))


@routes.delete("/api/v2/filters/statuses/{id}")
@authenticated("write:filters")
async def delete_status(request: web.Request) -> web.Response:
    row = await _own_filter_status(request)
    await store.delete_filter_status(request.app[POOL], row["id"])
    return json_response({})
