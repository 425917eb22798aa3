"""The process's streaming hub: one LISTEN connection, the subscriptions of every open stream.

Database triggers announce changes on one channel (migration 0010); the hub receives them on a
single connection per process and hands them, one at a time and in order (an `update` before
its `delete`), to the `Dispatcher`, which renders events for the subscriptions registered here.
Any number of web and worker processes can share the database: whichever process writes, every
process's LISTEN connection hears it. If the connection is lost, the hub reconnects (events
announced meanwhile are lost, as with Mastodon's own streaming server).

Every connection is admitted with the `Grant` that let it in. A revoked token or a member shut
out (migration 0012's `t:` and `a:` announcements) ends the connections they let in as soon as
the announcement arrives, ahead of any events still waiting to be rendered. Those
announcements must not be lost: a connection is checked again once it is registered (a
revocation committed while it was being opened was announced to nobody), and all of them are
checked after the LISTEN connection comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
from aiohttp import web

from federation.urls import LocalUrls
from server.state import POOL, URLS
from server.streaming.events import Dispatcher
from server.streaming.streams import Grant, Sink, Subscription
from storage import streaming as store
from storage.db import Conn

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (0.5, 1, 2, 5, 10, 30)
# The announcements that end connections: revoked tokens, members shut out (migration 0012).
REVOKED_TOKENS = "t"
SHUT_OUT_ACCOUNTS = "a"


class Refused(Exception):
    """The connection's grant is no longer good (revoked while the connection was opened)."""


class Hub:
    def __init__(self, pool: asyncpg.Pool, urls: LocalUrls, dsn: str) -> None:
        self._dsn = dsn
        self._pool = pool
        self._keys: dict[str, set[Subscription]] = defaultdict(set)
        self._grants: dict[Sink, Grant] = {}
        self._payloads: asyncio.Queue[str] = asyncio.Queue()
        self._dispatcher = Dispatcher(pool, urls, self)
        self._conn: Conn | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._connect()
        self._spawn(self._run())

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()

    async def _connect(self) -> None:
        self._conn = await store.listen(self._dsn, self._receive, self._lost)

    def _receive(self, payload: str) -> None:
        """End connections at once when access is withdrawn; queue everything else."""
        kind, _, ids = payload.partition(":")
        if kind == REVOKED_TOKENS:
            self._revoke(lambda grant: grant.token_id, set(store.announced_ids(ids)))
        elif kind == SHUT_OUT_ACCOUNTS:
            self._revoke(lambda grant: grant.account_id, set(store.announced_ids(ids)))
        else:
            self._payloads.put_nowait(payload)

    def _revoke(self, field: Callable[[Grant], int], ids: set[int]) -> None:
        for sink, grant in list(self._grants.items()):
            if field(grant) in ids:
                del self._grants[sink]
                sink.revoke()

    def _lost(self) -> None:
        if not self._closing:
            log.warning("streaming: the LISTEN connection was lost; reconnecting")
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        await _retry(self._connect, "cannot LISTEN yet")
        await _retry(self._check_all, "cannot check the open streams yet")

    async def _check_all(self) -> None:
        """End the connections whose grants were withdrawn while nobody was listening."""
        grants = list(self._grants.values())
        live = await store.live_tokens(self._pool, list({g.token_id for g in grants}))
        self._revoke(lambda grant: grant.token_id, {g.token_id for g in grants} - live)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        while True:
            payload = await self._payloads.get()
            try:
                await self._dispatcher.dispatch(payload)
            except Exception:
                log.exception("streaming: cannot dispatch %r", payload[:80])

    # -- connections ------------------------------------------------------------------------------

    async def admit(self, sink: Sink, grant: Grant) -> None:
        """Register a connection, then check that its grant is still good (raises `Refused`).

        Checking after registering leaves no gap: a withdrawal committed before the check is
        seen by it, one committed after is announced to a registered connection.
        """
        self._grants[sink] = grant
        if not await store.live_tokens(self._pool, [grant.token_id]):
            self.release(sink)
            raise Refused

    def release(self, sink: Sink) -> None:
        self._grants.pop(sink, None)

    def end_all(self) -> None:
        """End every connection (the server is shutting down)."""
        for sink in list(self._grants):
            sink.close()
        self._grants.clear()

    # -- subscriptions (the dispatcher's `Registry`) ----------------------------------------------

    def subscribe(self, sub: Subscription) -> None:
        self._keys[sub.key].add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._keys.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._keys[sub.key]

    def subscribers(self, key: str) -> list[Subscription]:
        return list(self._keys.get(key, ()))

    def subscribers_under(self, prefix: str) -> list[Subscription]:
        return [sub for key, subs in self._keys.items() if key.startswith(prefix) for sub in subs]

    def everyone(self) -> list[Subscription]:
        return [sub for subs in self._keys.values() for sub in subs]


async def _retry(step: Callable[[], Awaitable[None]], trouble: str) -> None:
    """Run `step` until it succeeds, waiting longer and longer between attempts."""
    for attempt in range(1_000_000):
        try:
            await step()
            return
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("streaming: %s: %s", trouble, exc)
        await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])


HUB = web.AppKey("streaming_hub", Hub)


def install(app: web.Application, dsn: str) -> None:
    """Give `app` a hub: started after the database pool, closed before it; open streams are
    ended when the server shuts down, so that they do not hold the shutdown up."""

    async def streaming(app: web.Application) -> AsyncIterator[None]:
        hub = Hub(app[POOL], app[URLS], dsn)
        await hub.start()
        app[HUB] = hub
        yield
        with contextlib.suppress(Exception):
            await hub.close()

    async def end_streams(app: web.Application) -> None:
        if HUB in app:
            app[HUB].end_all()

    app.cleanup_ctx.append(streaming)
    app.on_shutdown.append(end_streams)
