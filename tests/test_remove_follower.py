"""`POST /api/v1/accounts/:id/remove_from_followers`: a member ends someone's follow of them,
locally (counters, the follower's home feed) and across instances (a Reject of the Follow)."""

from __future__ import annotations

from server.state import POOL, URLS
from server.usecases.follows import follow
from server.usecases.statuses import create_status
from tests.api import api
from tests.schemas import assert_matches
from tests.test_federation_e2e import follow_remote, lookup, relationship, two_instances


async def test_remove_a_local_follower(client, make_member):
    alice, bob = await make_member("alice"), await make_member("bob")
    app = client.server.app
    await follow(app[POOL], alice.account_id, bob.account_id)
    status = await create_status(app[POOL], app[URLS], author_id=bob.account_id, text="hi")
    home = await api(client, alice, "GET", "/api/v1/timelines/home")
    assert str(status["id"]) in [s["id"] for s in home]

    path = f"/api/v1/accounts/{alice.account_id}/remove_from_followers"
    response = await client.post(path, headers=bob.headers)
    assert response.status == 200, await response.text()
    rel = await response.json()
    assert_matches("relationship", rel)
    assert (rel["id"], rel["followed_by"], rel["following"]) == (
        str(alice.account_id),
        False,
        False,
    )

    assert (await api(client, bob, "GET", f"/api/v1/accounts/{bob.account_id}"))[
        "followers_count"
    ] == 0
    assert (await api(client, alice, "GET", f"/api/v1/accounts/{alice.account_id}"))[
        "following_count"
    ] == 0
    assert await api(client, alice, "GET", "/api/v1/timelines/home") == []
    # Removing someone who does not follow is harmless.
    assert (await client.post(path, headers=bob.headers)).status == 200


async def test_remove_from_followers_needs_write_follows_and_an_account(client, make_member):
    alice = await make_member("alice")
    reader = await make_member("reader", scopes=("read",))
    path = f"/api/v1/accounts/{alice.account_id}/remove_from_followers"
    assert (await client.post(path)).status == 401
    assert (await client.post(path, headers=reader.headers)).status == 403
    missing = "/api/v1/accounts/999/remove_from_followers"
    assert (await client.post(missing, headers=alice.headers)).status == 404


async def test_a_removed_remote_follower_is_rejected(network):
    _, _, alice, bob = await two_instances(network)
    remote_alice = await follow_remote(network, bob, alice)
    assert (await relationship(bob, remote_alice["id"]))["following"] is True
    remote_bob = await lookup(alice, bob.acct)
    assert (await relationship(alice, remote_bob["id"]))["followed_by"] is True

    rel = await alice.post(f"/api/v1/accounts/{remote_bob['id']}/remove_from_followers")
    assert_matches("relationship", rel)
    assert rel["followed_by"] is False
    await network.drain()

    after = await relationship(bob, remote_alice["id"])
    assert (after["following"], after["requested"]) == (False, False)
    assert (await bob.get(f"/api/v1/accounts/{bob.account_id}"))["following_count"] == 0
