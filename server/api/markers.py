"""Mastodon's markers (`/api/v1/markers`): where a member stopped reading her home timeline and
her notifications, shared by every app she uses.

Like Mastodon, a marker is only a position: it is not checked against what the member may read,
and an unknown timeline name is ignored rather than refused.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from federation.errors import KithError
from server.auth import authenticated, member_id
from server.entities.common import iso
from server.json import json_response
from server.params import parse_id, read_params
from server.state import POOL
from server.usecases.actors import Actor
from server.usecases.markers import save_markers
from storage import markers as store


def _render(rows: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        row["timeline"]: {
            "last_read_id": str(row["last_read_id"]),
            "version": row["version"],
            "updated_at": iso(row["updated_at"]),
        }
        for row in rows
    }


routes = web.RouteTableDef()


@routes.get("/api/v1/markers")
@authenticated("read:statuses")
async def index(request: web.Request) -> web.Response:
    wanted = [t for t in (await read_params(request)).list("timeline") if t in store.TIMELINES]
    rows = await store.markers_of(request.app[POOL], member_id(request), wanted)
    return json_response(_render(rows))


@routes.post("/api/v1/markers")
@authenticated("write:statuses")
async def create(request: web.Request) -> web.Response:
    params = await read_params(request)
    positions = {}
    for timeline in store.TIMELINES:
        marker = params.dict(timeline)
        if marker is None:
            continue
        last_read_id = parse_id(marker.get("last_read_id"))
        if last_read_id is None:
            raise KithError(422, f"Validation failed: {timeline}[last_read_id] is not an id")
        positions[timeline] = last_read_id
    rows = await save_markers(request.app[POOL], Actor.member(member_id(request)), positions)
    return json_response(_render(rows))
