"""Block-list subscriptions for admins (Mastodon has no such API; Kith's own, shaped like its
admin API): `/api/v1/admin/blocklist_subscriptions`.

- `GET`, `POST` (url, max_severity, mode, interval_hours) the collection;
- `GET`, `PUT` (the same settings but url), `DELETE` (retracts its blocks) one subscription;
- `POST .../:id/refresh` fetches the list now and answers with the subscription afterwards;
- `GET .../:id/pending` lists the changes a review-mode subscription holds, and
  `POST .../:id/pending/:change_id/approve` or `/reject` decides one.

Admins only (a moderator gets 403, as for domain blocks), with `admin:read` or `admin:write`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from federation.context import FEDERATION
from federation.domains import SEVERITIES
from federation.errors import KithError, not_found
from server.auth import admin_id, authenticated
from server.entities.common import iso
from server.json import json_response
from server.params import Params, path_id, read_params
from server.state import POOL
from server.usecases.blocklists import refresh
from server.usecases.blocklists import subscriptions as service
from storage import blocklist_subscriptions as store

routes = web.RouteTableDef()

BASE = "/api/v1/admin/blocklist_subscriptions"
COUNTS = ("entries_count", "pending_count", "listed_count", "obfuscated_count", "invalid_count")


def render_subscription(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "max_severity": row["max_severity"],
        "mode": row["mode"],
        "interval_hours": row["interval_hours"],
        "format": row["format"],
        "last_fetched_at": iso(row["last_fetched_at"]),
        "last_success_at": iso(row["last_success_at"]),
        "last_error": row["last_error"],
        "next_refresh_at": iso(row["next_refresh_at"]),
        **{name: row[name] for name in COUNTS},
        "created_at": iso(row["created_at"]),
    }


def render_change(row: asyncpg.Record, max_severity: str) -> dict[str, Any]:
    """A held change; `applied_severity` is its severity under the subscription's cap."""
    severity = row["severity"]
    capped = None
    if severity is not None:
        capped = min(severity, max_severity, key=SEVERITIES.index)
    return {
        "id": str(row["id"]),
        "domain": row["domain"],
        "action": row["action"],
        "state": row["state"],
        "severity": severity,
        "applied_severity": capped,
        "previous_severity": row["previous_severity"],
        "reject_media": row["reject_media"],
        "reject_reports": row["reject_reports"],
        "obfuscate": row["obfuscate"],
        "public_comment": row["public_comment"] or None,
        "created_at": iso(row["created_at"]),
    }


def _settings(params: Params) -> dict[str, Any]:
    """The settings the request sends (an update changes only those)."""
    settings: dict[str, Any] = {}
    for name in ("max_severity", "mode"):
        value = params.str(name, max_length=20)
        if value is not None:
            settings[name] = value
    if params.raw("interval_hours") not in (None, ""):
        settings["interval_hours"] = params.int("interval_hours")
    return settings


async def _subscription(request: web.Request) -> asyncpg.Record:
    row = await store.get_subscription(request.app[POOL], path_id(request))
    if row is None:
        raise not_found()
    return row


def _change_id(request: web.Request) -> int:
    return path_id(request, "change_id")


@routes.get(BASE)
@authenticated("admin:read", staff=True)
async def list_subscriptions(request: web.Request) -> web.Response:
    admin_id(request)
    rows = await store.list_subscriptions(request.app[POOL])
    return json_response([render_subscription(row) for row in rows])


@routes.post(BASE)
@authenticated("admin:write", staff=True)
async def subscribe(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    url = params.required_str("url", max_length=4096)
    row = await service.subscribe(
        request.app[POOL],
        url,
        _settings(params),
        actor_id=actor_id,
        allow_http=request.app[FEDERATION].allow_private_addresses,
    )
    return json_response(render_subscription(row))


@routes.get(BASE + "/{id}")
@authenticated("admin:read", staff=True)
async def show(request: web.Request) -> web.Response:
    admin_id(request)
    return json_response(render_subscription(await _subscription(request)))


@routes.put(BASE + "/{id}")
@authenticated("admin:write", staff=True)
async def update(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    if "url" in params:
        raise KithError(422, "Validation failed: URL cannot be changed; subscribe to the new one")
    row = await service.update(
        request.app[POOL], path_id(request), _settings(params), actor_id=actor_id
    )
    return json_response(render_subscription(row))


@routes.delete(BASE + "/{id}")
@authenticated("admin:write", staff=True)
async def unsubscribe(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    await service.unsubscribe(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response({})


@routes.post(BASE + "/{id}/refresh")
@authenticated("admin:write", staff=True)
async def refresh_now(request: web.Request) -> web.Response:
    """What the list says is applied as an automatic decision (audit actor none), as when the
    job refreshes it: the admin asked for the fetch, not for its content."""
    admin_id(request)
    row = await refresh(request.app[FEDERATION], path_id(request))
    return json_response(render_subscription(row))


@routes.get(BASE + "/{id}/pending")
@authenticated("admin:read", staff=True)
async def pending(request: web.Request) -> web.Response:
    admin_id(request)
    row = await _subscription(request)
    held = await store.changes(request.app[POOL], row["id"], state="pending")
    return json_response([render_change(change, row["max_severity"]) for change in held])


@routes.post(BASE + "/{id}/pending/{change_id}/approve")
@authenticated("admin:write", staff=True)
async def approve(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    subscription_id = path_id(request)
    await service.approve(
        request.app[POOL], subscription_id, _change_id(request), actor_id=actor_id
    )
    return json_response(render_subscription(await _subscription(request)))


@routes.post(BASE + "/{id}/pending/{change_id}/reject")
@authenticated("admin:write", staff=True)
async def reject(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    subscription_id = path_id(request)
    await service.reject(request.app[POOL], subscription_id, _change_id(request), actor_id=actor_id)
    return json_response(render_subscription(await _subscription(request)))
