"""Filters v2: `/api/v2/filters`, their keywords and their statuses.

Handlers read parameters and render; what a change does (ownership, validation, transactions)
is `server.usecases.filters`.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from federation.errors import invalid, not_found
from server.auth import authenticated, member_id
from server.filtering import render_filter_status, render_filters, render_keyword
from server.json import json_response
from server.params import Params, parse_id, path_id, read_params
from server.state import POOL
from server.usecases import filters
from server.usecases.filters import FilterChanges, KeywordChange

routes = web.RouteTableDef()


async def _filter_response(request: web.Request, row: asyncpg.Record) -> web.Response:
    return json_response((await render_filters(request.app[POOL], [row]))[0])


# -- reading parameters ---------------------------------------------------------------------------


def _changes(params: Params) -> FilterChanges:
    """What the request gives; a field left out is None (an update keeps it)."""
    has_context = "context" in params or "context[]" in params
    return FilterChanges(
        title=params.str("title"),
        context=[str(value) for value in params.list("context")] if has_context else None,
        filter_action=params.str("filter_action"),
        expires_in=params.duration("expires_in"),
        sets_expiry="expires_in" in params,
        keywords=_keyword_changes(params),
    )


def _keyword_changes(params: Params) -> list[KeywordChange]:
    """`keywords_attributes[]`: a JSON list of objects or an indexed form (`[0][keyword]=`); an
    `id` that cannot be one names no keyword (404)."""
    items = params.list("keywords_attributes")
    if not all(isinstance(item, dict) for item in items):
        raise invalid("keywords_attributes must be a list of objects")
    changes = []
    for item in map(Params, items):
        keyword_id = item.id("id")
        if keyword_id is None and "id" in item:
            raise not_found()
        if keyword_id is not None and item.bool("_destroy", False):
            changes.append(KeywordChange(keyword=None, id=keyword_id, destroy=True))
        else:
            keyword, whole_word = item.str("keyword"), item.bool("whole_word", True)
            changes.append(KeywordChange(keyword=keyword, whole_word=whole_word, id=keyword_id))
    return changes


# -- filters --------------------------------------------------------------------------------------


@routes.get("/api/v2/filters")
@authenticated("read:filters")
async def index(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    rows = await filters.list_filters(pool, member_id(request))
    return json_response(await render_filters(pool, rows))


@routes.post("/api/v2/filters")
@authenticated("write:filters")
async def create(request: web.Request) -> web.Response:
    changes = _changes(await read_params(request))
    row = await filters.create_filter(request.app[POOL], member_id(request), changes)
    return await _filter_response(request, row)


@routes.get("/api/v2/filters/{id}")
@authenticated("read:filters")
async def show(request: web.Request) -> web.Response:
    row = await filters.get_filter(request.app[POOL], member_id(request), path_id(request))
    return await _filter_response(request, row)


@routes.put("/api/v2/filters/{id}")
@authenticated("write:filters")
async def update(request: web.Request) -> web.Response:
    """Change what is given; `expires_in` given empty removes the expiry."""
    changes = _changes(await read_params(request))
    row = await filters.update_filter(
        request.app[POOL], member_id(request), path_id(request), changes
    )
    return await _filter_response(request, row)


@routes.delete("/api/v2/filters/{id}")
@authenticated("write:filters")
async def delete(request: web.Request) -> web.Response:
    await filters.delete_filter(request.app[POOL], member_id(request), path_id(request))
    return json_response({})


# -- keywords -------------------------------------------------------------------------------------


@routes.get("/api/v2/filters/{id}/keywords")
@authenticated("read:filters")
async def keywords(request: web.Request) -> web.Response:
    rows = await filters.keywords_of(request.app[POOL], member_id(request), path_id(request))
    return json_response([render_keyword(row) for row in rows])


@routes.post("/api/v2/filters/{id}/keywords")
@authenticated("write:filters")
async def add_keyword(request: web.Request) -> web.Response:
    params = await read_params(request)
    row = await filters.add_keyword(
        request.app[POOL],
        member_id(request),
        path_id(request),
        params.str("keyword"),
        params.bool("whole_word", True),
    )
    return json_response(render_keyword(row))


@routes.get("/api/v2/filters/keywords/{id}")
@authenticated("read:filters")
async def show_keyword(request: web.Request) -> web.Response:
    row = await filters.get_keyword(request.app[POOL], member_id(request), path_id(request))
    return json_response(render_keyword(row))


@routes.put("/api/v2/filters/keywords/{id}")
@authenticated("write:filters")
async def update_keyword(request: web.Request) -> web.Response:
    params = await read_params(request)
    row = await filters.update_keyword(
        request.app[POOL],
        member_id(request),
        path_id(request),
        params.str("keyword"),
        params.bool("whole_word"),
    )
    return json_response(render_keyword(row))


@routes.delete("/api/v2/filters/keywords/{id}")
@authenticated("write:filters")
async def delete_keyword(request: web.Request) -> web.Response:
    await filters.delete_keyword(request.app[POOL], member_id(request), path_id(request))
    return json_response({})


# -- statuses -------------------------------------------------------------------------------------


@routes.get("/api/v2/filters/{id}/statuses")
@authenticated("read:filters")
async def statuses(request: web.Request) -> web.Response:
    rows = await filters.statuses_of(request.app[POOL], member_id(request), path_id(request))
    return json_response([render_filter_status(row) for row in rows])


@routes.post("/api/v2/filters/{id}/statuses")
@authenticated("write:filters")
async def add_status(request: web.Request) -> web.Response:
    """Filter one status the member can read; adding it twice is a validation error."""
    params = await read_params(request)
    if not params.str("status_id"):
        raise invalid("status_id can't be blank")
    row = await filters.add_status(
        request.app[POOL], member_id(request), path_id(request), parse_id(params.raw("status_id"))
    )
    return json_response(render_filter_status(row))


@routes.get("/api/v2/filters/statuses/{id}")
@authenticated("read:filters")
async def show_status(request: web.Request) -> web.Response:
    row = await filters.get_filter_status(request.app[POOL], member_id(request), path_id(request))
    return json_response(render_filter_status(row))


@routes.delete("/api/v2/filters/statuses/{id}")
@authenticated("write:filters")
async def delete_status(request: web.Request) -> web.Response:
    await filters.delete_status(request.app[POOL], member_id(request), path_id(request))
    return json_response({})
