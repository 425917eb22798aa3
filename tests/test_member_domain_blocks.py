"""A member's own domain blocks (`/api/v1/domain_blocks`): the list and its pages, bad input, and
what a block does across two instances (timelines, notifications, follows both ways)."""

from __future__ import annotations

from yarl import URL

from tests.test_federation_e2e import (
    find_in_home,
    follow_remote,
    notifications,
    post,
    relationship,
    two_instances,
)

PATH = "/api/v1/domain_blocks"


async def _blocked(client, member, **query) -> tuple[list[str], str]:
    response = await client.get(PATH, params=query, headers=member.headers)
    assert response.status == 200, await response.text()
    return await response.json(), response.headers.get("Link", "")


async def test_block_list_and_unblock_paginate_newest_first(client, make_member):
    alice = await make_member("alice")
    for domain in ("one.example", "TWO.example.", "three.example"):
        response = await client.post(PATH, json={"domain": domain}, headers=alice.headers)
        assert response.status == 200, await response.text()
        assert await response.json() == {}
    # Blocking again is harmless; someone else's blocks are their own.
    assert (await client.post(PATH, data={"domain": "one.example"}, headers=alice.headers)).ok
    assert (await _blocked(client, await make_member("bob")))[0] == []

    domains, link = await _blocked(client, alice)
    assert domains == ["three.example", "two.example", "one.example"]
    first, link = await _blocked(client, alice, limit=2)
    assert first == ["three.example", "two.example"]
    assert 'rel="next"' in link and 'rel="prev"' in link
    next_url = URL(link.split(";")[0].strip("<>"))
    response = await client.get(next_url.path_qs, headers=alice.headers)
    assert await response.json() == ["one.example"]

    response = await client.delete(PATH, params={"domain": "Two.Example"}, headers=alice.headers)
    assert response.status == 200 and await response.json() == {}
    assert (await _blocked(client, alice))[0] == ["three.example", "one.example"]


async def test_domain_blocks_need_scopes_and_a_valid_domain(client, make_member):
    alice = await make_member("alice")
    reader = await make_member("reader", scopes=("read",))
    writer = await make_member("writer", scopes=("write",))
    assert (await client.get(PATH)).status == 401
    assert (await client.get(PATH, headers=writer.headers)).status == 403
    assert (await client.get(PATH, headers=reader.headers)).status == 200
    response = await client.post(PATH, json={"domain": "x.example"}, headers=reader.headers)
    assert response.status == 403
    for body in (
        {},
        {"domain": ""},
        {"domain": "not a domain"},
        {"domain": ["a"]},
        {"domain": "x" * 300},
    ):
        response = await client.post(PATH, json=body, headers=alice.headers)
        assert response.status == 422, (body, await response.text())
        assert "error" in await response.json()
    response = await client.delete(PATH, headers=alice.headers)
    assert response.status == 422 and "error" in await response.json()
    assert (await _blocked(client, alice))[0] == []


async def test_blocking_a_domain_hides_it_and_severs_follows(network):
    _, _, alice, bob = await two_instances(network)
    remote_bob = await follow_remote(network, alice, bob)
    remote_alice = await follow_remote(network, bob, alice)
    alices = await post(alice, "hello from alice")
    await network.drain()
    bobs = await post(bob, "hello from bob #kithtest")
    await network.drain()
    bob_id = (await find_in_home(alice, bobs["uri"]))["id"]
    # bob favourites alice's post: alice is notified.
    await bob.post(f"/api/v1/statuses/{(await find_in_home(bob, alices['uri']))['id']}/favourite")
    await network.drain()
    assert [n["type"] for n in await notifications(alice)] == ["favourite", "follow"]
    for path in (
        "/api/v1/timelines/home",
        "/api/v1/timelines/public",
        "/api/v1/timelines/tag/kithtest",
    ):
        assert bob_id in [s["id"] for s in await alice.get(path)], path

    assert await alice.post(PATH, domain="Beta.Test") == {}
    await network.drain()

    rel = await relationship(alice, remote_bob["id"])
    assert (rel["domain_blocking"], rel["following"], rel["followed_by"]) == (True, False, False)
    for path in (
        "/api/v1/timelines/home",
        "/api/v1/timelines/public",
        "/api/v1/timelines/tag/kithtest",
    ):
        assert bob_id not in [s["id"] for s in await alice.get(path)], path
    assert await notifications(alice) == []
    # beta heard of both: bob follows nobody on alpha any more, nor does alpha follow him.
    rel = await relationship(bob, remote_alice["id"])
    assert (rel["following"], rel["followed_by"]) == (False, False)
    assert (await alice.get(f"/api/v1/accounts/{alice.account_id}"))["followers_count"] == 0

    # New mentions from the blocked domain notify nobody.
    await post(bob, f"@{alice.acct} still there?")
    await network.drain()
    assert await notifications(alice) == []

    await alice.call("DELETE", PATH, params={"domain": "beta.test"})
    rel = await relationship(alice, remote_bob["id"])
    assert rel["domain_blocking"] is False and rel["following"] is False
    assert bob_id in [s["id"] for s in await alice.get("/api/v1/timelines/public")]
