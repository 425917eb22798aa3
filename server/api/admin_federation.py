"""How this instance federates, for admins: `GET /api/v1/admin/federation` and
`PUT /api/v1/admin/federation` with `mode` ("open" or "allowlist"), `authorized_fetch` and/or
`remote_media` ("link": remote attachments shown from their origin; "cache": copied here).

Mastodon sets both in its environment (LIMITED_FEDERATION_MODE, AUTHORIZED_FETCH); Kith keeps
them in `instance_settings` so an admin can change them at run time. Admins only (a moderator
gets 403, as for domain allows); every change is audited by
`server/usecases/federation_settings.py`. `authorized_fetch` is the setting as stored;
`authorized_fetch_effective` says whether it is in force (allowlist mode implies it), and
`domain_allows` how many domains the allowlist admits.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.errors import KithError
from server.auth import admin_id, authenticated
from server.json import json_response
from server.params import read_params
from server.state import POOL
from server.usecases import federation_settings as service

routes = web.RouteTableDef()


def render(settings: service.FederationSettings) -> dict[str, Any]:
    return {
        "mode": settings.mode,
        "authorized_fetch": settings.authorized_fetch,
        "authorized_fetch_effective": settings.authorized_fetch_effective,
        "domain_allows": settings.allows,
        "remote_media": settings.remote_media,
    }


@routes.get("/api/v1/admin/federation")
@authenticated("admin:read", staff=True)
async def show(request: web.Request) -> web.Response:
    admin_id(request)
    return json_response(render(await service.current(request.app[POOL])))


@routes.put("/api/v1/admin/federation")
@authenticated("admin:write", staff=True)
async def update(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    mode = params.str("mode", max_length=20)
    authorized_fetch = params.bool("authorized_fetch")
    remote_media = params.str("remote_media", max_length=20)
    if mode is None and authorized_fetch is None and remote_media is None:
        raise KithError(
            422, "Validation failed: mode, authorized_fetch or remote_media must be given"
        )
    updated = await service.change(
        request.app[POOL],
        mode=mode,
        authorized_fetch=authorized_fetch,
        remote_media=remote_media,
        actor_id=actor_id,
    )
    return json_response(render(updated))
