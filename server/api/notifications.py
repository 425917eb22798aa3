"""Notifications: `/api/v1/notifications` (list, show, dismiss, clear)."""

from __future__ import annotations

from aiohttp import web

from federation.errors import not_found
from server import filtering
from server.auth import authenticated, member_id
from server.entities.notifications import render_notifications
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import path_id, read_params
from server.state import POOL, URLS
from storage import notification_reads as store

routes = web.RouteTableDef()

DEFAULT_LIMIT = 40
MAX_LIMIT = 80


def _member(request: web.Request) -> int:
    account_id = member_id(request)
    assert account_id is not None  # @authenticated requires a member
    return account_id


@routes.get("/api/v1/notifications")
@authenticated("read:notifications")
async def index(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    member = _member(request)
    types = [str(t) for t in params.list("types")]
    from_account = params.id("account_id")
    if from_account is None and params.str("account_id"):
        return json_response([])  # not an id, so no account sent any
    rows = await store.list_notifications(
        request.app[POOL],
        member,
        page,
        types=types or None,
        exclude_types=[str(t) for t in params.list("exclude_types")],
        from_account_id=from_account,
    )
    entities = await render_notifications(request.app[POOL], rows, request.app[URLS], member)
    matcher = await filtering.load_matcher(request.app[POOL], member, "notifications")
    entities = filtering.apply_to_notifications(entities, matcher)
    return json_response(entities, headers=link_header(request, [r["id"] for r in rows]))


@routes.get("/api/v1/notifications/{id}")
@authenticated("read:notifications")
async def show(request: web.Request) -> web.Response:
    member = _member(request)
    row = await store.get_notification(request.app[POOL], member, path_id(request))
    if row is None:
        raise not_found()
    entities = await render_notifications(request.app[POOL], [row], request.app[URLS], member)
    if not entities:
        raise not_found()
    return json_response(entities[0])


@routes.post("/api/v1/notifications/clear")
@authenticated("write:notifications")
async def clear(request: web.Request) -> web.Response:
    await store.clear(request.app[POOL], _member(request))
    return json_response({})


@routes.post("/api/v1/notifications/{id}/dismiss")
@authenticated("write:notifications")
async def dismiss(request: web.Request) -> web.Response:
    if not await store.dismiss(request.app[POOL], _member(request), path_id(request)):
        raise not_found()
    return json_response({})
