"""Mastodon's streaming API: `/api/v1/streaming/health`, Server-Sent Events at
`/api/v1/streaming/<stream>` and the WebSocket at `/api/v1/streaming`.

The token comes from `Authorization: Bearer`, the `access_token` parameter or, for WebSockets
(browsers cannot set headers there), `Sec-WebSocket-Protocol`. Every stream needs a member's
token: `read:notifications` for the notification stream, `read:statuses` for the others. A
refused request is answered with a JSON error before any stream (or upgrade) starts. An open
stream ends when its token is revoked or its member suspended, disabled or deleted
(`server/streaming/hub.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from aiohttp import hdrs, web

from federation.errors import KithError
from server.auth import Auth, resolve_auth
from server.scopes import covers
from server.streaming import sse, websocket
from server.streaming.hub import HUB, Refused
from server.streaming.streams import Grant, Stream, StreamError, check_scope, parse_stream

routes = web.RouteTableDef()

# The SSE paths, and the stream each serves.
SSE_STREAMS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
    "list": "list",
    "direct": "direct",
}


@routes.get("/api/v1/streaming/health")
async def health(request: web.Request) -> web.Response:
    return web.Response(text="OK")


@routes.get("/api/v1/streaming/{path:.+}")
async def server_sent_events(request: web.Request) -> web.StreamResponse:
    name = SSE_STREAMS.get(request.match_info["path"].rstrip("/"))
    if name is None:
        raise KithError(404, "Unknown stream type")
    if name == "public" and _flag(request, "local"):
        name = "public:local"
    if name.startswith("public") and _flag(request, "only_media"):
        name += ":media"
    auth = await _member(request, None)
    stream = _stream(name, request)
    _allow(auth, stream)
    with _refusal():
        return await sse.serve(
            request, request.app[HUB], _grant(auth), stream, _reads_notifications(auth)
        )


@routes.get("/api/v1/streaming")
async def websocket_or_events(request: web.Request) -> web.StreamResponse:
    """The WebSocket; without an upgrade, the `stream` parameter's events as SSE."""
    upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    protocol = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").strip() or None
    auth = await _member(request, protocol if upgrade else None)
    first = _stream(request.query["stream"], request) if request.query.get("stream") else None
    if first is not None:
        _allow(auth, first)
    if not upgrade:
        if first is None:
            raise KithError(400, "Missing stream parameter")
        with _refusal():
            hub = request.app[HUB]
            return await sse.serve(request, hub, _grant(auth), first, _reads_notifications(auth))

    def check(stream: Stream) -> bool:
        check_scope(auth.scopes, stream)
        return _reads_notifications(auth)

    # The protocol is echoed whatever it holds: a browser drops a connection whose offered
    # protocol is not selected.
    with _refusal():
        hub = request.app[HUB]
        return await websocket.serve(request, hub, _grant(auth), check, first, protocol)


async def _member(request: web.Request, protocol_token: str | None) -> Auth:
    """The member whose token the request carries, in any of the three places."""
    if protocol_token is not None and not _has_other_token(request):
        headers = request.headers.copy()
        headers[hdrs.AUTHORIZATION] = f"Bearer {protocol_token}"
        auth = await resolve_auth(request.clone(headers=headers))
    else:
        auth = await resolve_auth(request)
    if auth is None:
        raise KithError(401, "Missing access token")
    if auth.account_id is None:
        raise KithError(401, "This stream requires a member's access token")
    return auth


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def _has_other_token(request: web.Request) -> bool:
    return hdrs.AUTHORIZATION in request.headers or "access_token" in request.query


def _stream(name: str, request: web.Request) -> Stream:
    try:
        return parse_stream(
            name, tag=request.query.get("tag"), list_id=request.query.get("list") or None
        )
    except StreamError as exc:
        raise KithError(exc.status, exc.message) from exc


def _allow(auth: Auth, stream: Stream) -> None:
    try:
        check_scope(auth.scopes, stream)
    except StreamError as exc:
        raise KithError(exc.status, exc.message) from exc


def _grant(auth: Auth) -> Grant:
    assert auth.account_id is not None  # _member requires one
    return Grant(auth.token_id, auth.account_id)


@contextlib.contextmanager
def _refusal() -> Iterator[None]:
    """The token was revoked (or its member shut out) between authentication and the stream's
    start: answered as a token that was already gone."""
    try:
        yield
    except Refused as exc:
        raise KithError(401, "The access token is invalid") from exc


def _reads_notifications(auth: Auth) -> bool:
    return covers(auth.scopes, "read:notifications")
