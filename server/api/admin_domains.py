"""Mastodon's admin API for instance-wide domain blocks and allows, and the public list.

`/api/v1/admin/domain_blocks` (list, show, create, update, delete) and
`/api/v1/admin/domain_allows` (list, show, create, delete) are for admins only: like Mastodon's
"Manage Federation" permission, which its moderator role lacks, a moderator gets 403. The lists
are not paginated: a small community's block list fits in one answer. A block shows its
`origin` (Kith's own field): "local", or "subscription" when block-list subscriptions
(`admin_blocklists.py`) made it; such a block cannot be deleted here (allow the domain or
change the subscription), and updating it makes it local.

`GET /api/v1/instance/domain_blocks` is public (Kith favours transparency about moderation):
silences, suspensions and media rejections, with the public comment; an obfuscated domain is
shown with most of its characters replaced by `*`, and its SHA-256 digest lets anyone check
whether a domain they know is the one blocked.
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
from aiohttp import web

from federation.errors import not_found
from server.auth import admin_id, authenticated
from server.entities.common import iso
from server.json import json_response
from server.params import Params, path_id, read_params
from server.state import POOL
from server.usecases import domain_blocks as service
from storage import domain_blocks as store

routes = web.RouteTableDef()


def digest(domain: str) -> str:
    return hashlib.sha256(domain.encode()).hexdigest()


def obfuscated(domain: str) -> str:
    """Mastodon's obfuscation: the first and last quarter kept, dots kept, the rest `*`."""
    keep = len(domain) // 4
    return "".join(
        ch if i <= keep or i >= len(domain) - keep or ch == "." else "*"
        for i, ch in enumerate(domain)
    )


def render_block(block: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(block["id"]),
        "domain": block["domain"],
        "digest": digest(block["domain"]),
        "created_at": iso(block["created_at"]),
        "severity": block["severity"],
        "reject_media": block["reject_media"],
        "reject_reports": block["reject_reports"],
        "private_comment": block["private_comment"] or None,
        "public_comment": block["public_comment"] or None,
        "obfuscate": block["obfuscate"],
        # Kith's own: "local" (an admin's) or "subscription" (from block-list subscriptions).
        "origin": block["origin"],
    }


def render_allow(allow: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(allow["id"]),
        "domain": allow["domain"],
        "created_at": iso(allow["created_at"]),
    }


def render_public_block(block: asyncpg.Record) -> dict[str, Any]:
    domain = block["domain"]
    return {
        "domain": obfuscated(domain) if block["obfuscate"] else domain,
        "digest": digest(domain),
        "severity": block["severity"],
        "comment": block["public_comment"] or None,
    }


def _block_fields(params: Params) -> dict[str, Any]:
    """The block fields the request sends (an update changes only those)."""
    fields: dict[str, Any] = {}
    severity = params.str("severity")
    if severity is not None:
        fields["severity"] = severity
    for name in ("reject_media", "reject_reports", "obfuscate"):
        value = params.bool(name)
        if value is not None:
            fields[name] = value
    for name in ("public_comment", "private_comment"):
        comment = params.str(name)
        if comment is not None:
            fields[name] = comment
    return fields


# -- blocks ---------------------------------------------------------------------------------------


@routes.get("/api/v1/admin/domain_blocks")
@authenticated("admin:read:domain_blocks", staff=True)
async def list_blocks(request: web.Request) -> web.Response:
    admin_id(request)
    rows = await store.list_blocks(request.app[POOL])
    return json_response([render_block(row) for row in rows])


@routes.get("/api/v1/admin/domain_blocks/{id}")
@authenticated("admin:read:domain_blocks", staff=True)
async def show_block(request: web.Request) -> web.Response:
    admin_id(request)
    block = await store.get_block(request.app[POOL], path_id(request))
    if block is None:
        raise not_found()
    return json_response(render_block(block))


@routes.post("/api/v1/admin/domain_blocks")
@authenticated("admin:write:domain_blocks", staff=True)
async def create_block(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    domain = params.required_str("domain", max_length=253 * 4)
    fields = {"severity": "silence", **_block_fields(params)}
    block = await service.create_block(request.app[POOL], domain, fields, actor_id=actor_id)
    return json_response(render_block(block))


@routes.put("/api/v1/admin/domain_blocks/{id}")
@authenticated("admin:write:domain_blocks", staff=True)
async def update_block(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    block = await service.update_block(
        request.app[POOL], path_id(request), _block_fields(params), actor_id=actor_id
    )
    return json_response(render_block(block))


@routes.delete("/api/v1/admin/domain_blocks/{id}")
@authenticated("admin:write:domain_blocks", staff=True)
async def delete_block(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    await service.delete_block(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response({})


# -- allows ---------------------------------------------------------------------------------------


@routes.get("/api/v1/admin/domain_allows")
@authenticated("admin:read:domain_allows", staff=True)
async def list_allows(request: web.Request) -> web.Response:
    admin_id(request)
    rows = await store.list_allows(request.app[POOL])
    return json_response([render_allow(row) for row in rows])


@routes.get("/api/v1/admin/domain_allows/{id}")
@authenticated("admin:read:domain_allows", staff=True)
async def show_allow(request: web.Request) -> web.Response:
    admin_id(request)
    allow = await store.get_allow(request.app[POOL], path_id(request))
    if allow is None:
        raise not_found()
    return json_response(render_allow(allow))


@routes.post("/api/v1/admin/domain_allows")
@authenticated("admin:write:domain_allows", staff=True)
async def create_allow(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    params = await read_params(request)
    domain = params.required_str("domain", max_length=253 * 4)
    allow = await service.create_allow(request.app[POOL], domain, actor_id=actor_id)
    return json_response(render_allow(allow))


@routes.delete("/api/v1/admin/domain_allows/{id}")
@authenticated("admin:write:domain_allows", staff=True)
async def delete_allow(request: web.Request) -> web.Response:
    actor_id = admin_id(request)
    await service.delete_allow(request.app[POOL], path_id(request), actor_id=actor_id)
    return json_response({})


# -- public ---------------------------------------------------------------------------------------


@routes.get("/api/v1/instance/domain_blocks")
async def public_blocks(request: web.Request) -> web.Response:
    rows = await store.list_blocks(request.app[POOL])
    return json_response(
        [
            render_public_block(row)
            for row in rows
            if row["severity"] in ("silence", "suspend") or row["reject_media"]
        ]
    )
