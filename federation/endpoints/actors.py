"""Local actors and what they publish, served to other servers: the instance actor, members'
actors, their outboxes, follower and following collections, featured posts, and each status as a
`Note` and as the activity that published it.

Actors and notes share their URLs with browsers: those are sent to the HTML pages. Collections
and activities are served as ActivityStreams whatever is asked for, as Mastodon does. Whatever
may not be served (`storage.outbox.servable`) to the requester is not found.

Every route here is on a `federation.fetch_gate.GatedRoutes` table: the gate identifies the
requester (the verified signer, or nobody) and, in authorized-fetch mode, refuses unsigned
requests, except for the instance actor and, as a minimal document, members' actors.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from federation.endpoints.app_state import federation_of
from federation.fetch_gate import Access, GatedRoutes, requester
from federation.negotiation import activity_response, redirect, wants_activitypub
from federation.render.actors import render_actor
from federation.render.collections import ordered_collection, ordered_collection_page
from federation.render.context import NOTE_CONTEXT
from federation.render.objects import load_note_parts, render_note, render_status_activities
from storage import accounts as account_store
from storage import outbox as outbox_store

routes = GatedRoutes()

# What an unsigned request gets of a member's actor in authorized-fetch mode: enough to verify
# the member's signatures and to deliver to it, as Mastodon serves it.
MINIMAL_ACTOR_FIELDS = (
    "@context",
    "id",
    "type",
    "preferredUsername",
    "inbox",
    "outbox",
    "publicKey",
    "endpoints",
)
OUTBOX_PAGE_SIZE = 20
RELATIONS_PAGE_SIZE = 40


@routes.get("/actor", access=Access.OPEN)
async def instance_actor(request: web.Request) -> web.Response:
    fed = federation_of(request)
    account = await account_store.get_local_account_by_uri(fed.pool, fed.urls.instance_actor())
    if account is None:
        raise web.HTTPNotFound()
    return activity_response(render_actor(account, fed.urls))


@routes.get("/users/{username}", access=Access.KEY, html=True)
async def actor(request: web.Request) -> web.Response:
    fed = federation_of(request)
    account = await _member(request)
    if not wants_activitypub(request):
        redirect(account["url"])
    document = render_actor(account, fed.urls)
    asker = requester(request)
    if asker.secure and not asker.signed:
        document = {name: document[name] for name in MINIMAL_ACTOR_FIELDS}
    return activity_response(document)


@routes.get("/users/{username}/outbox")
async def outbox(request: web.Request) -> web.Response:
    fed = federation_of(request)
    account = await _member(request)
    viewer = requester(request).account_id
    outbox_id = account["outbox_url"]
    if "page" not in request.query:
        total = await outbox_store.count_outbox(fed.pool, account["id"], viewer)
        return activity_response(
            ordered_collection(outbox_id, total, first=f"{outbox_id}?page=true")
        )
    max_id = _id_param(request.query.get("max_id"))
    statuses = await outbox_store.outbox_page(
        fed.pool, account["id"], max_id, OUTBOX_PAGE_SIZE, viewer
    )
    items = await render_status_activities(fed.pool, statuses, account, fed.urls)
    page_id = (
        f"{outbox_id}?page=true" if max_id is None else f"{outbox_id}?max_id={max_id}&page=true"
    )
    next_page = None
    if len(statuses) == OUTBOX_PAGE_SIZE:
        next_page = f"{outbox_id}?max_id={statuses[-1]['id']}&page=true"
    return activity_response(
        ordered_collection_page(
            page_id, outbox_id, items, next_page=next_page, context=NOTE_CONTEXT
        )
    )


@routes.get("/users/{username}/followers")
async def followers(request: web.Request) -> web.Response:
    return await _relations(request, followers=True)


@routes.get("/users/{username}/following")
async def following(request: web.Request) -> web.Response:
    return await _relations(request, followers=False)


@routes.get("/users/{username}/collections/featured")
async def featured(request: web.Request) -> web.Response:
    """Pinned statuses: none yet."""
    account = await _member(request)
    return activity_response(
        ordered_collection(account["featured_url"], 0, items=[], context=NOTE_CONTEXT)
    )


@routes.get("/users/{username}/statuses/{status_id}", html=True)
async def note(request: web.Request) -> web.Response:
    fed = federation_of(request)
    account = await _member(request)
    status = await _servable_status(request, account)
    if status["reblog_of_id"] is not None:
        # A boost is an activity, not an object: it lives at its own id, `.../activity`.
        raise web.HTTPNotFound()
    if not wants_activitypub(request):
        redirect(status["url"])
    parts = await load_note_parts(fed.pool, [status["id"]])
    return activity_response(render_note(status, account, parts[status["id"]], fed.urls))


@routes.get("/users/{username}/statuses/{status_id}/activity")
async def status_activity(request: web.Request) -> web.Response:
    """The Create of a status, or the Announce that is a boost."""
    fed = federation_of(request)
    account = await _member(request)
    status = await _servable_status(request, account)
    [activity] = await render_status_activities(fed.pool, [status], account, fed.urls)
    return activity_response(activity)


async def _relations(request: web.Request, *, followers: bool) -> web.Response:
    """Followers or following: the total, and pages of actor ids unless the member hides them."""
    fed = federation_of(request)
    account = await _member(request)
    collection_id = account["followers_url" if followers else "following_url"]
    total = account["followers_count" if followers else "following_count"]
    if account["hide_collections"]:
        return activity_response(ordered_collection(collection_id, total))
    if "page" not in request.query:
        return activity_response(
            ordered_collection(collection_id, total, first=f"{collection_id}?page=1")
        )
    page = _id_param(request.query["page"])
    if page is None or page > 2**31 // RELATIONS_PAGE_SIZE:
        raise web.HTTPBadRequest()
    items = await outbox_store.relation_page(
        fed.pool,
        account["id"],
        followers=followers,
        offset=(page - 1) * RELATIONS_PAGE_SIZE,
        limit=RELATIONS_PAGE_SIZE,
    )
    next_page = f"{collection_id}?page={page + 1}" if len(items) == RELATIONS_PAGE_SIZE else None
    return activity_response(
        ordered_collection_page(
            f"{collection_id}?page={page}", collection_id, items, total=total, next_page=next_page
        )
    )


async def _member(request: web.Request) -> asyncpg.Record:
    account = await outbox_store.get_member_actor(
        federation_of(request).pool, request.match_info["username"]
    )
    if account is None:
        raise web.HTTPNotFound()
    return account


async def _servable_status(request: web.Request, account: asyncpg.Record) -> asyncpg.Record:
    status_id = _id_param(request.match_info["status_id"])
    if status_id is None:
        raise web.HTTPNotFound()
    status = await outbox_store.get_servable_status(
        federation_of(request).pool, account["id"], status_id, requester(request).account_id
    )
    if status is None:
        raise web.HTTPNotFound()
    return status


def _id_param(value: str | None) -> int | None:
    """A positive bigint from a URL, or None (absent or not one)."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None
