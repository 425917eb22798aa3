"""Authorized fetch ("secure mode") and the audience gate for GETs (`federation.fetch_gate`):
who may fetch what over ActivityPub, checked with real signatures between real instances and a
scripted signing peer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.endpoints import actors
from federation.fetch import FetchError, fetch_json, fetch_object
from federation.fetch_gate import GatedRoutes
from federation.signatures import sign_request
from server.usecases import domain_blocks, federation_settings
from tests.federation_harness import Instance, Network
from tests.inbox_peer import Peer, fixture_keypair
from tests.test_domain_blocks import admin_of
from tests.test_federation_e2e import (
    find_in_home,
    follow_remote,
    home,
    lookup,
    member,
    post,
)

AP = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def set_authorized_fetch(instance: Instance, on: bool = True) -> None:
    await federation_settings.change(instance.pool, authorized_fetch=on, actor_id=None)


async def fetch(
    instance: Instance,
    url: str,
    *,
    peer: Peer | None = None,
    signer: str | None = None,
    key: int = 0,
    accept: str = AP,
) -> tuple[int, Any, Any]:
    """GET `url` (on `instance`), signed as `signer` of `peer` when given: (status, headers,
    JSON body or None)."""
    headers = {"Accept": accept}
    if peer is not None:
        signer = signer or peer.actor()
        headers |= sign_request("GET", url, body=None, key=peer.signing_key(signer, key))
    async with instance.federation.http.get(url, headers=headers, allow_redirects=False) as r:
        text = await r.text()
        body = await r.json(content_type=None) if text and r.status != 302 else None
        return r.status, r.headers, body


@pytest.fixture
async def peer(network: Network):
    started = await Peer.start(network)
    yield started
    await started.server.close()


async def alpha_with_posts(network: Network) -> tuple[Instance, Any, dict[str, str]]:
    """alpha.test with alice and one post of each kind; returns their URIs by kind."""
    alpha = await network.start("alpha.test")
    alice = await member(alpha, "alice")
    uris = {
        "public": (await post(alice, "hello world"))["uri"],
        "private": (await post(alice, "for my followers", visibility="private"))["uri"],
        "local": (await post(alice, "only here", local_only=True))["uri"],
    }
    return alpha, alice, uris


def document_urls(uris: dict[str, str]) -> list[str]:
    actor = "http://alpha.test/users/alice"
    return [
        f"{actor}/outbox",
        f"{actor}/outbox?page=true",
        f"{actor}/followers",
        f"{actor}/followers?page=1",
        f"{actor}/following",
        f"{actor}/collections/featured",
        uris["public"],
        f"{uris['public']}/activity",
    ]


# -- unsigned requests ----------------------------------------------------------------------------


async def test_unsigned_fetches_get_401_in_authorized_fetch_mode(network):
    alpha, _, uris = await alpha_with_posts(network)
    for url in document_urls(uris):
        status, headers, _ = await fetch(alpha, url)
        assert status == 200, url
        assert headers["Vary"] == "Accept, Signature", url

    await set_authorized_fetch(alpha)
    for url in document_urls(uris):
        status, headers, body = await fetch(alpha, url)
        assert status == 401, url
        assert body == {"error": "Request not signed"}, url
        assert headers["Vary"] == "Accept, Signature", url
        assert headers["Content-Type"].startswith("application/json")
    # HEAD goes through the same gate.
    async with alpha.federation.http.head(uris["public"], headers={"Accept": AP}) as response:
        assert response.status == 401


async def test_the_instance_actor_and_a_minimal_actor_stay_open(network, peer):
    alpha, _, uris = await alpha_with_posts(network)
    _, _, full = await fetch(alpha, "http://alpha.test/users/alice")
    await set_authorized_fetch(alpha)

    status, headers, instance_actor = await fetch(alpha, "http://alpha.test/actor")
    assert status == 200
    assert instance_actor["type"] == "Application"
    assert instance_actor["publicKey"]["owner"] == "http://alpha.test/actor"
    assert headers["Vary"] == "Accept, Signature"

    status, headers, minimal = await fetch(alpha, "http://alpha.test/users/alice")
    assert status == 200
    assert headers["Vary"] == "Accept, Signature"
    assert set(minimal) == set(actors.MINIMAL_ACTOR_FIELDS)
    assert minimal["publicKey"] == full["publicKey"]
    assert minimal["inbox"] == full["inbox"]
    assert "summary" in full and "followers" in full

    status, _, signed = await fetch(alpha, "http://alpha.test/users/alice", peer=peer)
    assert status == 200
    assert signed == full

    # Browsers, WebFinger and NodeInfo are not ActivityPub fetches.
    status, _, _ = await fetch(alpha, "http://alpha.test/users/alice", accept="text/html")
    assert status == 302
    status, _, _ = await fetch(alpha, uris["public"], accept="text/html")
    assert status == 302
    status, _, finger = await fetch(
        alpha,
        "http://alpha.test/.well-known/webfinger?resource=acct:alice@alpha.test",
        accept="application/jrd+json",
    )
    assert status == 200 and finger["subject"] == "acct:alice@alpha.test"
    status, _, _ = await fetch(alpha, "http://alpha.test/nodeinfo/2.0", accept="*/*")
    assert status == 200


async def test_a_signed_fetch_is_served(network, peer):
    alpha, _, uris = await alpha_with_posts(network)
    await set_authorized_fetch(alpha)
    for url in document_urls(uris):
        status, headers, _ = await fetch(alpha, url, peer=peer)
        assert status == 200, url
        assert headers["Vary"] == "Accept, Signature"
    # RFC 9421 works as well as draft-cavage.
    url = uris["public"]
    headers = {"Accept": AP} | sign_request(
        "GET", url, body=None, key=peer.signing_key(peer.actor()), scheme="rfc9421"
    )
    async with alpha.federation.http.get(url, headers=headers) as response:
        assert response.status == 200
        assert (await response.json(content_type=None))["id"] == url


# -- bad signatures and refused domains -----------------------------------------------------------


async def test_a_bad_signature_is_401_in_authorized_fetch_mode_and_ignored_otherwise(network, peer):
    alpha, _, uris = await alpha_with_posts(network)
    assert fixture_keypair(1) != fixture_keypair(0)
    # Off: served as to anyone unsigned.
    status, _, note = await fetch(alpha, uris["public"], peer=peer, key=1)
    assert status == 200 and note["id"] == uris["public"]

    await set_authorized_fetch(alpha)
    for url in (uris["public"], "http://alpha.test/users/alice"):
        status, headers, body = await fetch(alpha, url, peer=peer, key=1)
        assert status == 401, url
        assert body["error"] == "signature does not verify"
        assert headers["Vary"] == "Accept, Signature"
    # A malformed signature is refused too.
    headers = {"Accept": AP, "Signature": 'keyId="http://peer.test/users/ana#main-key"'}
    async with alpha.federation.http.get(uris["public"], headers=headers) as response:
        assert response.status in (400, 401)
        assert "error" in await response.json(content_type=None)


@pytest.mark.parametrize("authorized_fetch", [False, True])
async def test_a_suspended_domain_gets_403_and_its_key_is_never_fetched(
    network, peer, authorized_fetch
):
    alpha, _, uris = await alpha_with_posts(network)
    await set_authorized_fetch(alpha, authorized_fetch)
    signer = peer.actor()
    await domain_blocks.create_block(
        alpha.pool, "peer.test", {"severity": "suspend"}, actor_id=None
    )
    for url in [*document_urls(uris), "http://alpha.test/users/alice", "http://alpha.test/actor"]:
        status, headers, body = await fetch(alpha, url, peer=peer, signer=signer)
        assert status == 403, url
        assert body == {"error": "Your domain is not allowed to federate with this instance"}
        assert headers["Vary"] == "Accept, Signature"
    assert peer.server.requests_to("/users/ana") == []


async def forgotten_by_gate(instance, host: str, within: float = 5.0) -> None:
    """Wait until the instance's gate cache has dropped its decision on `host`: the allow's
    NOTIFY reaches the cache's LISTEN connection a moment after the commit."""
    deadline = asyncio.get_running_loop().time() + within
    while host in instance.federation.gate:
        assert asyncio.get_running_loop().time() < deadline, f"the gate still remembers {host}"
        await asyncio.sleep(0.01)


async def test_allowlist_mode_refuses_signed_fetches_from_other_domains(network, peer):
    alpha, _, uris = await alpha_with_posts(network)
    await federation_settings.change(alpha.pool, mode="allowlist", actor_id=None)
    # Allowlist mode implies authorized fetch.
    status, _, _ = await fetch(alpha, uris["public"])
    assert status == 401
    status, _, _ = await fetch(alpha, uris["public"], peer=peer)
    assert status == 403
    assert peer.server.requests_to("/users/ana") == []
    await domain_blocks.create_allow(alpha.pool, "peer.test", actor_id=None)
    await forgotten_by_gate(alpha, "peer.test")
    status, _, note = await fetch(alpha, uris["public"], peer=peer)
    assert status == 200 and note["id"] == uris["public"]


# -- who sees what --------------------------------------------------------------------------------


async def test_a_followers_server_reads_followers_only_posts_and_a_stranger_does_not(network):
    alpha, alice, uris = await alpha_with_posts(network)
    beta = await network.start("beta.test")
    gamma = await network.start("gamma.test")
    bob = await member(beta, "bob")
    await set_authorized_fetch(alpha)
    await follow_remote(network, bob, alice)
    private = (await post(alice, "followers only, after the follow", visibility="private"))["uri"]
    await network.drain()
    assert (await find_in_home(bob, private))["visibility"] == "private"

    # beta signs its fetches as its instance actor: one of its accounts follows alice.
    for uri in (uris["private"], private):
        note = await fetch_object(beta.federation, uri)
        assert note["id"] == uri
        assert note["to"] == ["http://alpha.test/users/alice/followers"]
        with pytest.raises(FetchError) as refused:
            await fetch_object(gamma.federation, uri)
        assert refused.value.status == 404

    outbox = "http://alpha.test/users/alice/outbox"
    assert (await fetch_json(beta.federation, outbox))["totalItems"] == 3
    assert (await fetch_json(gamma.federation, outbox))["totalItems"] == 1
    page = await fetch_json(gamma.federation, f"{outbox}?page=true")
    assert [item["object"]["id"] for item in page["orderedItems"]] == [uris["public"]]

    # Once alice blocks bob (which ends his follow), beta reads her followers-only posts no more.
    bob_on_alpha = await lookup(alice, bob.acct)
    await alice.post(f"/api/v1/accounts/{bob_on_alpha['id']}/block")
    await network.drain()
    with pytest.raises(FetchError) as refused:
        await fetch_object(beta.federation, private)
    assert refused.value.status == 404


async def test_a_mentioned_server_reads_a_direct_post(network, peer):
    alpha, alice, _ = await alpha_with_posts(network)
    await set_authorized_fetch(alpha)
    ana = peer.actor()
    other = peer.actor("/users/other")
    peer.server.serve_webfinger("ana", ana)
    remote = await lookup(alice, "ana@peer.test")
    assert remote["acct"] == "ana@peer.test"
    direct = (await post(alice, "@ana@peer.test just you", visibility="direct"))["uri"]
    status, _, note = await fetch(alpha, direct, peer=peer, signer=other)
    assert status == 200 and note["id"] == direct
    stranger = await Peer.start(network, "stranger.test")
    try:
        status, _, _ = await fetch(alpha, direct, peer=stranger)
        assert status == 404
    finally:
        await stranger.server.close()


async def test_local_only_posts_are_never_served_to_a_signed_remote(network, peer):
    alpha, alice, uris = await alpha_with_posts(network)
    beta = await network.start("beta.test")
    bob = await member(beta, "bob")
    await follow_remote(network, bob, alice)
    local = (await post(alice, "local, followers too", local_only=True))["uri"]
    await network.drain()
    assert local not in [status["uri"] for status in await home(bob)]
    for authorized_fetch in (False, True):
        await set_authorized_fetch(alpha, authorized_fetch)
        for uri in (uris["local"], local):
            with pytest.raises(FetchError) as refused:
                await fetch_object(beta.federation, uri)
            assert refused.value.status == 404
            status, _, _ = await fetch(alpha, f"{uri}/activity", peer=peer)
            assert status == 404
        page = await fetch_json(beta.federation, "http://alpha.test/users/alice/outbox?page=true")
        served = {item["object"]["id"] for item in page["orderedItems"]}
        assert served == {uris["public"], uris["private"]}


# -- between instances ----------------------------------------------------------------------------


async def test_two_instances_in_authorized_fetch_mode_federate(network):
    alpha = await network.start("alpha.test")
    beta = await network.start("beta.test")
    alice, bob = await member(alpha, "alice"), await member(beta, "bob")
    for instance in (alpha, beta):
        root = await admin_of(instance)
        settings = await root.call(
            "PUT", "/api/v1/admin/federation", json={"authorized_fetch": True}
        )
        assert settings["authorized_fetch"] is True
        assert (await fetch(instance, f"{instance.base_url}/users/{root.username}/outbox"))[
            0
        ] == 401

    remote_bob = await lookup(alice, bob.acct)
    assert remote_bob["acct"] == "bob@beta.test"
    await follow_remote(network, alice, bob)
    await follow_remote(network, bob, alice)
    original = await post(bob, "secure hello", visibility="private")
    await network.drain()
    assert (await find_in_home(alice, original["uri"]))["visibility"] == "private"
    reply = await post(
        alice,
        "@bob@beta.test hi back",
        in_reply_to_id=(await find_in_home(alice, original["uri"]))["id"],
    )
    await network.drain()
    assert (await find_in_home(bob, reply["uri"]))["in_reply_to_id"] == original["id"]

    # A note fetched by URL (search with resolve), which beta serves only to signed requests.
    public = await post(bob, "look me up")
    found = await alice.get("/api/v2/search", q=public["uri"], resolve="true", type="statuses")
    assert [status["uri"] for status in found["statuses"]] == [public["uri"]]


# -- one gate for every route ---------------------------------------------------------------------


async def test_every_activitypub_get_route_passes_the_gate(network):
    alpha = await network.start("alpha.test")
    routes = [
        route
        for route in alpha.app.router.routes()
        if route.method in ("GET", "HEAD")
        and getattr(route.handler, "__module__", "") == actors.__name__
    ]
    assert len(routes) >= 2 * 8
    assert all(hasattr(route.handler, "__wrapped__") for route in routes)
    assert isinstance(actors.routes, GatedRoutes)
    with pytest.raises(TypeError):
        GatedRoutes().post("/users/{username}/outbox")
