"""Timelines: home (`/api/v1/timelines/home`), public and hashtag.

The public and hashtag timelines are open to anonymous readers (Mastodon's timeline preview);
anonymous readers never see local-only statuses.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from server import filtering
from server.auth import authenticated, member_id, optional_auth, viewer_id
from server.entities.statuses import render_statuses
from server.json import json_response
from server.pagination import link_header, page_from
from server.params import Params, read_params
from server.state import POOL, URLS
from storage import timelines as timeline_store

routes = web.RouteTableDef()


async def _respond(
    request: web.Request, rows: list[asyncpg.Record], viewer: int | None, context: str
) -> web.Response:
    """The statuses after the viewer's filters for `context`; the `Link` header still pages by
    every row read, so that a page whose statuses were all hidden does not end the timeline."""
    pool = request.app[POOL]
    entities = await render_statuses(pool, rows, request.app[URLS], viewer)
    if entities:
        entities = filtering.apply(entities, await filtering.load_matcher(pool, viewer, context))
    return json_response(entities, headers=link_header(request, [r["id"] for r in rows]))


def _filters(params: Params) -> dict[str, bool]:
    return {
        "local": params.bool("local", False),
        "remote": params.bool("remote", False),
        "only_media": params.bool("only_media", False),
    }


@routes.get("/api/v1/timelines/home")
@authenticated("read:statuses")
async def home(request: web.Request) -> web.Response:
    page = page_from(await read_params(request))
    viewer = member_id(request)
    assert viewer is not None  # @authenticated requires a member
    query = timeline_store.home_query(viewer, page)
    rows = await timeline_store.run(request.app[POOL], query, page)
    return await _respond(request, rows, viewer, "home")


@routes.get("/api/v1/timelines/public")
@optional_auth("read:statuses")
async def public(request: web.Request) -> web.Response:
    params = await read_params(request)
    page = page_from(params)
    viewer = viewer_id(request)
    query = timeline_store.public_query(viewer, page, **_filters(params))
    rows = await timeline_store.run(request.app[POOL], query, page)
    return await _respond(request, rows, viewer, "public")


@routes.get("/api/v1/timelines/tag/{hashtag}")
@optional_auth("read:statuses")
async def tag(request: web.Request) -> web.Response:
    """Statuses tagged with the hashtag or any of `any[]`, all of `all[]` and none of `none[]`."""
    params = await read_params(request)
    page = page_from(params)
    viewer = viewer_id(request)
    pool = request.app[POOL]
    wanted = [request.match_info["hashtag"], *_names(params, "any")]
    required = _names(params, "all")
    tag_ids = await timeline_store.tag_ids(pool, wanted)
    all_ids = await timeline_store.tag_ids(pool, required)
    if not tag_ids or len(all_ids) < len({name.lower() for name in required}):
        return await _respond(request, [], viewer, "public")
    query = timeline_store.tag_query(
        viewer,
        page,
        tag_ids,
        all_ids=all_ids,
        none_ids=await timeline_store.tag_ids(pool, _names(params, "none")),
        **_filters(params),
    )
    return await _respond(request, await timeline_store.run(pool, query, page), viewer, "public")


def _names(params: Params, name: str) -> list[str]:
    """Tag names from an array parameter, without a leading `#`."""
    return [str(value).lstrip("#") for value in params.list(name) if str(value).strip("# ")]
