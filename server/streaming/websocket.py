"""The WebSocket transport (`GET /api/v1/streaming`): many streams over one connection.

The client subscribes and unsubscribes with JSON messages (`{"type": "subscribe", "stream":
"hashtag", "tag": "..."}`); every event names its stream: `{"stream": ["hashtag", "tag"],
"event": "update", "payload": "<JSON text>"}`. A bad message is answered with
`{"error": ..., "status": 400}` and the connection stays open. aiohttp pings the client every
`HEARTBEAT_SECONDS` and closes the connection when a pong does not come back.

When the token is revoked or the member shut out, the server closes the socket with
`REVOKED_CODE`, 1008 "policy violation" (RFC 6455: a message violated the endpoint's policy,
the generic code for "you may no longer have this"); a client that reconnects with the same
token is refused with 401 (403 for a suspended or disabled member).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from server.streaming.hub import Hub
from server.streaming.streams import Grant, Stream, StreamError, Subscription, parse_stream

HEARTBEAT_SECONDS = 15.0
MAX_PENDING = 1000
MAX_MESSAGE_BYTES = 4096
REVOKED_CODE = WSCloseCode.POLICY_VIOLATION
REVOKED_REASON = b"Access revoked"


class WebSocketSink:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_PENDING)
        self.closed = False
        self.close_code = WSCloseCode.OK
        self.close_reason = b""

    def send(self, stream: Stream, event: str, payload: str | None) -> None:
        message: dict[str, Any] = {"stream": stream.label, "event": event}
        if payload is not None:
            message["payload"] = payload
        self._put(orjson.dumps(message).decode())

    def error(self, status: int, message: str) -> None:
        self._put(orjson.dumps({"error": message, "status": status}).decode())

    def _put(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        self.closed = True
        if not self.queue.full():
            self.queue.put_nowait(None)

    def revoke(self) -> None:
        self.close_code, self.close_reason = REVOKED_CODE, REVOKED_REASON
        self.close()


class _Connection:
    """The subscriptions of one WebSocket, at most one per stream."""

    def __init__(
        self, hub: Hub, viewer_id: int, check: Callable[[Stream], bool], sink: WebSocketSink
    ) -> None:
        self.hub = hub
        self.viewer_id = viewer_id
        self.check = check
        self.sink = sink
        self.subscriptions: dict[Stream, Subscription] = {}

    def subscribe(self, stream: Stream) -> None:
        notifications = self.check(stream)
        if stream not in self.subscriptions:
            sub = Subscription(self.viewer_id, stream, notifications, self.sink)
            self.subscriptions[stream] = sub
            self.hub.subscribe(sub)

    def unsubscribe(self, stream: Stream) -> None:
        sub = self.subscriptions.pop(stream, None)
        if sub is not None:
            self.hub.unsubscribe(sub)

    def close(self) -> None:
        for sub in self.subscriptions.values():
            self.hub.unsubscribe(sub)
        self.subscriptions.clear()

    def handle(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.sink.error(400, "Could not parse the message as JSON")
            return
        if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
            self.sink.error(400, "Unknown message type")
            return
        try:
            stream = parse_stream(
                _text(message.get("stream")),
                tag=_text(message.get("tag")) or None,
                list_id=_text(message.get("list")) or None,
            )
            if message["type"] == "subscribe":
                self.subscribe(stream)
            else:
                self.unsubscribe(stream)
        except StreamError as exc:
            self.sink.error(exc.status, exc.message)


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


async def serve(
    request: web.Request,
    hub: Hub,
    grant: Grant,
    check: Callable[[Stream], bool],
    first: Stream | None,
    protocol: str | None,
) -> web.WebSocketResponse:
    """`check(stream)` raises `StreamError` when the token may not have the stream, and
    says whether it may read notifications; `first` is the stream named in the URL. Raises
    `hub.Refused`, before the upgrade, when the grant was withdrawn meanwhile."""
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS,
        protocols=(protocol,) if protocol else (),
        max_msg_size=MAX_MESSAGE_BYTES,
    )
    sink = WebSocketSink()
    await hub.admit(sink, grant)
    connection = _Connection(hub, grant.account_id, check, sink)
    if first is not None:
        connection.subscribe(first)
    try:
        await ws.prepare(request)
        writer = asyncio.get_running_loop().create_task(_write(ws, sink))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    connection.handle(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            if not sink.closed:  # else the writer is closing the socket with the sink's code
                writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await ws.close()
    finally:
        connection.close()
        hub.release(sink)
    return ws


async def _write(ws: web.WebSocketResponse, sink: WebSocketSink) -> None:
    with contextlib.suppress(ConnectionResetError):
        while not sink.closed:
            text = await sink.queue.get()
            if text is None or sink.closed:
                break
            await ws.send_str(text)
    await ws.close(code=sink.close_code, message=sink.close_reason)
