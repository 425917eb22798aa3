"""How many options a poll may have, for admins: `GET /api/v1/admin/polls` and
`PUT /api/v1/admin/polls` with `max_options` (Kith's extension; Mastodon fixes it in its code).
`/api/v1/instance` and `/api/v2/instance` report it at once. Admins only (a moderator gets
403); every change is audited by `server.usecases.polls.set_max_options`."""

from __future__ import annotations

from aiohttp import web

from federation.errors import invalid
from server.auth import admin_id, authenticated
from server.json import json_response
from server.limits import POLL_MAX_OPTIONS
from server.params import read_params
from server.state import POOL
from server.usecases import polls

routes = web.RouteTableDef()


def render(max_options: int) -> dict[str, int]:
    return {"max_options": max_options, "default_max_options": POLL_MAX_OPTIONS}


@routes.get("/api/v1/admin/polls")
@authenticated("admin:read", staff=True)
async def show(request: web.Request) -> web.Response:
    admin_id(request)
    return json_response(render(await polls.max_options(request.app[POOL])))


@routes.put("/api/v1/admin/polls")
@authenticated("admin:write", staff=True)
async def update(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    value = (await read_params(request)).int("max_options")
    if value is None:
        raise invalid("max_options must be given")
    updated = await polls.set_max_options(request.app[POOL], value, actor_id=actor_id)
    return json_response(render(updated))
