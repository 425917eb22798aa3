"""Server-Sent Events: one stream per HTTP response, as Mastodon serves `/api/v1/streaming/*`.

Each event is `event: <name>` and `data: <payload>`; a comment line (`:thump`) every
`HEARTBEAT_SECONDS` keeps proxies from closing an idle connection and finds dead ones. When the
token is revoked or the member shut out, the response simply ends (as Mastodon's does): a
client that reconnects with the same token is refused.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.streaming.hub import Hub
from server.streaming.streams import Grant, Stream, Subscription

HEARTBEAT_SECONDS = 15.0
# Events waiting for a slow client; past this many it is disconnected rather than buffered.
MAX_PENDING = 1000


class SseSink:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_PENDING)
        self.closed = False

    def send(self, stream: Stream, event: str, payload: str | None) -> None:
        if self.closed:
            return
        # Mastodon writes a missing payload (filters_changed) as `undefined`.
        data = payload if payload is not None else "undefined"
        try:
            self.queue.put_nowait(f"event: {event}\ndata: {data}\n\n".encode())
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        self.closed = True
        if not self.queue.full():
            self.queue.put_nowait(None)

    def revoke(self) -> None:
        self.close()


async def serve(
    request: web.Request, hub: Hub, grant: Grant, stream: Stream, notifications: bool
) -> web.StreamResponse:
    """Stream events until the client leaves or the hub ends the connection; raises
    `hub.Refused`, before anything is sent, when the grant was withdrawn meanwhile."""
    sink = SseSink()
    await hub.admit(sink, grant)
    subscription = Subscription(grant.account_id, stream, notifications, sink)
    hub.subscribe(subscription)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(b":)\n")
        while not sink.closed:
            try:
                chunk = await asyncio.wait_for(sink.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                chunk = b":thump\n"
            if chunk is None or sink.closed:
                break
            await response.write(chunk)
    except ConnectionResetError:
        pass  # the client went away
    finally:
        hub.unsubscribe(subscription)
        hub.release(sink)
    return response
