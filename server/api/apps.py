"""Client applications: registering one (`POST /api/v1/apps`) and asking which one a token is."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web

from federation.errors import invalid, not_found
from server.auth import authenticated, current, hash_secret
from server.json import json_response
from server.params import Params, read_params
from server.scopes import parse_scopes
from server.state import POOL
from storage import oauth as oauth_store

routes = web.RouteTableDef()

# The "redirect" of clients that cannot receive one: the code is shown for the user to paste.
OOB_URI = "urn:ietf:wg:oauth:2.0:oob"

MAX_NAME_LENGTH = 60
MAX_URI_LENGTH = 2000
# Schemes a browser would run or read locally instead of handing the code to a client.
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob"})
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _valid_redirect_uri(uri: str) -> bool:
    """An absolute URI without a fragment (RFC 6749 3.1.2).

    Native apps use private-use schemes (RFC 8252 7.1), whose rest may be empty: Ice Cubes
    registers `icecubesapp://`, Ivory `com.tapbots.ivory:/`, Mastodon's Android app
    `org.joinmastodon.android://oauth`. Only http(s) URIs must name a host.
    """
    if uri == OOB_URI:
        return True
    if len(uri) > MAX_URI_LENGTH or _CONTROL.search(uri) or "#" in uri:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not _SCHEME.fullmatch(scheme) or scheme in _UNSAFE_SCHEMES:
        return False
    if scheme in ("http", "https"):
        return bool(parts.hostname)
    return True


def _redirect_uris(params: Params) -> list[str]:
    """`redirect_uris` as a list; clients send a newline- or space-separated string or a list."""
    uris: list[str] = []
    for item in params.list("redirect_uris"):
        if not isinstance(item, str):
            raise invalid("Redirect URI must be an absolute URI.")
        for uri in item.split():
            if uri not in uris:
                uris.append(uri)
    if not uris:
        raise invalid("Redirect URI can't be blank")
    if not all(_valid_redirect_uri(uri) for uri in uris):
        raise invalid("Redirect URI must be an absolute URI.")
    return uris


def application_entity(app: asyncpg.Record) -> dict[str, Any]:
    """Mastodon's Application entity, without credentials."""
    return {
        "id": str(app["id"]),
        "name": app["name"],
        "website": app["website"],
        "scopes": list(app["scopes"]),
        "redirect_uri": "\n".join(app["redirect_uris"]),
        "redirect_uris": list(app["redirect_uris"]),
    }


@routes.post("/api/v1/apps")
async def create_app(request: web.Request) -> web.Response:
    params = await read_params(request)
    name = params.required_str("client_name", max_length=MAX_NAME_LENGTH)
    redirect_uris = _redirect_uris(params)
    raw_scopes = params.raw("scopes")
    if raw_scopes is not None and not isinstance(raw_scopes, str | list):
        raise invalid("Scopes doesn't match configured on the server.")
    try:
        scopes = parse_scopes(raw_scopes)
    except ValueError:
        raise invalid("Scopes doesn't match configured on the server.") from None
    website = params.url("website", max_length=MAX_URI_LENGTH)

    client_id = secrets.token_urlsafe(32)
    client_secret = secrets.token_urlsafe(32)
    app = await oauth_store.create_application(
        request.app[POOL],
        name=name,
        website=website,
        redirect_uris=redirect_uris,
        scopes=scopes,
        client_id=client_id,
        client_secret_hash=hash_secret(client_secret),
    )
    return json_response(
        {
            **application_entity(app),
            "client_id": client_id,
            "client_secret": client_secret,
            "client_secret_expires_at": 0,
        }
    )


@routes.get("/api/v1/apps/verify_credentials")
@authenticated(None, user=False)
async def verify_credentials(request: web.Request) -> web.Response:
    """The application the token was issued to; any valid token may ask, whatever its scopes."""
    auth = current(request)
    app = None
    if auth.application_id is not None:
        app = await oauth_store.get_application(request.app[POOL], auth.application_id)
    if app is None:
        raise not_found("This token was not issued to an application")
    return json_response(application_entity(app))
