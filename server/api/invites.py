"""Invites: `GET/POST /api/v1/invites` and `DELETE /api/v1/invites/:id` (Kith's own API; Mastodon
has none for clients). A code is redeemed by signing up with `invite_code`
(`POST /api/v1/accounts`).

Admins set how sign-ups work at `GET/PUT /api/v1/admin/registrations`: `mode` (open, approval,
invite, closed) and `members_may_invite`; moderators get 403, and every change is audited.
"""

from __future__ import annotations

from aiohttp import web

from federation.errors import KithError
from server.auth import admin_id, authenticated, current, member_id
from server.entities.invites import render_invite
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import Params, path_id, read_params
from server.state import POOL, URLS
from server.usecases import invites as service
from storage import invites as store

routes = web.RouteTableDef()


@routes.get("/api/v1/invites")
@authenticated("read:accounts")
async def index(request: web.Request) -> web.Response:
    """The caller's own invites, newest first, used-up and expired ones included."""
    page = page_from(await read_params(request))
    rows = await store.list_invites(request.app[POOL], member_id(request), page)
    return json_response(
        [render_invite(row, request.app[URLS]) for row in rows],
        headers=link_header(request, [row["id"] for row in rows]),
    )


def _limit(params: Params, name: str) -> int | None:
    """A whole number (the service checks its range), or None when absent, empty or null: no
    limit."""
    if params.raw(name) in (None, ""):
        return None
    return params.int(name)


@routes.post("/api/v1/invites")
@authenticated("write:accounts")
async def create(request: web.Request) -> web.Response:
    """`max_uses` (uses allowed) and `expires_in` (seconds), each optional."""
    params = await read_params(request)
    invite = await service.create_invite(
        request.app[POOL],
        account_id=member_id(request),
        is_staff=current(request).is_staff,
        max_uses=_limit(params, "max_uses"),
        expires_in=_limit(params, "expires_in"),
    )
    return json_response(render_invite(invite, request.app[URLS]))


@routes.delete("/api/v1/invites/{id}")
@authenticated("write:accounts")
async def expire(request: web.Request) -> web.Response:
    invite = await service.expire_invite(
        request.app[POOL],
        account_id=member_id(request),
        is_staff=current(request).is_staff,
        invite_id=path_id(request),
    )
    return json_response(render_invite(invite, request.app[URLS]))


@routes.get("/api/v1/admin/registrations")
@authenticated("admin:read", staff=True)
async def show_registrations(request: web.Request) -> web.Response:
    admin_id(request)
    return json_response(await service.registration_settings(request.app[POOL]))


@routes.put("/api/v1/admin/registrations")
@authenticated("admin:write", staff=True)
async def update_registrations(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    mode = params.str("mode", max_length=20)
    may_invite = params.bool("members_may_invite")
    if mode is None and may_invite is None:
        raise KithError(422, "Validation failed: mode or members_may_invite must be given")
    updated = await service.change_registrations(
        request.app[POOL], mode=mode, members_may_invite=may_invite, actor_id=actor_id
    )
    return json_response(updated)
