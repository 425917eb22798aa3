"""Mastodon's admin accounts API (v1): staff list, inspect and moderate accounts.

Every change goes through `server.usecases.moderation`, which writes the audit record.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from federation.errors import invalid, not_found
from server.auth import authenticated, member_id, staff_role
from server.entities.admin import render_admin_account
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import Params, path_id, read_params
from server.state import POOL, URLS
from server.usecases import moderation
from storage import admin_accounts as store
from storage.admin_accounts import AccountFilter
from storage.pagination import Page

routes = web.RouteTableDef()

LIST_DEFAULT = 100
LIST_MAX = 200
_STATUSES = ("active", "pending", "disabled", "silenced", "suspended")


def _filters(params: Params) -> AccountFilter:
    origin = "local" if params.bool("local") else "remote" if params.bool("remote") else None
    status = next((name for name in _STATUSES if params.bool(name)), None)
    return AccountFilter(
        origin=origin,
        status=status,
        staff=bool(params.bool("staff")),
        username=params.str("username", max_length=100),
        display_name=params.str("display_name", max_length=100),
        email=params.str("email", max_length=200),
        domain=params.str("by_domain", max_length=253),
    )


def _filters_v2(params: Params) -> AccountFilter:
    """v2's filters: `origin`, `status` and `permissions` name what v1 spells as flags."""
    origin = params.str("origin", max_length=20)
    status = params.str("status", max_length=20)
    permissions = params.str("permissions", max_length=20)
    if origin not in (None, "", "local", "remote"):
        raise invalid("origin must be local or remote")
    if status not in (None, "", *_STATUSES):
        raise invalid(f"status must be one of {', '.join(_STATUSES)}")
    if permissions not in (None, "", "staff"):
        raise invalid("permissions must be staff")
    invited_by = params.id("invited_by")
    if params.str("invited_by") and invited_by is None:
        invited_by = 0  # not an id, so nobody invited anyone with it
    return AccountFilter(
        origin=origin or None,
        status=status or None,
        staff=permissions == "staff",
        username=params.str("username", max_length=100),
        display_name=params.str("display_name", max_length=100),
        email=params.str("email", max_length=200),
        domain=params.str("by_domain", max_length=253),
        invited_by=invited_by,
    )


async def _render(request: web.Request, account_id: int) -> web.Response:
    row = await store.get_admin_account(request.app[POOL], account_id)
    if row is None:
        raise not_found()
    return json_response(render_admin_account(row, request.app[URLS]))


async def _list(request: web.Request, filters: AccountFilter, page: Page) -> web.Response:
    rows = await store.list_accounts(
        request.app[POOL], page, filters, exclude_uri=request.app[URLS].instance_actor()
    )
    return json_response(
        [render_admin_account(row, request.app[URLS]) for row in rows],
        headers=link_header(request, [row["id"] for row in rows]),
    )


@routes.get("/api/v1/admin/accounts")
@authenticated("admin:read:accounts", staff=True)
async def index(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    return await _list(request, _filters(params), page)


@routes.get("/api/v2/admin/accounts")
@authenticated("admin:read:accounts", staff=True)
async def index_v2(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    return await _list(request, _filters_v2(params), page)


@routes.get("/api/v1/admin/accounts/{id}")
@authenticated("admin:read:accounts", staff=True)
async def show(request: web.Request) -> web.Response:
    return await _render(request, path_id(request))


async def _moderate(
    request: web.Request, action: str, *, reason: str = "", report_id: int | None = None
) -> int:
    account_id = path_id(request)
    await moderation.moderate(
        request.app[POOL],
        actor_id=member_id(request),
        actor_role=staff_role(request),
        account_id=account_id,
        action=action,
        reason=reason,
        report_id=report_id,
    )
    return account_id


@routes.post("/api/v1/admin/accounts/{id}/action")
@authenticated("admin:write:accounts", staff=True)
async def action(request: web.Request) -> web.Response:
    """`type` none|sensitive|disable|silence|suspend, `text` a warning, `report_id` resolved."""
    params = await read_params(request)
    kind = params.str("type", "none")
    if kind not in moderation.ACTION_TYPES:
        raise invalid(f"type must be one of {', '.join(moderation.ACTION_TYPES)}")
    report_id = params.id("report_id")
    if "report_id" in params and report_id is None:
        raise not_found()
    await _moderate(
        request, kind, reason=params.str("text", "", max_length=5000), report_id=report_id
    )
    return json_response({})


@routes.post("/api/v1/admin/accounts/{id}/reject")
@authenticated("admin:write:accounts", staff=True)
async def reject(request: web.Request) -> web.Response:
    """Rejecting deletes the pending account; Mastodon answers with what it was."""
    row = await store.get_admin_account(request.app[POOL], path_id(request))
    if row is None:
        raise not_found()
    await _moderate(request, "reject")
    return json_response(render_admin_account(row, request.app[URLS]))


def _simple(action_name: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return await _render(request, await _moderate(request, action_name))

    handler.__name__ = action_name
    return authenticated("admin:write:accounts", staff=True)(handler)


for _name in ("approve", "enable", "unsilence", "unsuspend", "unsensitive"):
    routes.post(f"/api/v1/admin/accounts/{{id}}/{_name}")(_simple(_name))
