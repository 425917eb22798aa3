"""The admin API of the incoming-content policy pipeline (a Kith extension). Configuring policies
and releasing or discarding held activities is for admins only, like domain blocks (a moderator
gets 403); the decisions and the review queue are readable by all staff.

- `GET /api/v1/admin/policies`: the policies in pipeline order;
- `POST /api/v1/admin/policies`: `kind`, `config` (a JSON object, or its text in a form),
  `position` (1-based; default last), `dry_run`, `enabled`; a config its kind's JSON Schema
  refuses is a 422 saying why;
- `GET`, `PUT` (any of `config`, `position`, `enabled`, `dry_run`), `DELETE
  /api/v1/admin/policies/:id`;
- `GET /api/v1/admin/policy_decisions` (paginated, newest first; `activity_uri` filters);
- `GET /api/v1/admin/held_activities` (awaiting review), `POST .../:id/release` and
  `POST .../:id/discard`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from aiohttp import web

from federation.errors import KithError, not_found
from server.auth import admin_id, authenticated
from server.entities.common import iso
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import Params, path_id, read_params
from server.state import POOL
from server.usecases import policies as service
from storage import policies as store

routes = web.RouteTableDef()

LIST_DEFAULT = 40
LIST_MAX = 200


def render_policy(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "config": row["config"],
        "position": row["position"],
        "enabled": row["enabled"],
        "dry_run": row["dry_run"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def render_decision(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "activity_uri": row["activity_uri"],
        "actor_uri": row["actor_uri"],
        "policy_id": str(row["policy_id"]) if row["policy_id"] is not None else None,
        "policy_kind": row["policy_kind"],
        "action": row["action"],
        "reason": row["reason"],
        "dry_run": row["dry_run"],
        "source": row["source"],
        "created_at": iso(row["created_at"]),
    }


def render_held(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "activity_uri": row["activity_uri"],
        "actor_uri": row["actor_uri"],
        "type": row["type"],
        "policy_id": str(row["policy_id"]) if row["policy_id"] is not None else None,
        "policy_kind": row["policy_kind"],
        "reason": row["reason"],
        "state": row["state"],
        "created_at": iso(row["created_at"]),
        "activity": row["payload"],
    }


def _config(params: Params) -> Any:
    """`config` as sent: an object in JSON, or the text of one in a form."""
    value = params.raw("config")
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise KithError(422, "Validation failed: config is not valid JSON") from None
    if not isinstance(value, dict):
        raise KithError(422, "Validation failed: config must be a JSON object")
    return value


def _position(params: Params) -> int | None:
    return params.int("position")


@routes.get("/api/v1/admin/policies")
@authenticated("admin:read", staff=True)
async def list_policies(request: web.Request) -> web.Response:
    admin_id(request)
    rows = await store.list_policies(request.app[POOL])
    return json_response([render_policy(row) for row in rows])


@routes.post("/api/v1/admin/policies")
@authenticated("admin:write", staff=True)
async def create_policy(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    kind = params.required_str("kind", max_length=100)
    service.check_kind(kind)
    policy = await service.create_policy(
        request.app[POOL],
        kind,
        _config(params),
        position=_position(params),
        enabled=params.bool("enabled", True),
        dry_run=params.bool("dry_run", False),
        actor_id=actor_id,
    )
    return json_response(render_policy(policy))


@routes.get("/api/v1/admin/policies/{id}")
@authenticated("admin:read", staff=True)
async def show_policy(request: web.Request) -> web.Response:
    admin_id(request)
    policy = await store.get_policy(request.app[POOL], path_id(request))
    if policy is None:
        raise not_found()
    return json_response(render_policy(policy))


@routes.put("/api/v1/admin/policies/{id}")
@authenticated("admin:write", staff=True)
async def update_policy(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    fields: dict[str, Any] = {}
    if "config" in params:
        fields["config"] = _config(params)
    for name in ("enabled", "dry_run"):
        value = params.bool(name)
        if value is not None:
            fields[name] = value
    if (position := _position(params)) is not None:
        fields["position"] = position
    policy = await service.update_policy(
        request.app[POOL], path_id(request), fields, actor_id=actor_id
    )
    return json_response(render_policy(policy))


@routes.delete("/api/v1/admin/policies/{id}")
@authenticated("admin:write", staff=True)
async def delete_policy(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    await service.delete_policy(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response({})


@routes.get("/api/v1/admin/policy_decisions")
@authenticated("admin:read", staff=True)
async def list_decisions(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    rows = await store.list_decisions(
        request.app[POOL], page, activity_uri=params.str("activity_uri", max_length=2048)
    )
    return json_response(
        [render_decision(row) for row in rows],
        headers=link_header(request, [row["id"] for row in rows]),
    )


@routes.get("/api/v1/admin/held_activities")
@authenticated("admin:read", staff=True)
async def list_held(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    rows = await store.list_held(request.app[POOL], page)
    return json_response(
        [render_held(row) for row in rows],
        headers=link_header(request, [row["id"] for row in rows]),
    )


@routes.post("/api/v1/admin/held_activities/{id}/release")
@authenticated("admin:write", staff=True)
async def release(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    held = await service.release(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response(render_held(held))


@routes.post("/api/v1/admin/held_activities/{id}/discard")
@authenticated("admin:write", staff=True)
async def discard(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    held = await service.discard(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response(render_held(held))
