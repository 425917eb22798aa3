"""Mastodon's admin reports API: staff list reports, take them, resolve and reopen them."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from federation.errors import not_found
from server.auth import authenticated, member_id
from server.entities.admin import render_admin_reports
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import path_id, read_params
from server.state import POOL, URLS
from server.usecases import reports
from storage import reports as store

routes = web.RouteTableDef()

LIST_DEFAULT = 100
LIST_MAX = 200


async def _render_one(request: web.Request, report: asyncpg.Record) -> web.Response:
    (entity,) = await render_admin_reports(
        request.app[POOL], [report], request.app[URLS], member_id(request)
    )
    return json_response(entity)


@routes.get("/api/v1/admin/reports")
@authenticated("admin:read:reports", staff=True)
async def index(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    rows = await store.list_reports(
        request.app[POOL],
        page,
        resolved=bool(params.bool("resolved", False)),
        account_id=params.id("account_id"),
        target_account_id=params.id("target_account_id"),
    )
    entities = await render_admin_reports(
        request.app[POOL], rows, request.app[URLS], member_id(request)
    )
    return json_response(entities, headers=link_header(request, [row["id"] for row in rows]))


@routes.get("/api/v1/admin/reports/{id}")
@authenticated("admin:read:reports", staff=True)
async def show(request: web.Request) -> web.Response:
    report = await store.get_report(request.app[POOL], path_id(request))
    if report is None:
        raise not_found()
    return await _render_one(request, report)


@routes.post("/api/v1/admin/reports/{id}/assign_to_self")
@authenticated("admin:write:reports", staff=True)
async def assign_to_self(request: web.Request) -> web.Response:
    me = member_id(request)
    report = await reports.assign(
        request.app[POOL], actor_id=me, report_id=path_id(request), assignee_id=me
    )
    return await _render_one(request, report)


@routes.post("/api/v1/admin/reports/{id}/unassign")
@authenticated("admin:write:reports", staff=True)
async def unassign(request: web.Request) -> web.Response:
    report = await reports.assign(
        request.app[POOL],
        actor_id=member_id(request),
        report_id=path_id(request),
        assignee_id=None,
    )
    return await _render_one(request, report)


async def _set_resolved(request: web.Request, resolved: bool) -> web.Response:
    report = await reports.set_resolved(
        request.app[POOL],
        actor_id=member_id(request),
        report_id=path_id(request),
        resolved=resolved,
    )
    return await _render_one(request, report)


@routes.post("/api/v1/admin/reports/{id}/resolve")
@authenticated("admin:write:reports", staff=True)
async def resolve(request: web.Request) -> web.Response:
    return await _set_resolved(request, True)


@routes.post("/api/v1/admin/reports/{id}/reopen")
@authenticated("admin:write:reports", staff=True)
async def reopen(request: web.Request) -> web.Response:
    return await _set_resolved(request, False)
