"""Following: follow and unfollow, locked accounts and follow requests, relationships, and the
followers / following lists."""

from __future__ import annotations

from typing import Any

import pytest

from server.state import POOL, URLS
from server.usecases.statuses import create_status
from tests.schemas import assert_matches
from tests.test_accounts import next_link, ok

NOT_FOUND = {"error": "Record not found"}
NOT_ALLOWED = {"error": "This action is not allowed"}


async def follow(client, member, target, **body: Any):
    return await client.post(
        f"/api/v1/accounts/{target.account_id}/follow", json=body, headers=member.headers
    )


async def relationship(client, member, target) -> dict[str, Any]:
    data = await ok(
        await client.get(
            "/api/v1/accounts/relationships",
            params={"id[]": str(target.account_id)},
            headers=member.headers,
        )
    )
    assert len(data) == 1
    assert_matches("relationship", data[0])
    return data[0]


async def counts(client, member) -> tuple[int, int]:
    data = await ok(await client.get(f"/api/v1/accounts/{member.account_id}"))
    return data["followers_count"], data["following_count"]


async def notification_types(client, member) -> list[tuple[str, int]]:
    rows = await client.server.app[POOL].fetch(
        "SELECT type, from_account_id FROM notifications WHERE account_id = $1 ORDER BY id",
        member.account_id,
    )
    return [(row["type"], row["from_account_id"]) for row in rows]


async def lock(client, member, locked: bool = True) -> None:
    await ok(
        await client.patch(
            "/api/v1/accounts/update_credentials", json={"locked": locked}, headers=member.headers
        )
    )


# -- follow and unfollow -------------------------------------------------------------------------


async def test_follow_and_unfollow(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    data = await ok(await follow(client, alice, bob))
    assert_matches("relationship", data)
    assert data["id"] == str(bob.account_id)
    assert (data["following"], data["showing_reblogs"], data["notifying"]) == (True, True, False)
    assert (data["requested"], data["followed_by"], data["languages"]) == (False, False, None)
    assert await counts(client, bob) == (1, 0)
    assert await counts(client, alice) == (0, 1)
    assert await notification_types(client, bob) == [("follow", alice.account_id)]
    assert (await relationship(client, bob, alice))["followed_by"] is True

    # Following again changes only the options given, and counts nothing twice.
    data = await ok(await follow(client, alice, bob, reblogs=False, notify=True))
    assert (data["following"], data["showing_reblogs"], data["notifying"]) == (True, False, True)
    data = await ok(await follow(client, alice, bob, languages=["en", "de"]))
    assert (data["showing_reblogs"], data["notifying"], data["languages"]) == (
        False,
        True,
        ["en", "de"],
    )
    assert await counts(client, bob) == (1, 0)

    resp = await client.post(f"/api/v1/accounts/{bob.account_id}/unfollow", headers=alice.headers)
    data = await ok(resp)
    assert_matches("relationship", data)
    assert (data["following"], data["showing_reblogs"], data["notifying"]) == (False, False, False)
    assert await counts(client, bob) == (0, 0)
    assert await counts(client, alice) == (0, 0)
    assert await notification_types(client, bob) == []
    # Unfollowing again is fine.
    resp = await client.post(f"/api/v1/accounts/{bob.account_id}/unfollow", headers=alice.headers)
    assert (await ok(resp))["following"] is False


async def test_following_fills_and_unfollowing_empties_the_home_feed(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    app = client.server.app
    earlier = await create_status(app[POOL], app[URLS], author_id=bob.account_id, text="earlier")
    hidden = await create_status(
        app[POOL], app[URLS], author_id=bob.account_id, text="@alice psst", visibility="direct"
    )

    async def home() -> list[int]:
        rows = await app[POOL].fetch(
            "SELECT status_id FROM home_feed WHERE account_id = $1 AND author_account_id = $2",
            alice.account_id,
            bob.account_id,
        )
        return [row["status_id"] for row in rows]

    before = await home()
    assert earlier["id"] not in before
    await ok(await follow(client, alice, bob))
    after = await home()
    assert earlier["id"] in after
    assert set(after) - set(before) == {earlier["id"]}  # never someone's direct messages
    assert hidden["id"] not in set(after) - set(before)

    await ok(
        await client.post(f"/api/v1/accounts/{bob.account_id}/unfollow", headers=alice.headers)
    )
    assert await home() == []


async def test_follow_errors(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    resp = await follow(client, alice, alice)
    assert (resp.status, await resp.json()) == (
        403,
        {"error": "Following your own account is not allowed"},
    )
    for bad_id in ("12345", "abc"):
        resp = await client.post(f"/api/v1/accounts/{bad_id}/follow", headers=alice.headers)
        assert (resp.status, await resp.json()) == (404, NOT_FOUND)
    resp = await follow(client, alice, bob, reblogs="maybe")
    assert resp.status == 422
    resp = await follow(client, alice, bob, languages="en")
    assert (await ok(resp))["languages"] == ["en"]
    resp = await follow(client, alice, bob, languages=[1])
    assert resp.status == 422

    reader = await make_member("reader", scopes=("read",))
    resp = await follow(client, reader, bob)
    assert (resp.status, await resp.json()) == (
        403,
        {"error": "This action is outside the authorized scopes"},
    )
    resp = await client.post(
        f"/api/v1/accounts/{bob.account_id}/follow", headers={"Authorization": "Bearer wrong"}
    )
    assert (resp.status, await resp.json()) == (401, {"error": "The access token is invalid"})
    resp = await client.post(f"/api/v1/accounts/{bob.account_id}/unfollow")
    assert resp.status == 401
    legacy = await make_member("legacy", scopes=("follow",))
    await ok(await follow(client, legacy, bob))


@pytest.mark.parametrize("blocker", ["target", "follower"])
async def test_blocks_either_way_forbid_following(client, make_member, blocker):
    alice, bob = await make_member("alice"), await make_member("bob")
    source, target = (bob, alice) if blocker == "target" else (alice, bob)
    await client.server.app[POOL].execute(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        source.account_id,
        target.account_id,
    )
    resp = await follow(client, alice, bob)
    assert (resp.status, await resp.json()) == (403, NOT_ALLOWED)
    assert await counts(client, bob) == (0, 0)


async def test_suspended_target_is_not_found(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await client.server.app[POOL].execute(
        "UPDATE accounts SET suspended_at = now() WHERE id = $1", bob.account_id
    )
    resp = await follow(client, alice, bob)
    assert (resp.status, await resp.json()) == (404, NOT_FOUND)


# -- locked accounts and follow requests ---------------------------------------------------------


async def test_locked_account_authorizes_a_request(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await lock(client, bob)
    data = await ok(await follow(client, alice, bob, reblogs=False))
    assert (data["following"], data["requested"], data["showing_reblogs"]) == (False, True, False)
    assert await counts(client, bob) == (0, 0)
    assert await notification_types(client, bob) == [("follow_request", alice.account_id)]
    assert (await relationship(client, bob, alice))["requested_by"] is True
    me = await ok(await client.get("/api/v1/accounts/verify_credentials", headers=bob.headers))
    assert me["source"]["follow_requests_count"] == 1

    resp = await client.get("/api/v1/follow_requests", headers=bob.headers)
    requests = await ok(resp)
    assert [account["id"] for account in requests] == [str(alice.account_id)]
    for account in requests:
        assert_matches("account", account)
    assert "Link" in resp.headers

    resp = await client.post(
        f"/api/v1/follow_requests/{alice.account_id}/authorize", headers=bob.headers
    )
    data = await ok(resp)
    assert_matches("relationship", data)
    assert (data["id"], data["followed_by"], data["requested_by"]) == (
        str(alice.account_id),
        True,
        False,
    )
    mine = await relationship(client, alice, bob)
    assert (mine["following"], mine["requested"], mine["showing_reblogs"]) == (True, False, False)
    assert await counts(client, bob) == (1, 0)
    assert await notification_types(client, bob) == [("follow", alice.account_id)]
    assert await ok(await client.get("/api/v1/follow_requests", headers=bob.headers)) == []

    resp = await client.post(
        f"/api/v1/follow_requests/{alice.account_id}/authorize", headers=bob.headers
    )
    assert (resp.status, await resp.json()) == (404, NOT_FOUND)


async def test_locked_account_rejects_a_request(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await lock(client, bob)
    await ok(await follow(client, alice, bob))
    resp = await client.post(
        f"/api/v1/follow_requests/{alice.account_id}/reject", headers=bob.headers
    )
    data = await ok(resp)
    assert_matches("relationship", data)
    assert (data["followed_by"], data["requested_by"]) == (False, False)
    mine = await relationship(client, alice, bob)
    assert (mine["following"], mine["requested"]) == (False, False)
    assert await notification_types(client, bob) == []
    assert await counts(client, bob) == (0, 0)

    for path in (f"{alice.account_id}/reject", "abc/authorize", "12345/reject"):
        resp = await client.post(f"/api/v1/follow_requests/{path}", headers=bob.headers)
        assert (resp.status, await resp.json()) == (404, NOT_FOUND)


async def test_follow_requests_scopes(client, make_member):
    writer = await make_member(scopes=("write",))
    resp = await client.get("/api/v1/follow_requests", headers=writer.headers)
    assert resp.status == 403
    reader = await make_member(scopes=("read",))
    resp = await client.post("/api/v1/follow_requests/1/authorize", headers=reader.headers)
    assert resp.status == 403
    resp = await client.get("/api/v1/follow_requests")
    assert resp.status == 401


async def test_unfollow_withdraws_a_pending_request(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await lock(client, bob)
    await ok(await follow(client, alice, bob))
    data = await ok(
        await client.post(f"/api/v1/accounts/{bob.account_id}/unfollow", headers=alice.headers)
    )
    assert (data["following"], data["requested"]) == (False, False)
    assert await notification_types(client, bob) == []
    assert await ok(await client.get("/api/v1/follow_requests", headers=bob.headers)) == []


async def test_unlocking_accepts_pending_requests(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await lock(client, carol)
    await ok(await follow(client, alice, carol))
    await ok(await follow(client, bob, carol))
    await lock(client, carol, locked=False)
    assert await counts(client, carol) == (2, 0)
    for member in (alice, bob):
        assert (await relationship(client, member, carol))["following"] is True


# -- relationships -------------------------------------------------------------------------------


async def test_relationships_before_and_after(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    query = [
        ("id[]", str(bob.account_id)),
        ("id[]", str(carol.account_id)),
        ("id[]", "12345"),
        ("id[]", "junk"),
        ("id[]", str(bob.account_id)),
    ]
    url = "/api/v1/accounts/relationships"
    before = await ok(await client.get(url, params=query, headers=alice.headers))
    assert [r["id"] for r in before] == [str(bob.account_id), str(carol.account_id)]
    for row in before:
        assert_matches("relationship", row)
        assert not any(value is True for value in row.values())

    await ok(await follow(client, alice, bob))
    await ok(await follow(client, carol, alice))
    await client.server.app[POOL].execute(
        "INSERT INTO mutes (account_id, target_account_id) VALUES ($1, $2)",
        alice.account_id,
        carol.account_id,
    )
    after = await ok(await client.get(url, params=query, headers=alice.headers))
    for row in after:
        assert_matches("relationship", row)
    with_bob, with_carol = after
    assert (with_bob["following"], with_bob["followed_by"]) == (True, False)
    assert (with_carol["following"], with_carol["followed_by"]) == (False, True)
    assert (with_carol["muting"], with_carol["muting_notifications"]) == (True, True)

    single = await ok(
        await client.get(url, params={"id": str(bob.account_id)}, headers=alice.headers)
    )
    assert [r["id"] for r in single] == [str(bob.account_id)]
    assert await ok(await client.get(url, headers=alice.headers)) == []


async def test_relationships_need_a_member_with_read_follows(client, make_member):
    resp = await client.get("/api/v1/accounts/relationships", params={"id[]": "1"})
    assert resp.status == 401
    writer = await make_member(scopes=("write",))
    resp = await client.get(
        "/api/v1/accounts/relationships", params={"id[]": "1"}, headers=writer.headers
    )
    assert resp.status == 403


# -- followers and following ---------------------------------------------------------------------


async def test_followers_and_following_paginate(client, make_member):
    star = await make_member("star")
    fans = [await make_member(f"fan{n}") for n in range(3)]
    for fan in fans:
        await ok(await follow(client, fan, star))

    resp = await client.get(f"/api/v1/accounts/{star.account_id}/followers", params={"limit": 2})
    first = await ok(resp)
    for account in first:
        assert_matches("account", account)
    assert [a["username"] for a in first] == ["fan2", "fan1"]
    assert 'rel="prev"' in resp.headers["Link"]
    resp = await client.get(next_link(resp))
    assert [a["username"] for a in await ok(resp)] == ["fan0"]
    resp = await client.get(next_link(resp))
    assert await ok(resp) == []
    assert "Link" not in resp.headers

    following = await ok(await client.get(f"/api/v1/accounts/{fans[0].account_id}/following"))
    assert [a["username"] for a in following] == ["star"]
    assert_matches("account", following[0])
    assert following[0]["followers_count"] == 3


async def test_hidden_collections_are_empty_except_to_the_owner(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    await ok(await follow(client, alice, bob))
    await ok(
        await client.patch(
            "/api/v1/accounts/update_credentials",
            json={"hide_collections": True},
            headers=bob.headers,
        )
    )
    await ok(await follow(client, bob, alice))
    for which in ("followers", "following"):
        url = f"/api/v1/accounts/{bob.account_id}/{which}"
        assert await ok(await client.get(url)) == []
        assert await ok(await client.get(url, headers=alice.headers)) == []
        own = await ok(await client.get(url, headers=bob.headers))
        assert [a["username"] for a in own] == ["alice"]
    # The counts stay public, as in Mastodon.
    assert await counts(client, bob) == (1, 1)


async def test_collections_are_empty_to_those_the_owner_blocks(client, make_member):
    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    await ok(await follow(client, carol, bob))
    await client.server.app[POOL].execute(
        "INSERT INTO blocks (account_id, target_account_id) VALUES ($1, $2)",
        bob.account_id,
        alice.account_id,
    )
    url = f"/api/v1/accounts/{bob.account_id}/followers"
    assert await ok(await client.get(url, headers=alice.headers)) == []
    assert len(await ok(await client.get(url))) == 1
