"""Open streams end when the right to read them ends, whichever process withdraws it.

Each stream here is served by one app (its own pool and hub, its own LISTEN connection) while
the token is revoked or the member shut out by another writer: a second app on the same
database, or a separate OS process. Migration 0012's triggers carry the news; the stream must
be gone within `WITHIN` seconds, and the old token must not open a new one.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from server.app import create_app
from server.state import POOL
from server.streaming.hub import HUB, Refused
from server.streaming.sse import SseSink
from server.streaming.streams import Grant
from tests.api import api
from tests.members import PASSWORD
from tests.test_streaming import EventStream, Socket, expect_update, follow, open_sse, say

WITHIN = 1.0

# A staff action run by another OS process: through the same service as the admin API, or
# (`delete`: only rejecting a pending member deletes a local account there) straight to storage.
MODERATE = """
import asyncio, sys
from server.usecases import moderation
from storage import admin_accounts
from storage.db import create_pool

async def main(dsn, actor_id, account_id, action):
    pool = await create_pool(dsn, max_size=2)
    try:
        if action == "delete":
            await admin_accounts.delete_account(pool, int(account_id))
        else:
            await moderation.moderate(pool, actor_id=int(actor_id), actor_role="admin",
                                      account_id=int(account_id), action=action)
    finally:
        await pool.close()

asyncio.run(main(*sys.argv[1:]))
"""


# -- helpers --------------------------------------------------------------------------------------


async def app_token(client, username: str) -> tuple[dict[str, Any], str]:
    """A registered application and a token it got for `username` with the password grant."""
    response = await client.post(
        "/api/v1/apps",
        data={"client_name": "Streamer", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    )
    app = await response.json()
    assert response.status == 200, app
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": username,
            "password": PASSWORD,
            "scope": "read",
        },
    )
    body = await response.json()
    assert response.status == 200, body
    return app, body["access_token"]


async def revoke(client, app: dict[str, Any], token: str) -> None:
    response = await client.post(
        "/oauth/revoke",
        data={"token": token, "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )
    assert response.status == 200, await response.text()


async def open_socket(client, token: str, stream: str = "user") -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/api/v1/streaming", params={"stream": stream}, protocols=(token,))
    # A message answered proves the subscription is registered.
    await Socket(ws).send(type="subscribe", stream=stream)
    return ws


async def socket_update(ws: aiohttp.ClientWebSocketResponse, status_id: str) -> None:
    message = await Socket(ws).next()
    assert (message["event"], message["payload"]["id"]) == ("update", status_id), message


async def sse_ended(stream: EventStream, within: float = WITHIN) -> None:
    """The response ends within `within` seconds (heartbeats and events before that are read)."""

    async def drain() -> None:
        while await stream.response.content.readline():
            pass

    await asyncio.wait_for(drain(), within)


async def socket_revoked(ws: aiohttp.ClientWebSocketResponse, within: float = WITHIN) -> None:
    """The server closes the socket within `within` seconds with 1008 (policy violation)."""

    async def closing() -> aiohttp.WSMessage:
        while True:
            message = await ws.receive()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return message

    message = await asyncio.wait_for(closing(), within)
    assert message.type == WSMsgType.CLOSE, message
    assert message.data == WSCloseCode.POLICY_VIOLATION
    assert message.extra == "Access revoked"


async def refused(client, token: str, status: int) -> None:
    """Neither transport opens a stream with `token`: `status` and a JSON error."""
    response = await client.get(
        "/api/v1/streaming/user", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == status, await response.text()
    assert "error" in await response.json()
    with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
        await client.ws_connect("/api/v1/streaming", params={"stream": "user"}, protocols=(token,))
    assert handshake.value.status == status


async def moderate_elsewhere(dsn: str, actor_id: int, account_id: int, action: str) -> None:
    """Run a staff action in a separate OS process and wait for it (and its commit)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MODERATE,
        dsn,
        str(actor_id),
        str(account_id),
        action,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


# -- revocation -----------------------------------------------------------------------------------


async def test_revoking_a_token_ends_its_streams_on_another_process(
    client, make_member, aiohttp_client, db_dsn, config
):
    """Streams served by a second app; the token revoked through the first. The member's other
    token keeps its streams (positive control)."""
    server = await aiohttp_client(create_app(config, db_dsn))
    alice, bob = await make_member("alice"), await make_member("bob")
    await follow(client, alice, bob)
    app, doomed = await app_token(client, "alice")
    _, kept = await app_token(client, "alice")

    sse = await open_sse(server, "/api/v1/streaming/user", doomed)
    ws = await open_socket(server, doomed)
    kept_sse = await open_sse(server, "/api/v1/streaming/user", kept)
    kept_ws = await open_socket(server, kept)
    try:
        local = await say(client, bob, "for this server only", local_only=True)
        await expect_update(sse, local["id"])
        await socket_update(ws, local["id"])
        await expect_update(kept_sse, local["id"])
        await socket_update(kept_ws, local["id"])

        await revoke(client, app, doomed)
        await sse_ended(sse)
        await socket_revoked(ws)
        await refused(server, doomed, 401)

        after = await say(client, bob, "still streaming for the other token", local_only=True)
        await expect_update(kept_sse, after["id"])
        await socket_update(kept_ws, after["id"])
    finally:
        for stream in (sse, kept_sse):
            stream.close()
        for socket in (ws, kept_ws):
            await socket.close()


async def test_deleting_the_application_ends_its_streams(client, make_member):
    alice = await make_member("alice")
    app, token = await app_token(client, "alice")
    sse = await open_sse(client, "/api/v1/streaming/public", token)
    ws = await open_socket(client, token, "public")
    kept = await open_sse(client, "/api/v1/streaming/public", alice.token)
    try:
        await client.server.app[POOL].execute(
            "DELETE FROM oauth_applications WHERE client_id = $1", app["client_id"]
        )
        await sse_ended(sse)
        await socket_revoked(ws)
        await refused(client, token, 401)
        posted = await say(client, alice, "the app's streams are gone; mine is not")
        await expect_update(kept, posted["id"])
    finally:
        sse.close()
        kept.close()
        await ws.close()


# -- the member shut out, by another OS process ---------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("suspend", 403), ("disable", 403)])
async def test_a_staff_action_in_another_process_ends_the_members_streams(
    client, make_member, db_dsn, action, status
):
    admin = await make_member("staff", role="admin")
    alice, bob = await make_member("alice"), await make_member("bob")
    _, second = await app_token(client, "alice")
    streams = [
        await open_sse(client, "/api/v1/streaming/user", alice.token),
        await open_sse(client, "/api/v1/streaming/public/local", second),
    ]
    sockets = [await open_socket(client, alice.token), await open_socket(client, second, "public")]
    bystander = await open_sse(client, "/api/v1/streaming/public", bob.token)
    try:
        await moderate_elsewhere(db_dsn, admin.account_id, alice.account_id, action)
        await asyncio.gather(*(sse_ended(s) for s in streams))
        await asyncio.gather(*(socket_revoked(ws) for ws in sockets))
        for token in (alice.token, second):
            await refused(client, token, status)
        posted = await say(client, bob, "bob was not suspended")
        await expect_update(bystander, posted["id"])
    finally:
        for stream in (*streams, bystander):
            stream.close()
        for ws in sockets:
            await ws.close()


async def test_deleting_the_account_in_another_process_ends_its_streams(
    client, make_member, db_dsn
):
    admin, alice = await make_member("staff", role="admin"), await make_member("alice")
    sse = await open_sse(client, "/api/v1/streaming/public", alice.token)
    ws = await open_socket(client, alice.token, "public")
    try:
        await moderate_elsewhere(db_dsn, admin.account_id, alice.account_id, "delete")
        await sse_ended(sse)
        await socket_revoked(ws)
        await refused(client, alice.token, 401)
    finally:
        sse.close()
        await ws.close()


# -- no announcement lost -------------------------------------------------------------------------


async def test_a_grant_withdrawn_before_the_stream_registers_is_refused(client, make_member):
    """A revocation committed between authentication and registration was announced to
    nobody: the hub checks the grant once the connection is registered."""
    alice = await make_member("alice")
    await app_token(client, "alice")
    pool = client.server.app[POOL]
    token_id = await pool.fetchval(
        "UPDATE oauth_access_tokens SET revoked_at = now()"
        " WHERE user_id = $1 AND application_id IS NOT NULL RETURNING id",
        alice.user_id,
    )
    hub = client.server.app[HUB]
    with pytest.raises(Refused):
        await hub.admit(SseSink(), Grant(token_id, alice.account_id))
    await hub.admit(SseSink(), Grant(await live_token_id(pool, alice), alice.account_id))


async def test_streams_are_checked_again_after_the_listen_connection_returns(client, make_member):
    """A revocation announced while the hub was not listening is caught when it reconnects."""
    alice = await make_member("alice")
    app, token = await app_token(client, "alice")
    sse = await open_sse(client, "/api/v1/streaming/public", token)
    kept = await open_sse(client, "/api/v1/streaming/public", alice.token)
    pool = client.server.app[POOL]
    try:
        async with pool.acquire() as conn, conn.transaction():
            # Nobody hears this one: the session's triggers are off.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "UPDATE oauth_access_tokens SET revoked_at = now() WHERE application_id ="
                " (SELECT id FROM oauth_applications WHERE client_id = $1)",
                app["client_id"],
            )
        dropped = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %kith_stream%'"
        )
        assert dropped == 1
        await sse_ended(sse, within=5.0)
        posted = await say(client, alice, "the other stream survived the reconnection")
        await expect_update(kept, posted["id"])
    finally:
        sse.close()
        kept.close()


async def live_token_id(pool, member) -> int:
    return await pool.fetchval(
        "SELECT id FROM oauth_access_tokens WHERE user_id = $1 AND revoked_at IS NULL"
        " AND application_id IS NULL",
        member.user_id,
    )


# -- blocks and mutes re-filter open streams ------------------------------------------------------


@pytest.mark.parametrize("change", ["alice blocks bob", "bob blocks alice", "alice mutes bob"])
async def test_a_block_or_mute_made_while_streaming_stops_the_authors_posts(
    client, make_member, change
):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    for target in (bob, carol):
        await follow(client, alice, target)
    home = await open_sse(client, "/api/v1/streaming/user", alice.token)
    public = await open_sse(client, "/api/v1/streaming/public", alice.token)
    ws = await open_socket(client, alice.token, "public")
    try:
        before = await say(client, bob, "before #kith")
        await expect_update(home, before["id"])
        await expect_update(public, before["id"])
        await socket_update(ws, before["id"])

        actor, verb, target = change.split()
        who = {"alice": alice, "bob": bob}
        path = f"/api/v1/accounts/{who[target].account_id}/{verb.removesuffix('s')}"
        await api(client, who[actor], "POST", path)

        await say(client, bob, "after #kith")
        # carol boosts bob's earlier post: a boost of an original alice may not see.
        await api(client, carol, "POST", f"/api/v1/statuses/{before['id']}/reblog")
        sentinel = await say(client, carol, "carol is still here")
        await expect_update(home, sentinel["id"])
        await expect_update(public, sentinel["id"])
        await socket_update(ws, sentinel["id"])
    finally:
        home.close()
        public.close()
        await ws.close()


async def test_a_boost_of_a_post_the_viewer_may_not_read_never_arrives(client, make_member):
    """carol's boost of bob's followers-only post reaches alice's home feed (written directly:
    the API refuses such a boost, a remote server's Announce need not); alice follows carol,
    not bob, so neither the boost nor the post may be streamed to her. Two guards stand in the
    way: `viewers_shown` checks the original, and `render_statuses` leaves such a boost out."""
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await follow(client, alice, carol)
    home = await open_sse(client, "/api/v1/streaming/user", alice.token)
    try:
        private = await say(client, bob, "followers only", visibility="private")
        pool = client.server.app[POOL]
        async with pool.acquire() as conn, conn.transaction():
            boost = await conn.fetchval(
                "INSERT INTO statuses (uri, account_id, local, visibility, reblog_of_id)"
                " VALUES ('https://kith.test/s/boost', $1, true, 'public', $2) RETURNING id",
                carol.account_id,
                int(private["id"]),
            )
            await conn.execute(
                "INSERT INTO home_feed (account_id, status_id, author_account_id)"
                " SELECT a, $1, $2 FROM unnest($3::bigint[]) a",
                boost,
                carol.account_id,
                [carol.account_id, alice.account_id],
            )
        sentinel = await say(client, carol, "carol's own post")
        await expect_update(home, sentinel["id"])
    finally:
        home.close()
