"""Discovery: WebFinger (`acct:user@domain` or an actor's URL → its actor) and host-meta, the
older way to find the WebFinger endpoint."""

from __future__ import annotations

import orjson
from aiohttp import web
from asyncpg import Record

from federation.endpoints.app_state import federation_of
from federation.negotiation import ACTIVITY_JSON
from federation.urls import LocalUrls
from storage import accounts as account_store
from storage import outbox as outbox_store

routes = web.RouteTableDef()

JRD = "application/jrd+json"
PROFILE_PAGE = "http://webfinger.net/rel/profile-page"


@routes.get("/.well-known/webfinger")
async def webfinger(request: web.Request) -> web.Response:
    """400 without a usable `resource`, 404 when it names no local actor."""
    fed = federation_of(request)
    resource = request.query.get("resource", "").strip()
    if not resource or "\x00" in resource:
        raise web.HTTPBadRequest()
    username = _username(resource, fed.urls)
    if username is None:
        raise web.HTTPNotFound()
    if username.lower() == fed.urls.domain.lower():
        account = await account_store.get_local_account_by_uri(fed.pool, fed.urls.instance_actor())
    else:
        account = await outbox_store.get_member_actor(fed.pool, username)
    if account is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=orjson.dumps(_descriptor(account, fed.urls)),
        content_type=JRD,
    )


def _username(resource: str, urls: LocalUrls) -> str | None:
    """The local username `resource` names (the domain for the instance actor), or None when it
    names nothing here. Raises 400 when it is not an account URI or a URL at all."""
    if resource.startswith(("http://", "https://")):
        return _username_from_url(resource, urls)
    handle = resource.removeprefix("acct:").removeprefix("@")
    username, at, domain = handle.rpartition("@")
    if not at or not username or not domain or "@" in username:
        raise web.HTTPBadRequest()
    return username if domain.lower() == urls.domain.lower() else None


def _username_from_url(url: str, urls: LocalUrls) -> str | None:
    if url == urls.instance_actor():
        return urls.domain
    for prefix in (urls.actor(""), urls.profile("")):
        name = url.removeprefix(prefix)
        if name != url and name and "/" not in name:
            return name
    return None


def _descriptor(account: Record, urls: LocalUrls) -> dict:
    """The JSON Resource Descriptor of a local actor."""
    actor = account["uri"]
    profile = account["url"] or actor
    return {
        "subject": f"acct:{account['username']}@{urls.domain}",
        "aliases": [profile, actor],
        "links": [
            {"rel": PROFILE_PAGE, "type": "text/html", "href": profile},
            {"rel": "self", "type": ACTIVITY_JSON, "href": actor},
        ],
    }


def _lrdd(urls: LocalUrls) -> str:
    return f"{urls.base_url}/.well-known/webfinger?resource={{uri}}"


@routes.get("/.well-known/host-meta")
async def host_meta(request: web.Request) -> web.Response:
    # The template needs no escaping: a configured domain holds no XML metacharacters.
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{_lrdd(federation_of(request).urls)}"/>\n'
        "</XRD>\n"
    )
    return web.Response(text=xml, content_type="application/xrd+xml")


@routes.get("/.well-known/host-meta.json")
async def host_meta_json(request: web.Request) -> web.Response:
    links = [{"rel": "lrdd", "template": _lrdd(federation_of(request).urls)}]
    return web.Response(body=orjson.dumps({"links": links}), content_type="application/json")
