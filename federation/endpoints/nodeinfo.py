"""NodeInfo 2.0 and 2.1: what software this server runs, what it speaks and how busy it is.

`metadata.federation` lists the active content policies as Pleroma and Akkoma do
(`federation.policies.nodeinfo`), unless the admin opted out."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from aiohttp import web

from federation.endpoints.app_state import federation_of
from federation.policies.nodeinfo import federation_metadata
from federation.version import KITH_VERSION
from storage import nodeinfo as nodeinfo_store
from storage.settings import get_setting, registrations_mode

routes = web.RouteTableDef()

VERSIONS = ("2.0", "2.1")
SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
DEFAULT_NODE_NAME = "Kith"
# `software.name` stays "kith": crawlers and statistics count Kith as itself, and clients that
# gate Mastodon-only features on the name (Phanpy) do not call endpoints Kith lacks. The client
# API Kith follows is Mastodon's, which `metadata.upstream` says: megalodon's detector() reads it
# for software it does not know by name and then uses its Mastodon client (docs/COMPATIBILITY.md).
UPSTREAM = {"name": "mastodon"}


@routes.get("/.well-known/nodeinfo")
async def discovery(request: web.Request) -> web.Response:
    base_url = federation_of(request).urls.base_url
    links = [
        {"rel": SCHEMA.format(version=version), "href": f"{base_url}/nodeinfo/{version}"}
        for version in VERSIONS
    ]
    return web.Response(body=orjson.dumps({"links": links}), content_type="application/json")


@routes.get("/nodeinfo/{version:2\\.[01]}")
async def nodeinfo(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    document = await _document(federation_of(request).pool, version)
    return web.Response(
        body=orjson.dumps(document),
        headers={"Content-Type": f'application/json; profile="{SCHEMA.format(version=version)}#"'},
    )


async def _document(pool: asyncpg.Pool, version: str) -> dict[str, Any]:
    usage = await nodeinfo_store.usage(pool)
    title = await get_setting(pool, "title")
    node_name = title.strip() if isinstance(title, str) and title.strip() else DEFAULT_NODE_NAME
    metadata: dict[str, Any] = {"nodeName": node_name, "upstream": dict(UPSTREAM)}
    policies = await federation_metadata(pool)
    if policies is not None:
        metadata["federation"] = policies
    return {
        "version": version,
        # 2.1 adds optional `repository` and `homepage`, which Kith does not publish.
        "software": {"name": "kith", "version": KITH_VERSION},
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {
            "users": {
                "total": usage["total"],
                "activeMonth": usage["active_month"],
                "activeHalfyear": usage["active_halfyear"],
            },
            "localPosts": usage["local_posts"],
        },
        "openRegistrations": await registrations_mode(pool) in ("open", "approval"),
        "metadata": metadata,
    }
