"""Blocks and mutes through the client API."""

from __future__ import annotations

from server.state import POOL
from tests.schemas import assert_matches
from tests.test_statuses import post


async def call(client, member, path: str, **params):
    response = await client.post(path, json=params, headers=member.headers)
    body = await response.json()
    if response.status == 200:
        assert_matches("relationship", body)
    return response.status, body


async def home_ids(client, member) -> list[str]:
    response = await client.get("/api/v1/timelines/home", headers=member.headers)
    return [status["id"] for status in await response.json()]


async def test_block_severs_follows_both_ways_and_hides_statuses(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await call(client, alice, f"/api/v1/accounts/{bob.account_id}/follow")
    await call(client, bob, f"/api/v1/accounts/{alice.account_id}/follow")
    bobs = await post(client, bob, "from bob")
    assert bobs["id"] in await home_ids(client, alice)

    status, rel = await call(client, alice, f"/api/v1/accounts/{bob.account_id}/block")
    assert status == 200
    assert rel["blocking"] is True and rel["following"] is False and rel["followed_by"] is False
    assert bobs["id"] not in await home_ids(client, alice)
    response = await client.get(f"/api/v1/statuses/{bobs['id']}", headers=alice.headers)
    assert response.status == 404
    # Bob cannot follow back while blocked.
    status, _ = await call(client, bob, f"/api/v1/accounts/{alice.account_id}/follow")
    assert status == 403

    response = await client.get("/api/v1/blocks", headers=alice.headers)
    assert [a["id"] for a in await response.json()] == [str(bob.account_id)]

    status, rel = await call(client, alice, f"/api/v1/accounts/{bob.account_id}/unblock")
    assert status == 200 and rel["blocking"] is False
    response = await client.get("/api/v1/blocks", headers=alice.headers)
    assert await response.json() == []


async def test_mute_hides_from_home_without_unfollowing(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await call(client, alice, f"/api/v1/accounts/{bob.account_id}/follow")
    bobs = await post(client, bob, "from bob")

    status, rel = await call(
        client, alice, f"/api/v1/accounts/{bob.account_id}/mute", notifications=False
    )
    assert status == 200
    assert rel["muting"] is True and rel["muting_notifications"] is False
    assert rel["following"] is True
    assert bobs["id"] not in await home_ids(client, alice)
    response = await client.get("/api/v1/mutes", headers=alice.headers)
    assert [a["id"] for a in await response.json()] == [str(bob.account_id)]

    status, rel = await call(client, alice, f"/api/v1/accounts/{bob.account_id}/unmute")
    assert rel["muting"] is False
    assert bobs["id"] in await home_ids(client, alice)


async def test_expired_mutes_no_longer_count(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await call(client, alice, f"/api/v1/accounts/{bob.account_id}/mute", duration=3600)
    pool = client.server.app[POOL]
    await pool.execute("UPDATE mutes SET expires_at = now() - interval '1 second'")
    response = await client.get("/api/v1/mutes", headers=alice.headers)
    assert await response.json() == []


async def test_bad_targets_and_scopes(client, make_member):
    alice = await make_member("alice")
    reader = await make_member("reader", scopes=("read",))
    status, body = await call(client, alice, f"/api/v1/accounts/{alice.account_id}/block")
    assert status == 403 and "yourself" in body["error"]
    status, _ = await call(client, alice, "/api/v1/accounts/424242/mute")
    assert status == 404
    status, _ = await call(client, reader, f"/api/v1/accounts/{alice.account_id}/block")
    assert status == 403
    response = await client.get("/api/v1/blocks")
    assert response.status == 401
