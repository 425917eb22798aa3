"""Delivery: queueing in the caller's transaction, signing and sending, and the bookkeeping of
each outcome, against small aiohttp servers standing in for remote inboxes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiohttp import web

from federation import delivery
from federation.context import Federation
from federation.delivery.send import DeliveryFailed
from federation.http import create_client_session
from federation.keycache import KeyCache
from federation.remote_accounts import resolve_acct
from federation.signatures import verify_request
from federation.urls import LocalUrls
from server.jobs.runner import Worker
from server.state import URLS as URLS_KEY
from server.usecases import follows, statuses
from server.usecases.accounts import create_local_account
from storage import deliveries as delivery_store
from storage import follows as follow_store
from storage.db import create_pool
from storage.job_handlers import MAX_ATTEMPTS, Registry
from tests.federation_harness import LoopbackResolver

URLS = LocalUrls("http://kith.test")
FAST = aiohttp.ClientTimeout(total=1, sock_connect=1)

Respond = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def scheme(self) -> str:
        return "rfc9421" if "Signature-Input" in self.headers else "cavage"


@dataclass
class Peer:
    """A remote server's inbox: answers each POST with the next scripted response (202 once
    the script runs out) and keeps what it received."""

    host: str
    script: list[Respond] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def inbox(self) -> str:
        return f"http://{self.host}/inbox"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(str(request.url), dict(request.headers), await request.read())
        )
        if self.script:
            return await self.script.pop(0)(request)
        return web.Response(status=202)


def answer(status: int, **headers: str) -> Respond:
    async def respond(_: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers, text=f"answer {status}")

    return respond


def refuse_rfc9421(status: int = 401) -> Respond:
    """A Mastodon-era server: draft-cavage only."""

    async def respond(request: web.Request) -> web.Response:
        if "Signature-Input" in request.headers:
            return web.Response(status=status, text="unsupported signature")
        return web.Response(status=202)

    return respond


@dataclass
class Env:
    pool: asyncpg.Pool
    fed: Federation
    resolver: LoopbackResolver
    start_server: Callable[..., Awaitable[Any]]

    async def peer(self, host: str, *script: Respond) -> Peer:
        peer = Peer(host, list(script))
        app = web.Application()
        app.router.add_post("/inbox", peer.handle)
        server = await self.start_server(app)
        self.resolver.ports[host] = server.port
        return peer

    def worker(self, *, concurrency: int = 1) -> Worker:
        registry = Registry()
        delivery.register(registry, timeout=FAST)
        return Worker(self.pool, registry, self.fed, concurrency=concurrency, poll_interval=0.05)

    async def drain(self) -> int:
        return await self.worker().drain()


@pytest.fixture
async def env(db_dsn: str, aiohttp_server):
    pool = await create_pool(db_dsn, max_size=8)
    resolver = LoopbackResolver()
    async with create_client_session(
        user_agent="kith-test", allow_private_addresses=True, resolver=resolver
    ) as http:
        yield Env(
            pool,
            Federation(pool, URLS, http, allow_private_addresses=True),
            resolver,
            aiohttp_server,
        )
    await pool.close()


async def local_member(pool: asyncpg.Pool, username: str) -> int:
    user = await create_local_account(
        pool, URLS, username=username, email=f"{username}@example.org", password="long password 1"
    )
    return user["account_id"]


async def remote_account(
    pool: asyncpg.Pool, username: str, host: str, *, shared_inbox: bool = True
) -> int:
    actor = f"http://{host}/users/{username}"
    return await pool.fetchval(
        """
        INSERT INTO accounts (username, domain, uri, url, inbox_url, shared_inbox_url,
                              followers_url)
        VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING id
        """,
        username,
        host,
        actor,
        f"{actor}/inbox",
        f"http://{host}/inbox" if shared_inbox else None,
        f"{actor}/followers",
    )


async def add_follow(pool: asyncpg.Pool, follower_id: int, target_id: int) -> None:
    await pool.execute(
        "INSERT INTO follows (account_id, target_account_id, uri) VALUES ($1, $2, $3)",
        follower_id,
        target_id,
        f"http://follows.test/{uuid.uuid4().hex}",
    )


def note_activity(actor_id: str = "http://kith.test/users/ann") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor_id}#test/{uuid.uuid4().hex}",
        "type": "Create",
        "actor": actor_id,
        "object": {"id": f"{actor_id}/statuses/{uuid.uuid4().int % 10**9}", "type": "Note"},
    }


async def queue(pool: asyncpg.Pool, actor_id: int, inboxes: list[str]) -> list[int]:
    """Queue a fresh activity by `actor_id`; return the delivery ids."""
    async with pool.acquire() as conn, conn.transaction():
        await delivery.deliver(conn, actor_id=actor_id, activity=note_activity(), inboxes=inboxes)
    rows = await pool.fetch("SELECT id FROM deliveries ORDER BY id DESC LIMIT $1", len(inboxes))
    return sorted(row["id"] for row in rows)


async def delivery_row(pool: asyncpg.Pool, delivery_id: int) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM deliveries WHERE id = $1", delivery_id)


async def job_of(pool: asyncpg.Pool, delivery_id: int) -> asyncpg.Record:
    """The delivery's job, with `due_in`: seconds until it runs again."""
    return await pool.fetchrow(
        """
        SELECT *, extract(epoch FROM run_at - now())::float AS due_in FROM jobs
        WHERE queue = 'deliver' AND (payload->>'delivery_id')::bigint = $1
        """,
        delivery_id,
    )


async def host_row(pool: asyncpg.Pool, host: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM hosts WHERE domain = $1", host)


def key_loader(pool: asyncpg.Pool):
    async def load(key_id: str, refresh: bool) -> tuple[str, str] | None:
        row = await pool.fetchrow(
            "SELECT uri, public_key_pem FROM accounts WHERE public_key_id = $1", key_id
        )
        return (row["uri"], row["public_key_pem"]) if row else None

    return load


# Queueing


async def test_a_rolled_back_write_queues_nothing(env):
    ann = await local_member(env.pool, "ann")
    async with env.pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                queued = await delivery.deliver(
                    conn, actor_id=ann, activity=note_activity(), inboxes=["http://a.test/inbox"]
                )
                assert queued == 1
                raise RuntimeError("the write that caused it failed")
    for table in ("outgoing_activities", "deliveries", "jobs"):
        assert await env.pool.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_one_body_many_inboxes_local_ones_dropped(env):
    ann = await local_member(env.pool, "ann")
    activity = note_activity()
    async with env.pool.acquire() as conn, conn.transaction():
        queued = await delivery.deliver(
            conn,
            actor_id=ann,
            activity=activity,
            inboxes=[
                "http://a.test/inbox",
                "http://b.test/users/x/inbox",
                "http://a.test/inbox",  # twice: once
                "http://kith.test/inbox",  # our own: never over HTTP
                "mailto:x@example.org",
            ],
        )
    assert queued == 2
    stored = await env.pool.fetchrow("SELECT * FROM outgoing_activities")
    assert orjson.loads(stored["body"]) == activity
    assert stored["uri"] == activity["id"] and stored["actor_account_id"] == ann
    rows = await env.pool.fetch("SELECT * FROM deliveries ORDER BY inbox_url")
    assert [(r["inbox_url"], r["host"], r["state"]) for r in rows] == [
        ("http://a.test/inbox", "a.test", "pending"),
        ("http://b.test/users/x/inbox", "b.test", "pending"),
    ]
    payloads = await env.pool.fetch("SELECT payload FROM jobs WHERE queue = 'deliver'")
    assert sorted(p["payload"]["delivery_id"] for p in payloads) == sorted(r["id"] for r in rows)


# Sending


async def test_a_delivery_is_signed_and_booked(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("remote.test")
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    assert await env.drain() == 1

    [request] = peer.received
    assert request.scheme == "rfc9421"  # knocked with RFC 9421 first
    verified = await verify_request(
        "POST",
        request.url,
        request.headers,
        request.body,
        keys=KeyCache(),
        load_key=key_loader(env.pool),
    )
    assert verified.owner_uri == URLS.actor("ann")
    stored = await env.pool.fetchval("SELECT body FROM outgoing_activities")
    assert request.body == stored
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["tries"], row["last_status"]) == ("delivered", 1, 202)
    assert row["delivered_at"] is not None
    host = await host_row(env.pool, "remote.test")
    assert host["signature_scheme"] == "rfc9421" and host["last_success_at"] is not None
    assert await env.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_a_2xx_books_delivery_host_and_job_in_one_statement_for_its_holder(env):
    ann = await local_member(env.pool, "ann")
    mine, theirs = await queue(env.pool, ann, ["http://a.test/inbox", "http://b.test/inbox"])
    for delivery_id, worker_id in ((mine, "worker-a"), (theirs, "worker-b")):
        await env.pool.execute(
            "UPDATE jobs SET locked_by = $2, locked_until = now() + interval '1 minute'"
            " WHERE (payload->>'delivery_id')::bigint = $1",
            delivery_id,
            worker_id,
        )
    job_ids = {d: (await job_of(env.pool, d))["id"] for d in (mine, theirs)}

    # Worker A holds its job: all three are booked, the job is gone.
    assert await delivery_store.record_delivered(
        env.pool, mine, 202, host="a.test", scheme="cavage", job=(job_ids[mine], "worker-a")
    )
    assert (await delivery_row(env.pool, mine))["state"] == "delivered"
    assert (await host_row(env.pool, "a.test"))["signature_scheme"] == "cavage"
    assert await job_of(env.pool, mine) is None
    # Worker B holds the other job now: a stale worker A books the delivery, not the job.
    assert not await delivery_store.record_delivered(
        env.pool, theirs, 200, host="b.test", scheme=None, job=(job_ids[theirs], "worker-a")
    )
    assert (await delivery_row(env.pool, theirs))["last_status"] == 200
    assert (await host_row(env.pool, "b.test"))["last_success_at"] is not None
    assert (await job_of(env.pool, theirs))["locked_by"] == "worker-b"


async def test_double_knock_falls_back_to_cavage_and_remembers(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("mastodon.test", refuse_rfc9421(), refuse_rfc9421())
    [first] = await queue(env.pool, ann, [peer.inbox])
    await env.drain()
    assert [r.scheme for r in peer.received] == ["rfc9421", "cavage"]
    verified = await verify_request(
        "POST",
        peer.received[1].url,
        peer.received[1].headers,
        peer.received[1].body,
        keys=KeyCache(),
        load_key=key_loader(env.pool),
    )
    assert verified.scheme == "cavage"
    assert (await delivery_row(env.pool, first))["state"] == "delivered"
    assert (await host_row(env.pool, "mastodon.test"))["signature_scheme"] == "cavage"

    await queue(env.pool, ann, [peer.inbox])
    await env.drain()
    assert [r.scheme for r in peer.received[2:]] == ["cavage"]  # knocks once now


async def test_retry_after_is_honoured(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("busy.test", answer(503, **{"Retry-After": "120"}))
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    assert await env.drain() == 1
    job = await job_of(env.pool, delivery_id)
    assert 110 < job["due_in"] <= 120 and job["failed_at"] is None
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["tries"], row["last_status"]) == ("pending", 1, 503)


async def test_gone_fails_for_good(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("gone.test", answer(410))
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    await env.drain()
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["last_status"]) == ("failed", 410)
    assert "410" in row["last_error"]
    assert (await job_of(env.pool, delivery_id))["failed_at"] is not None
    assert len(peer.received) == 1  # a 410 is no reason to knock again


async def test_a_server_error_is_retried_on_the_backoff_schedule(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("flaky.test", answer(500), answer(500))
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    with pytest.raises(DeliveryFailed):
        await env.drain()
    job = await job_of(env.pool, delivery_id)
    assert job["failed_at"] is None and 25 < job["due_in"] <= 33  # backoff after attempt 1
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["tries"], row["last_status"]) == ("pending", 1, 500)
    assert (await host_row(env.pool, "flaky.test"))["first_failure_at"] is not None


async def test_connection_refused_is_retried(env):
    ann = await local_member(env.pool, "ann")
    env.resolver.ports["down.test"] = await _closed_port()
    [delivery_id] = await queue(env.pool, ann, ["http://down.test/inbox"])
    with pytest.raises(DeliveryFailed):
        await env.drain()
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["tries"], row["last_status"]) == ("pending", 1, None)
    assert row["last_error"]
    job = await job_of(env.pool, delivery_id)
    assert job["failed_at"] is None and job["due_in"] > 0


async def test_the_last_attempt_marks_the_delivery_failed(env):
    ann = await local_member(env.pool, "ann")
    peer = await env.peer("dying.test", answer(500))
    [delivery_id] = await queue(env.pool, ann, [peer.inbox])
    await env.pool.execute("UPDATE jobs SET attempts = $1", MAX_ATTEMPTS - 1)
    await env.pool.execute("UPDATE deliveries SET tries = $1", MAX_ATTEMPTS - 1)
    with pytest.raises(DeliveryFailed):
        await env.drain()
    row = await delivery_row(env.pool, delivery_id)
    assert (row["state"], row["tries"], row["last_status"]) == ("failed", MAX_ATTEMPTS, 500)
    assert (await job_of(env.pool, delivery_id))["failed_at"] is not None


async def test_a_black_holed_server_does_not_hold_up_other_deliveries(env):
    ann = await local_member(env.pool, "ann")
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts the connection and never answers

    hole = await asyncio.start_server(swallow, "127.0.0.1", 0)
    env.resolver.ports["hole.test"] = hole.sockets[0].getsockname()[1]
    live = await env.peer("live.test")
    [stuck] = await queue(env.pool, ann, ["http://hole.test/inbox"])
    [fine] = await queue(env.pool, ann, [live.inbox])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    run = asyncio.create_task(env.worker(concurrency=2).run(stop))
    try:
        async with asyncio.timeout(5):
            while (await delivery_row(env.pool, fine))["state"] != "delivered":
                await asyncio.sleep(0.02)
            delivered_after = loop.time() - started
            while (await delivery_row(env.pool, stuck))["last_error"] is None:
                await asyncio.sleep(0.02)
            timed_out_after = loop.time() - started
    finally:
        stop.set()
        await run
        hole.close()
        for writer in accepted:
            writer.close()
    assert delivered_after < FAST.total  # did not wait for the black hole
    assert FAST.total <= timed_out_after < FAST.total + 2  # gave up after one request timeout
    row = await delivery_row(env.pool, stuck)
    assert row["state"] == "pending" and "Timeout" in row["last_error"]
    assert (await job_of(env.pool, stuck))["due_in"] > 0


async def _closed_port() -> int:
    """A loopback port nothing listens on."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


# End to end


async def test_follow_accept_and_post_between_two_instances(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice = await create_local_account(
        alpha.pool,
        alpha.app[URLS_KEY],
        username="alice",
        email="a@example.org",
        password="long password 1",
    )
    bob = await create_local_account(
        beta.pool,
        beta.app[URLS_KEY],
        username="bob",
        email="b@example.org",
        password="long password 1",
    )
    remote_bob = await resolve_acct(alpha.federation, "bob", "beta.test")
    assert await follows.follow(alpha.pool, alice["account_id"], remote_bob["id"]) == "requested"
    await network.drain()

    # beta accepted at once (bob is not locked) and alpha turned the request into a follow.
    assert await follow_store.get_follow(alpha.pool, alice["account_id"], remote_bob["id"])
    assert not await follow_store.get_follow_request(
        alpha.pool, alice["account_id"], remote_bob["id"]
    )
    for instance, kind in ((alpha, "Follow"), (beta, "Accept")):
        [row] = await instance.pool.fetch(
            "SELECT d.state, o.body FROM deliveries d JOIN outgoing_activities o"
            " ON o.id = d.activity_id"
        )
        assert (row["state"], orjson.loads(row["body"])["type"]) == ("delivered", kind)

    status = await statuses.create_status(
        beta.pool, beta.app[URLS_KEY], author_id=bob["account_id"], text="hello alpha"
    )
    await network.drain()
    home = await alpha.pool.fetch(
        "SELECT s.uri FROM home_feed h JOIN statuses s ON s.id = h.status_id"
        " WHERE h.account_id = $1",
        alice["account_id"],
    )
    assert [row["uri"] for row in home] == [status["uri"]]
