"""The streaming API over real HTTP: Server-Sent Events and WebSockets, fed by the database's
NOTIFYs (migration 0010), rendered per viewer.

"Never arrives" is checked with a sentinel rather than a timeout: the hub handles announcements
one at a time in commit order, so when an event written after the forbidden one arrives first,
the forbidden one was dropped.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import pytest
from mastodon import Mastodon, StreamListener

from server.app import create_app
from server.state import POOL
from tests.api import api
from tests.schemas import assert_matches
from tests.test_federation_e2e import follow_remote, member, post

if TYPE_CHECKING:
    from tests.live_server import LiveServer, Login

pytest_plugins = ["tests.live_server"]

EVENT_TIMEOUT = 10.0


# -- clients --------------------------------------------------------------------------------------


class EventStream:
    """An open SSE response, read event by event (comments such as `:thump` are skipped)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, timeout: float = EVENT_TIMEOUT) -> tuple[str, Any]:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> tuple[str, Any]:
        event, data = None, None
        while True:
            line = (await self.response.content.readline()).decode()
            if not line:
                raise AssertionError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "" and event is not None:
                return event, _decode(event, data)

    def close(self) -> None:
        self.response.close()


def _decode(event: str, data: str | None) -> Any:
    """A payload as a test wants it: entities parsed and validated, ids as strings."""
    if event in ("update", "status.update"):
        status = json.loads(data or "")
        assert_matches("status", status)
        return status
    if event == "notification":
        notification = json.loads(data or "")
        assert_matches("notification", notification)
        return notification
    if event == "conversation":
        return json.loads(data or "")
    return data


async def open_sse(client, path: str, token: str, **params: str) -> EventStream:
    response = await client.get(
        path, headers={"Authorization": f"Bearer {token}"}, params=params or None
    )
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert await response.content.readline() == b":)\n"  # subscribed by now
    return EventStream(response)


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def next(self, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive_json(), timeout)
        if "event" in message:
            message["payload"] = _decode(message["event"], message.get("payload"))
        return message

    async def send(self, **message: Any) -> None:
        """Send a message and wait until the server has handled it: an invalid message sent
        after it is answered in order."""
        await self.ws.send_json(message)
        await self.ws.send_str("sync")
        reply = await self.next()
        assert reply == {"error": "Could not parse the message as JSON", "status": 400}, reply


async def say(client, who, text: str, **options: Any) -> dict[str, Any]:
    status = await api(client, who, "POST", "/api/v1/statuses", json={"status": text, **options})
    assert_matches("status", status)
    return status


async def follow(client, who, target) -> None:
    await api(client, who, "POST", f"/api/v1/accounts/{target.account_id}/follow")


async def expect_update(stream, status_id: str, event: str = "update") -> dict[str, Any]:
    name, payload = await stream.next()
    assert (name, payload["id"]) == (event, status_id), (name, payload)
    return payload


# -- the endpoints --------------------------------------------------------------------------------


async def test_health(client):
    response = await client.get("/api/v1/streaming/health")
    assert response.status == 200
    assert await response.text() == "OK"


async def test_refused_requests_get_json_errors_before_any_stream(client, make_member):
    alice = await make_member("alice")
    statuses_only = await make_member("statusreader", scopes=("read:statuses",))
    cases = [
        ("/api/v1/streaming/user", {}, 401),
        ("/api/v1/streaming/user", {"access_token": "not-a-token"}, 401),
        ("/api/v1/streaming/public", {"access_token": "not-a-token"}, 401),
        ("/api/v1/streaming/user/notification", {"access_token": statuses_only.token}, 401),
        ("/api/v1/streaming/hashtag", {"access_token": alice.token}, 400),
        ("/api/v1/streaming/hashtag", {"access_token": alice.token, "tag": "#"}, 400),
        ("/api/v1/streaming/list", {"access_token": alice.token, "list": "1"}, 404),
        ("/api/v1/streaming/list", {"access_token": alice.token}, 400),
        ("/api/v1/streaming/nonsense", {"access_token": alice.token}, 404),
        ("/api/v1/streaming", {"access_token": alice.token}, 400),
        ("/api/v1/streaming", {"access_token": alice.token, "stream": "bogus"}, 400),
    ]
    for path, params, status in cases:
        response = await client.get(path, params=params)
        body = await response.json()
        assert response.status == status, (path, params, body)
        assert_matches("error", body)

    for params, headers in [
        ({"access_token": "not-a-token", "stream": "user"}, {}),
        ({"stream": "user"}, {"Sec-WebSocket-Protocol": "not-a-token"}),
        ({"stream": "public"}, {}),
    ]:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/streaming", params=params, headers=headers)
        assert refused.value.status == 401


async def test_user_stream_gets_home_updates_and_notifications(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await follow(client, alice, bob)
    stream = await open_sse(client, "/api/v1/streaming/user", alice.token)
    notifications = await open_sse(client, "/api/v1/streaming/user/notification", alice.token)
    try:
        mine = await say(client, alice, "hello world")
        await expect_update(stream, mine["id"])  # her own status is in her home feed
        posted = await say(client, bob, "bob is here")
        update = await expect_update(stream, posted["id"])
        assert update["account"]["id"] == str(bob.account_id)
        assert update["favourited"] is False  # rendered for a viewer

        await api(client, bob, "POST", f"/api/v1/statuses/{mine['id']}/favourite")
        await follow(client, carol, alice)
        mention = await say(client, carol, f"hi @{alice.username}")
        received = [await stream.next() for _ in range(3)]
        assert [name for name, _ in received] == ["notification"] * 3
        favourite, followed, mentioned = [payload for _, payload in received]
        assert (favourite["type"], favourite["status"]["id"]) == ("favourite", mine["id"])
        assert (followed["type"], followed["account"]["id"]) == ("follow", str(carol.account_id))
        # carol is not followed: her mention is a notification, not a home timeline update.
        assert (mentioned["type"], mentioned["status"]["id"]) == ("mention", mention["id"])

        # The notification stream has the notifications and nothing else.
        only = [await notifications.next() for _ in range(3)]
        assert [(name, n["type"]) for name, n in only] == [
            ("notification", "favourite"),
            ("notification", "follow"),
            ("notification", "mention"),
        ]

        # Edits and deletions follow the status.
        await api(
            client, bob, "PUT", f"/api/v1/statuses/{posted['id']}", json={"status": "bob, edited"}
        )
        edited = await expect_update(stream, posted["id"], "status.update")
        assert "edited" in edited["content"] and edited["edited_at"] is not None
        await api(client, bob, "DELETE", f"/api/v1/statuses/{posted['id']}")
        assert await stream.next() == ("delete", posted["id"])
    finally:
        stream.close()
        notifications.close()


async def test_a_follow_backfill_is_not_streamed(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await say(client, bob, "an old status")
    stream = await open_sse(client, "/api/v1/streaming/user", alice.token)
    try:
        await follow(client, alice, bob)  # copies bob's old status into alice's home feed
        fresh = await say(client, bob, "a new status")
        await expect_update(stream, fresh["id"])
    finally:
        stream.close()


async def test_websocket_public_and_hashtag_streams(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    ws = await client.ws_connect(
        "/api/v1/streaming", params={"stream": "public", "access_token": alice.token}
    )
    socket = Socket(ws)
    try:
        await socket.send(type="subscribe", stream="hashtag", tag="Kith")
        posted = await say(client, bob, "streaming with #kith")
        first, second = await socket.next(), await socket.next()
        by_stream = {tuple(m["stream"]): m for m in (first, second)}
        assert set(by_stream) == {("public",), ("hashtag", "Kith")}
        for message in by_stream.values():
            assert message["event"] == "update"
            assert message["payload"]["id"] == posted["id"]

        await socket.send(type="unsubscribe", stream="public")
        await api(client, bob, "DELETE", f"/api/v1/statuses/{posted['id']}")
        assert await socket.next() == {
            "stream": ["hashtag", "Kith"],
            "event": "delete",
            "payload": posted["id"],
        }

        # A bad subscription is answered on the socket, which stays open.
        await ws.send_json({"type": "subscribe", "stream": "list", "list": "12"})
        assert await socket.next() == {"error": "Record not found", "status": 404}
        await ws.send_json({"type": "dance"})
        assert await socket.next() == {"error": "Unknown message type", "status": 400}
    finally:
        await ws.close()


async def test_websocket_token_in_the_protocol_header(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await follow(client, alice, bob)
    ws = await client.ws_connect(
        "/api/v1/streaming", params={"stream": "user"}, protocols=(alice.token,)
    )
    try:
        assert ws.protocol == alice.token
        posted = await say(client, bob, "over the socket")
        message = await Socket(ws).next()
        assert (message["stream"], message["event"]) == (["user"], "update")
        assert message["payload"]["id"] == posted["id"]
    finally:
        await ws.close()


# -- who may see what -----------------------------------------------------------------------------


async def test_followers_only_posts_reach_followers_only(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await follow(client, alice, bob)
    follower = await open_sse(client, "/api/v1/streaming/user", alice.token)
    outsider = await open_sse(client, "/api/v1/streaming/user", carol.token)
    public = await open_sse(client, "/api/v1/streaming/public", carol.token)
    try:
        private = await say(client, bob, "for my followers #secret", visibility="private")
        await expect_update(follower, private["id"])
        await api(client, bob, "DELETE", f"/api/v1/statuses/{private['id']}")
        assert await follower.next() == ("delete", private["id"])

        # carol sees neither the status nor its deletion, on any stream.
        sentinel = await say(client, carol, "carol's own")
        await expect_update(outsider, sentinel["id"])
        await expect_update(public, sentinel["id"])
    finally:
        for stream in (follower, outsider, public):
            stream.close()


async def test_local_only_posts_reach_local_public_streams(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    local = await open_sse(client, "/api/v1/streaming/public/local", alice.token)
    remote = await open_sse(client, "/api/v1/streaming/public/remote", alice.token)
    try:
        posted = await say(client, bob, "just for us", local_only=True)
        update = await expect_update(local, posted["id"])
        assert update["local_only"] is True
        # Nothing local reaches the remote stream; the stream is open and quiet.
        with pytest.raises(TimeoutError):
            await remote.next(timeout=0.5)
    finally:
        local.close()
        remote.close()


async def test_media_streams_carry_only_statuses_with_media(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    media = await open_sse(client, "/api/v1/streaming/public/local", alice.token, only_media="true")
    try:
        await say(client, bob, "no pictures")
        pool = client.server.app[POOL]
        async with pool.acquire() as conn, conn.transaction():
            with_media = await conn.fetchval(
                "INSERT INTO statuses (uri, account_id, local, visibility)"
                " VALUES ('https://kith.test/s/pic', $1, true, 'public') RETURNING id",
                bob.account_id,
            )
            await conn.execute(
                "INSERT INTO media_attachments (account_id, status_id, type)"
                " VALUES ($1, $2, 'image')",
                bob.account_id,
                with_media,
            )
        await expect_update(media, str(with_media))
    finally:
        media.close()


async def test_muted_and_blocked_accounts_do_not_arrive(client, make_member):
    alice, bob, dave, eve = [await make_member(n) for n in ("alice", "bob", "dave", "eve")]
    for target in (bob, dave, eve):
        await follow(client, alice, target)
    await api(client, alice, "POST", f"/api/v1/accounts/{bob.account_id}/mute")
    await api(client, alice, "POST", f"/api/v1/accounts/{dave.account_id}/block")
    home = await open_sse(client, "/api/v1/streaming/user", alice.token)
    public = await open_sse(client, "/api/v1/streaming/public", alice.token)
    try:
        await say(client, bob, "muted #tag")
        await say(client, dave, "blocked #tag")
        sentinel = await say(client, eve, "still here")
        await expect_update(home, sentinel["id"])
        await expect_update(public, sentinel["id"])
    finally:
        home.close()
        public.close()


async def test_filters_hide_and_warn(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    user = await open_sse(client, "/api/v1/streaming/user", alice.token)
    public = await open_sse(client, "/api/v1/streaming/public", alice.token)
    try:
        await api(
            client,
            alice,
            "POST",
            "/api/v2/filters",
            json={
                "title": "No cats",
                "context": ["public"],
                "filter_action": "hide",
                "keywords_attributes": [{"keyword": "cat"}],
            },
        )
        assert await user.next() == ("filters_changed", "undefined")
        warn = await api(
            client,
            alice,
            "POST",
            "/api/v2/filters",
            json={
                "title": "Spoilers",
                "context": ["public"],
                "filter_action": "warn",
                "keywords_attributes": [{"keyword": "butler"}],
            },
        )
        assert await user.next() == ("filters_changed", "undefined")

        await say(client, bob, "look at my cat")
        warned = await say(client, bob, "the butler did it")
        update = await expect_update(public, warned["id"])
        assert [r["filter"]["id"] for r in update["filtered"]] == [warn["id"]]
        assert update["filtered"][0]["keyword_matches"] == ["butler"]
    finally:
        user.close()
        public.close()


async def test_direct_messages_reach_the_direct_stream_of_participants(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    mine = await open_sse(client, "/api/v1/streaming/direct", alice.token)
    theirs = await open_sse(client, "/api/v1/streaming/direct", carol.token)
    try:
        dm = await say(client, bob, f"@{alice.username} psst", visibility="direct")
        name, conversation = await mine.next()
        assert name == "conversation"
        assert conversation["last_status"]["id"] == dm["id"]
        assert [a["id"] for a in conversation["accounts"]] == [str(bob.account_id)]
        assert_matches("status", conversation["last_status"])
        sentinel = await say(client, carol, f"@{carol.username} note to self", visibility="direct")
        name, conversation = await theirs.next()
        assert conversation["last_status"]["id"] == sentinel["id"]
    finally:
        mine.close()
        theirs.close()


async def test_a_large_fan_out_is_announced_in_a_few_small_notifies(client, make_member, db_dsn):
    """20,000 home feed rows in one statement: a few dozen NOTIFYs, each under PostgreSQL's
    8000-byte limit, naming every reader once; a follow's backfill announces nothing."""
    bob = await make_member("bob")
    pool = client.server.app[POOL]
    readers = await pool.fetch(
        "INSERT INTO accounts (username, uri) SELECT 'r' || g, 'https://x.test/r' || g"
        " FROM generate_series(1, 20000) g RETURNING id"
    )
    status_id = await pool.fetchval(
        "INSERT INTO statuses (uri, account_id, local, visibility)"
        " VALUES ('https://kith.test/s/1', $1, true, 'public') RETURNING id",
        bob.account_id,
    )
    payloads: list[str] = []
    listener = await asyncpg.connect(db_dsn)
    await listener.add_listener("kith_stream", lambda *args: payloads.append(args[3]))
    try:
        await pool.execute(
            "INSERT INTO home_feed (account_id, status_id, author_account_id)"
            " SELECT a, $1, $2 FROM unnest($3::bigint[] || $2::bigint) a",
            status_id,
            bob.account_id,
            [r["id"] for r in readers],
        )
        await pool.execute(  # a backfill: the author's own row is not among them
            "INSERT INTO home_feed (account_id, status_id, author_account_id)"
            " SELECT a.id, $1, $2 FROM accounts a WHERE a.username IN ('r1', 'r2')"
            " ON CONFLICT DO NOTHING",
            status_id,
            bob.account_id,
        )
        await pool.execute("SELECT pg_notify('kith_stream', 'end')")
        deadline = time.monotonic() + EVENT_TIMEOUT
        while "end" not in payloads and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await listener.close()
    home = [p for p in payloads if p.startswith("h:")]
    assert 50 <= len(home) <= 60
    assert max(len(p.encode()) for p in home) < 8000
    announced = [int(a) for p in home for a in p.split(":")[2].split(",")]
    assert sorted(announced) == sorted([r["id"] for r in readers] + [bob.account_id])
    assert {p.split(":")[1] for p in home} == {str(status_id)}


# -- across processes and instances ---------------------------------------------------------------


async def test_events_cross_processes(client, make_member, aiohttp_client, db_dsn, config):
    """Two apps on one database: the stream is open on one, the post written through the other."""
    other = await aiohttp_client(create_app(config, db_dsn))
    alice, bob = await make_member("alice"), await make_member("bob")
    await follow(client, alice, bob)
    stream = await open_sse(other, "/api/v1/streaming/user", alice.token)
    try:
        posted = await say(client, bob, "from the other process")
        await expect_update(stream, posted["id"])
    finally:
        stream.close()


async def test_fifty_streams_at_once(client, make_member):
    """25 followers, each with an SSE and a WebSocket stream open, get bob's post."""
    bob = await make_member("bob")
    followers = await asyncio.gather(*(make_member(f"reader{i}") for i in range(25)))
    pool = client.server.app[POOL]
    await pool.executemany(
        "INSERT INTO follows (account_id, target_account_id) VALUES ($1, $2)",
        [(f.account_id, bob.account_id) for f in followers],
    )
    streams = [await open_sse(client, "/api/v1/streaming/user", f.token) for f in followers]
    sockets = [
        await client.ws_connect(
            "/api/v1/streaming", params={"stream": "user", "access_token": f.token}
        )
        for f in followers
    ]
    try:
        posted = await say(client, bob, "hello, all fifty of you")
        updates = await asyncio.gather(*(expect_update(s, posted["id"]) for s in streams))
        messages = await asyncio.gather(*(Socket(ws).next() for ws in sockets))
        assert {u["id"] for u in updates} == {posted["id"]}
        assert {(m["event"], m["payload"]["id"]) for m in messages} == {("update", posted["id"])}
        assert len(updates) + len(messages) == 50
    finally:
        for stream in streams:
            stream.close()
        for ws in sockets:
            await ws.close()


async def test_federated_posts_reach_local_followers(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, bob = await member(alpha, "alice"), await member(beta, "bob")
    await follow_remote(network, alice, bob)
    stream = await open_sse(alpha.client, "/api/v1/streaming/user", alice.token)
    try:
        original = await post(bob, "hello from beta")
        await network.drain()
        name, update = await stream.next()
        assert (name, update["uri"]) == ("update", original["uri"])
        assert update["account"]["acct"] == "bob@beta.test"
    finally:
        stream.close()


# -- a real client --------------------------------------------------------------------------------


def _mastodon_py_scenario(url: str, alice_login: Login, bob_login: Login) -> None:
    client_id, secret = Mastodon.create_app(
        "Kith streaming", scopes=["read", "write", "follow"], api_base_url=url
    )
    alice, bob = [
        Mastodon(client_id=client_id, client_secret=secret, api_base_url=url) for _ in range(2)
    ]
    for api_, login in ((alice, alice_login), (bob, bob_login)):
        api_.log_in(
            login.email, login.password, scopes=["read", "write", "follow"], allow_http=True
        )
    alice.account_follow(bob_login.account_id)
    received: queue.Queue[tuple[str, Any]] = queue.Queue()

    class Listener(StreamListener):
        def on_update(self, status):
            received.put(("update", status))

        def on_notification(self, notification):
            received.put(("notification", notification))

    handle = alice.stream_user(Listener(), run_async=True)
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT
        while handle.connection is None and time.monotonic() < deadline:
            time.sleep(0.02)
        posted = bob.status_post("hello, Mastodon.py")
        kind, status = received.get(timeout=EVENT_TIMEOUT)
        assert (kind, status.id, status.account.acct) == ("update", posted.id, "bob")
        mine = alice.status_post("favourite this")
        assert received.get(timeout=EVENT_TIMEOUT)[1].id == mine.id
        bob.status_favourite(mine.id)
        kind, notification = received.get(timeout=EVENT_TIMEOUT)
        assert (kind, notification.type, notification.status.id) == (
            "notification",
            "favourite",
            mine.id,
        )
    finally:
        # Closing blocks until the reader thread wakes up (the next heartbeat); the server's
        # shutdown ends the stream anyway.
        threading.Thread(target=handle.close, daemon=True).start()


async def test_mastodon_py_streams_the_user_timeline(live_server: LiveServer):
    alice = await live_server.create_login("alice")
    bob = await live_server.create_login("bob")
    await asyncio.to_thread(_mastodon_py_scenario, live_server.url, alice, bob)


async def test_a_member_domain_block_keeps_that_domain_off_the_streams(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, carol = await member(alpha, "alice"), await member(alpha, "carol")
    bob = await member(beta, "bob")
    await follow_remote(network, carol, bob)  # so that bob's posts reach alpha
    await alpha.pool.execute(
        "INSERT INTO account_domain_blocks (account_id, domain) VALUES ($1, 'beta.test')",
        alice.account_id,
    )
    public = await open_sse(alpha.client, "/api/v1/streaming/public", alice.token)
    follower = await open_sse(alpha.client, "/api/v1/streaming/public", carol.token)
    try:
        original = await post(bob, "hello from a blocked domain")
        await network.drain()
        name, update = await follower.next()
        assert (name, update["uri"]) == ("update", original["uri"])
        sentinel = await post(alice, "alice is still here")
        name, update = await public.next()
        assert (name, update["id"]) == ("update", sentinel["id"])
    finally:
        public.close()
        follower.close()
