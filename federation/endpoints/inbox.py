"""The ActivityPub inboxes: each member's, the shared one and the instance actor's.

All three do the same thing (`federation.inbox.receive`); a member's inbox only first checks that
the member exists. Every refusal is a JSON `{"error": ...}` with a 4xx status.
"""

from __future__ import annotations

from aiohttp import web

from federation.endpoints.app_state import federation_of
from federation.inbox.receive import Rejected, receive
from storage import accounts as account_store

routes = web.RouteTableDef()


async def _accept(request: web.Request) -> web.Response:
    try:
        await receive(federation_of(request), request)
    except Rejected as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    return web.json_response({}, status=202)


@routes.post("/users/{username}/inbox")
async def member_inbox(request: web.Request) -> web.Response:
    fed = federation_of(request)
    uri = fed.urls.actor(request.match_info["username"])
    if await account_store.get_local_account_by_uri(fed.pool, uri) is None:
        return web.json_response({"error": "Record not found"}, status=404)
    return await _accept(request)


@routes.post("/inbox")
async def shared_inbox(request: web.Request) -> web.Response:
    return await _accept(request)


@routes.post("/actor/inbox")
async def instance_actor_inbox(request: web.Request) -> web.Response:
    return await _accept(request)
