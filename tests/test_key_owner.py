"""A key speaks for an actor only when the actor's own document, served by the actor's host,
names that key, and the key is on that same host.

peer.test plays the actor's host; evil.test a server trying to have its key taken for peer.test's
actor, either by serving a key document that claims the actor as `owner`, or because the actor
document (peer.test's, perhaps edited by a member there) names a key id on evil.test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from federation import remote_accounts
from federation.keycache import KeyCache
from federation.parse.actors import parse_actor
from federation.signatures import SignatureError, sign_request, verify_request
from tests.federation_harness import Instance
from tests.inbox_peer import Peer, fixture_keypair, kith_fixture, peer_fixture  # noqa: F401
from tests.remote_server import RemoteServer

EVIL_KEY = "http://evil.test/key#main"
NOTE = "http://peer.test/users/x/statuses/1"


@pytest.fixture
async def evil(network) -> AsyncIterator[RemoteServer]:
    server = await RemoteServer("evil.test").start(network.resolver)
    yield server
    await server.close()


def _serve_evil_key(evil: RemoteServer, owner: str, key: int) -> None:
    """evil.test's key document, claiming `owner`, holding test key `key`."""
    evil.serve(
        "/key",
        {"id": "http://evil.test/key", "owner": owner, "publicKeyPem": fixture_keypair(key)[1]},
    )


async def _deliver(kith: Instance, activity: dict, key_id: str, key: int) -> tuple[int, dict]:
    """POST `activity` to kith's shared inbox, signed with test key `key` under `key_id`."""
    body = json.dumps(activity).encode()
    url = f"{kith.base_url}/inbox"
    signing = KeyCache().signing_key(key_id, fixture_keypair(key)[0])
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_request("POST", url, body=body, key=signing)
    async with kith.federation.http.post(url, data=body, headers=headers) as response:
        return response.status, await response.json()


def test_an_actor_document_naming_a_key_on_another_host_keeps_no_key():
    doc = {
        "id": "https://a.test/users/x",
        "type": "Person",
        "preferredUsername": "x",
        "inbox": "https://a.test/users/x/inbox",
        "publicKey": {
            "id": "https://evil.test/key#main",
            "owner": "https://a.test/users/x",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nx",
        },
    }
    actor = parse_actor(doc)
    assert (actor.public_key_id, actor.public_key_pem) == (None, None)

    own = {**doc["publicKey"], "id": "https://a.test/users/x#main-key"}
    actor = parse_actor({**doc, "publicKey": [doc["publicKey"], own]})
    assert actor.public_key_id == "https://a.test/users/x#main-key"


async def test_a_key_on_another_host_named_by_the_actor_is_refused(kith, peer: Peer, evil):
    actor = peer.actor(
        "/users/x",
        publicKey={
            "id": EVIL_KEY,
            "owner": "http://peer.test/users/x",
            "publicKeyPem": fixture_keypair(1)[1],
        },
    )
    _serve_evil_key(evil, actor, key=1)

    status, body = await _deliver(kith, peer.activity("Like", NOTE, actor=actor), EVIL_KEY, 1)

    assert status == 401, body
    assert await remote_accounts.load_key(kith.federation, EVIL_KEY, False) is None
    row = await kith.pool.fetchrow("SELECT public_key_id FROM accounts WHERE uri = $1", actor)
    assert row["public_key_id"] is None
    assert await kith.pool.fetchval("SELECT count(*) FROM inbox_activities") == 0


async def test_a_key_document_claiming_an_owner_that_does_not_name_it_is_refused(
    kith, peer: Peer, evil
):
    actor = peer.actor("/users/x")  # names its own key, http://peer.test/users/x#main-key
    _serve_evil_key(evil, actor, key=1)

    status, body = await _deliver(kith, peer.activity("Like", NOTE, actor=actor), EVIL_KEY, 1)

    assert status == 401, body
    assert evil.requests_to("/key"), "the key document was fetched and its claim checked"
    row = await kith.pool.fetchrow(
        "SELECT public_key_id, public_key_pem FROM accounts WHERE uri = $1", actor
    )
    assert row["public_key_id"] == f"{actor}#main-key"
    assert row["public_key_pem"] == fixture_keypair(0)[1]
    # The actor's own key still works.
    status, _ = await peer.deliver(kith, peer.activity("Like", NOTE, actor=actor))
    assert status == 202


async def test_a_stored_key_on_another_host_is_refused(kith, peer: Peer, evil):
    """A row stored before actor documents were checked for this still names evil.test's key."""
    actor = peer.actor("/users/x")
    assert (await peer.deliver(kith, peer.activity("Like", NOTE, actor=actor)))[0] == 202
    await kith.pool.execute(
        "UPDATE accounts SET public_key_id = $1, public_key_pem = $2 WHERE uri = $3",
        EVIL_KEY,
        fixture_keypair(1)[1],
        actor,
    )

    status, body = await _deliver(kith, peer.activity("Like", NOTE, actor=actor), EVIL_KEY, 1)

    assert status == 401, body
    assert "not on the host" in body["error"]
    assert evil.seen == []


async def test_verification_refuses_a_loader_vouching_for_a_key_on_another_host():
    private, public = fixture_keypair(0)
    key_id = "https://evil.test/key#main"
    url = "https://kith.test/inbox"
    body = b"{}"
    headers = sign_request("POST", url, body=body, key=KeyCache().signing_key(key_id, private))

    async def load_key(wanted: str, refresh: bool) -> tuple[str, str]:
        return "https://a.test/users/x", public

    with pytest.raises(SignatureError) as caught:
        await verify_request("POST", url, headers, body, keys=KeyCache(), load_key=load_key)
    assert caught.value.status == 401

    async def same_host(wanted: str, refresh: bool) -> tuple[str, str]:
        return "https://evil.test/users/x", public

    verified = await verify_request("POST", url, headers, body, keys=KeyCache(), load_key=same_host)
    assert verified.owner_uri == "https://evil.test/users/x"
