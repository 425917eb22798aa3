"""Removing a follower: `POST /api/v1/accounts/:id/remove_from_followers`."""

from __future__ import annotations

from aiohttp import web

from federation.errors import not_found
from server.auth import authenticated, member_id
from server.entities.relationships import render_relationship
from server.json import json_response
from server.params import path_id
from server.state import POOL
from server.usecases.follows import remove_follower
from storage import accounts as account_store
from storage import follows as follow_store

routes = web.RouteTableDef()


@routes.post("/api/v1/accounts/{id}/remove_from_followers")
@authenticated("write:follows")
async def remove_from_followers(request: web.Request) -> web.Response:
    """Answers with the member's relationship to the removed follower (`followed_by` false)."""
    pool = request.app[POOL]
    member = member_id(request)
    assert member is not None  # @authenticated requires a member
    follower = await account_store.get_visible_account(pool, path_id(request))
    if follower is None:
        raise not_found()
    await remove_follower(pool, member, follower["id"])
    rows = await follow_store.relationships(pool, member, [follower["id"]], with_suspended=True)
    return json_response(render_relationship(rows[0]))
