"""`GET /api/v1/admin/audit_log` (a Kith extension): staff read who did what, and why."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from federation.urls import LocalUrls
from server.auth import authenticated
from server.entities.accounts import render_account
from server.entities.common import iso
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import read_params
from server.state import POOL, URLS
from storage import accounts as account_store
from storage import audit

routes = web.RouteTableDef()

LIST_DEFAULT = 40
LIST_MAX = 200


def render_entry(row: asyncpg.Record, actors: dict[int, Any], urls: LocalUrls) -> dict[str, Any]:
    actor = actors.get(row["account_id"])
    return {
        "id": str(row["id"]),
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "detail": row["detail"],
        "reason": row["reason"],
        "created_at": iso(row["created_at"]),
        "account": render_account(actor, urls) if actor is not None else None,
    }


@routes.get("/api/v1/admin/audit_log")
@authenticated("admin:read", staff=True)
async def index(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params, default=LIST_DEFAULT, maximum=LIST_MAX)
    pool = request.app[POOL]
    rows = await audit.list_entries(pool, page, action=params.str("action", max_length=100))
    actors = await account_store.get_accounts(
        pool, [r["account_id"] for r in rows if r["account_id"] is not None]
    )
    return json_response(
        [render_entry(row, actors, request.app[URLS]) for row in rows],
        headers=link_header(request, [row["id"] for row in rows]),
    )
